"""The LLM layer: one narrow chat protocol, an OpenAI-compatible endpoint client, a cache, an embedded server."""

from clinqa_synth.llm.protocol import (
    ChatClient,
    Completion,
    ContextOverflowError,
    FatalLLMError,
    LLMError,
    Message,
    TransientLLMError,
    TruncatedCompletionError,
    Usage,
)

__all__ = [
    "ChatClient",
    "Completion",
    "ContextOverflowError",
    "FatalLLMError",
    "LLMError",
    "Message",
    "TransientLLMError",
    "TruncatedCompletionError",
    "Usage",
]
