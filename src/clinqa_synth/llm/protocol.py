"""The one chat protocol the rest of clinqa-synth depends on.

Everything above the LLM layer (pipeline, CLI) talks to a :class:`ChatClient`; whether the
answer comes from a user's vLLM cluster, the embedded llama.cpp server or the on-disk cache
is invisible to it. Keeping this surface tiny is what lets the pipeline stay pure and testable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    """One chat message in the OpenAI wire format."""

    role: str
    content: str


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the server for one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0  # all generated tokens, reasoning included (what the server's time went on)
    reasoning_tokens: int = 0  # of those, spent thinking before the answer (llm.reasoning); reported or estimated


@dataclass(frozen=True)
class Completion:
    """The text of one successful chat completion plus what we need to account for it."""

    text: str
    finish_reason: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    cached: bool = False
    latency_s: float = 0.0


@dataclass(frozen=True)
class CallContext:
    """Which document and step a call belongs to, passed explicitly with the call (no hidden state).

    The cache stores `tag` beside each completion (so a user, or a test, sees which document's work is done) and
    uses `document` for prefix priming after a resume, which works per document.
    """

    document: str = ""
    step: str = ""

    def at(self, step: str) -> CallContext:
        return replace(self, step=step)

    @property
    def tag(self) -> str:
        return f"{self.document}/{self.step}" if self.step else self.document


@runtime_checkable
class ChatClient(Protocol):
    """Anything that can answer a chat request.

    `response_format` is a plain JSON schema (or None): each implementation translates it into
    the dialect its server understands, and callers must still validate the text they get back.
    Clients whose server accepts a GBNF grammar also take `grammar=` (and say so with a true
    `supports_grammar` attribute); the pipeline passes one only to those. Likewise `word_bias=` ({word: negative
    bias}, the question step's soft bias against the document's words) goes only to clients with a true
    `supports_word_bias` (llm.word_bias).
    """

    @property
    def model_id(self) -> str:
        """A stable identifier of the model behind the client (part of every cache key)."""
        ...

    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion: ...


class LLMError(RuntimeError):
    """Base class of every error the LLM layer raises; the message says what to do."""


class TransientLLMError(LLMError):
    """A failure worth retrying (connection reset, timeout, 429, 5xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalLLMError(LLMError):
    """A failure that retrying cannot fix (bad credentials, unknown model, prompt too long)."""


class ContextOverflowError(FatalLLMError):
    """The prompt does not fit the model's context: fatal for this document only, not for the run."""


class TruncatedCompletionError(LLMError):
    """The server stopped at `max_tokens` (finish_reason == "length"): the text is not usable data."""
