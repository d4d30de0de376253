"""Talk to any OpenAI-compatible `/v1/chat/completions` server through `huggingface_hub.AsyncInferenceClient`.

TGI (Messages API), vLLM, SGLang, llama.cpp (both servers), Ollama and OpenAI all speak this
one protocol, so this is the only network client in the project. It adds what long generation
runs against shared GPU servers need: bounded concurrency, retries on transient failures only,
fail-fast messages on fatal ones, and per-call accounting.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

from clinqa_synth.llm.accounting import Accounting
from clinqa_synth.llm.protocol import (
    Completion,
    ContextOverflowError,
    FatalLLMError,
    LLMError,
    Message,
    TransientLLMError,
    TruncatedCompletionError,
    Usage,
)
from clinqa_synth.llm.reasoning import reasoning_token_share, split_reasoning
from clinqa_synth.llm.retry import TRANSIENT_STATUS, RetryPolicy, looks_like_context_overflow, parse_retry_after
from clinqa_synth.llm.safety import check_endpoint_allowed, redact, redact_url
from clinqa_synth.llm.server_probe import ServerFacts, probe_server
from clinqa_synth.llm.structured import grammar_fields, request_fields
from clinqa_synth.llm.word_bias import TOKENIZE_ROUTES, token_bias

DEFAULT_CONCURRENCY = 4
API_KEY_ENV_VARS = ("CLINQA_SYNTH_API_KEY", "OPENAI_API_KEY", "HF_TOKEN")


def resolve_api_key(explicit: str | None) -> str | None:
    """The key to send: explicit argument, then the usual environment variables, then the HF login."""
    if explicit:
        return explicit
    for name in API_KEY_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    return None  # AsyncInferenceClient falls back to the local HF login itself


def _is_transport_error(exc: BaseException) -> bool:
    """Connection refused/reset, protocol errors and timeouts from the HTTP stack (httpx or httpx2)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    module = type(exc).__module__
    return (module.startswith("httpx") and bool(names & {"TransportError", "TimeoutException"})) or isinstance(
        exc, (ConnectionError, asyncio.TimeoutError, InferenceTimeoutError)
    )


class _LocalServerClient(AsyncInferenceClient):
    """`AsyncInferenceClient` for the user's own server.

    `huggingface_hub` installs a request hook that refuses *every* URL when `HF_HUB_OFFLINE=1` — the usual
    setting on hospital machines — so the stock client cannot reach a vLLM/TGI/llama.cpp server on the
    same network. Offline mode is about the Hub, not about the server the user named, so this client's
    HTTP session leaves that hook out; status handling (`hf_raise_for_status`) is unchanged.
    """

    async def _get_async_client(self):  # type: ignore[no-untyped-def]
        import httpx2

        if self._async_client is None:
            self._async_client = await self.exit_stack.enter_async_context(httpx2.AsyncClient(follow_redirects=True))
        return self._async_client


class EndpointChat:
    """A :class:`~clinqa_synth.llm.protocol.ChatClient` for one OpenAI-compatible base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout_s: float = 600.0,
        retry: RetryPolicy | None = None,
        structured: str = "none",
        allow_remote: bool = False,
        accounting: Accounting | None = None,
        truncation_retries: int = 1,
        model_id: str | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
    ) -> None:
        check_endpoint_allowed(base_url, allow_remote=allow_remote)
        self.base_url = base_url.rstrip("/")
        if self.base_url.endswith("/v1"):
            self.base_url = self.base_url[: -len("/v1")]
        self._model = model
        self._api_key = resolve_api_key(api_key)
        self._client = _LocalServerClient(base_url=self.base_url, api_key=self._api_key, timeout=timeout_s)
        self._semaphore = asyncio.Semaphore(max(1, concurrency))
        self.concurrency = max(1, concurrency)
        self.retry = retry or RetryPolicy()
        self.structured = structured
        self.accounting = accounting or Accounting()
        self.truncation_retries = truncation_retries
        self._rng = random.Random()
        self._resolved_model: str | None = model_id or model
        # e.g. {"enable_thinking": false} for Qwen3: vLLM, SGLang and llama-server pass it to the chat template
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.server_facts = ServerFacts()  # filled in by preflight()
        self.structured_notice = ""  # what `--structured auto` chose and why, for the run summary
        self._token_ids: dict[str, list[int]] = {}  # tokenize results: a word is tokenized once per run
        self._http: Any = None  # the tokenize route's client, opened on first use

    @property
    def display_url(self) -> str:
        """The endpoint URL with credentials and query removed: the only form ever shown or stored."""
        return redact_url(self.base_url)

    @property
    def model_id(self) -> str:
        return self._resolved_model or self._model or "default"

    @property
    def cache_identity(self) -> str:
        """The model part of cache keys: the served name plus the checkpoint identity the server reported.

        Without the identity a new checkpoint served under the old name would be handed the old answers.
        """
        fingerprint = self.server_facts.fingerprint
        return f"{self.model_id}@{fingerprint}" if fingerprint else self.model_id

    def preflight(self) -> str:
        """Check the endpoint before any document is sent: reachable, credentials accepted, model served.

        Uses `GET /v1/models` (served by TGI, vLLM, SGLang, llama.cpp, Ollama and OpenAI); a server
        without that route is let through and judged by its first chat call. Returns the model id
        used in cache keys.
        """
        import httpx2 as httpx  # huggingface_hub's own HTTP stack

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        url = f"{self.base_url}/v1/models"
        try:
            response = httpx.get(url, headers=headers, timeout=30.0)
        except httpx.TransportError as exc:
            raise FatalLLMError(
                f"cannot reach the LLM endpoint {self.display_url} ({type(exc).__name__}). Is the server running and "
                "is --endpoint its base URL (e.g. http://127.0.0.1:8000)? Nothing was sent."
            ) from None
        if response.status_code in (401, 403):
            raise FatalLLMError(
                f"HTTP {response.status_code} from {self.display_url}: the endpoint rejected the credentials. Pass "
                "--api-key, set CLINQA_SYNTH_API_KEY / HF_TOKEN, or run `hf auth login`."
            )
        served: list[str] = []
        models: Any = None
        if response.status_code == 200:
            try:
                models = response.json()
                served = [str(m["id"]) for m in models.get("data") or [] if m.get("id")]
            except (ValueError, AttributeError, KeyError, TypeError):
                served = []
        if self._model and served and self._model not in served:
            raise FatalLLMError(
                f"model {self._model!r} is not served at {self.display_url}; it serves: {', '.join(served[:10])}. "
                "Fix --model."
            )
        if not self._resolved_model and served:
            self._resolved_model = served[0] if len(served) == 1 or not self._model else self._model

        def get(path: str) -> Any:
            try:
                answer = httpx.get(f"{self.base_url}{path}", headers=headers, timeout=5.0)
                return answer.json() if answer.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                return None

        self.server_facts = probe_server(get, models, self._model)
        if self.structured == "auto":
            self.structured = self.server_facts.dialect
            self.structured_notice = (
                f"{self.server_facts.kind} server detected: structured output as {self.structured}"
                if self.structured != "none"
                else f"server kind {self.server_facts.kind}: no JSON-schema dialect known to work through this client, "
                "so none is sent (outputs are validated and parsed tolerantly); pass --structured to choose one"
            )
        return self.model_id

    @property
    def supports_word_bias(self) -> bool:
        """Whether the server tokenizes on request, so `word_bias` can become its `logit_bias` (llm.word_bias)."""
        return self.server_facts.kind in TOKENIZE_ROUTES

    async def tokenize(self, text: str) -> list[int]:
        """The served model's token ids for `text`, from the server's own tokenize route (memoised per word).

        A failing route stops the run with one clear error instead of failing every document in turn: a server
        announced as tokenizing that does not is a setup problem, and no completion may be stored under a biased
        key without its bias.
        """
        if text not in self._token_ids:
            import httpx2 as httpx

            route, body = TOKENIZE_ROUTES[self.server_facts.kind]
            if self._http is None:
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                self._http = httpx.AsyncClient(timeout=30.0, headers=headers)
            try:
                response = await self._http.post(f"{self.base_url}{route}", json=body(text, self.model_id))
                status = response.status_code
                tokens = response.json()["tokens"] if status == 200 else None
                if not isinstance(tokens, list):
                    raise ValueError(f"HTTP {status}")
                self._token_ids[text] = [int(t) for t in tokens]
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                raise FatalLLMError(
                    f"the {self.server_facts.kind} server at {self.display_url} did not tokenize on {route} "
                    f"({exc or type(exc).__name__}), which `question_word_bias` needs: remove that key from the "
                    "method, or serve the model with llama.cpp, llama-cpp-python or vLLM with that route open"
                ) from None
        return self._token_ids[text]

    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
        grammar: str | None = None,
        word_bias: dict[str, float] | None = None,
    ) -> Completion:
        """One completion; `word_bias` ({word: negative bias}) is sent as `logit_bias` where the server tokenizes."""
        dialect = self._dialect
        if grammar is not None:  # a grammar already fixes the format (it may embed JSON): send no schema with it
            fmt, extra_body = None, grammar_fields(grammar, dialect)
        else:
            fmt, extra_body = request_fields(response_format, dialect)
        extra_body = self._with_template_kwargs(extra_body)
        if word_bias:
            if not self.supports_word_bias:  # the pipeline asks `supports_word_bias` first; a caller that did not
                raise FatalLLMError(
                    f"word_bias needs a server that tokenizes on request; {self.display_url} is "
                    f"{self.server_facts.kind!r} (llama-cpp-python, llama-server and vLLM do)"
                )
            extra_body = {**extra_body, "logit_bias": await token_bias(word_bias, self.tokenize)}
        attempt = 0
        truncations = 0
        async with self._semaphore:
            while True:
                attempt += 1
                started = time.perf_counter()
                try:
                    completion = await self._call_once(messages, temperature, top_p, max_tokens, seed, fmt, extra_body)
                    completion = Completion(
                        text=completion.text,
                        finish_reason=completion.finish_reason,
                        usage=completion.usage,
                        model=completion.model,
                        latency_s=time.perf_counter() - started,
                    )
                    self.accounting.record_call(completion)
                    return completion
                except TruncatedCompletionError:
                    self.accounting.record_failure()
                    truncations += 1
                    if truncations > self.truncation_retries:
                        raise
                    self.accounting.record_retry()
                except TransientLLMError as exc:
                    self.accounting.record_failure()
                    if attempt > self.retry.max_retries:
                        raise TransientLLMError(
                            f"{exc} (gave up after {attempt} tries; the server at {self.display_url} keeps failing — "
                            "check its logs or lower --concurrency)",
                            exc.retry_after,
                        ) from None
                    self.accounting.record_retry()
                    await asyncio.sleep(self.retry.delay(attempt, exc.retry_after, self._rng))

    async def prime(self, messages: list[Message], **params: Any) -> None:
        """Send `messages` for one token only, so the server's KV cache holds their prefix again.

        Used after a resume: llama.cpp reuses the longest common prefix with the previous request,
        and its numerics differ slightly between "prefix reused" and "prompt evaluated whole", which
        can flip a greedy token. Re-playing the previous (cached) call restores the exact server state
        an uninterrupted run had. Best effort: the result is discarded, failures are ignored.
        """
        fmt, extra_body = request_fields(params.get("response_format"), self._dialect)
        extra_body = self._with_template_kwargs(extra_body)
        async with self._semaphore:
            try:
                await self._call_once(
                    messages,
                    params.get("temperature", 0.0),
                    params.get("top_p", 1.0),
                    1,
                    params.get("seed"),
                    fmt,
                    extra_body,
                )
            except LLMError:
                pass  # a one-token completion is "truncated" by design; anything else shows on the real call
        self.accounting.record_prime()

    @property
    def _dialect(self) -> str:
        """The structured-output dialect to send: "auto" before preflight has resolved it sends nothing."""
        return "none" if self.structured == "auto" else self.structured

    def _with_template_kwargs(self, extra_body: dict[str, Any]) -> dict[str, Any]:
        return (
            {**extra_body, "chat_template_kwargs": self.chat_template_kwargs}
            if self.chat_template_kwargs
            else extra_body
        )

    async def _call_once(
        self,
        messages: list[Message],
        temperature: float,
        top_p: float,
        max_tokens: int,
        seed: int | None,
        response_format: dict[str, Any] | None,
        extra_body: dict[str, Any],
    ) -> Completion:
        try:
            output = await self._client.chat_completion(
                messages=list(messages),
                model=self._model,
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                seed=seed,
                response_format=response_format,
                extra_body=extra_body or None,
            )
        except HfHubHTTPError as exc:
            raise self._classify_http_error(exc) from None
        except (json.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            raise TransientLLMError(f"malformed response from {self.display_url}: {type(exc).__name__}") from None
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised when not a network failure
            if _is_transport_error(exc):
                raise TransientLLMError(
                    f"could not reach {self.display_url} ({type(exc).__name__}); is the server running?"
                ) from None
            raise
        choices = getattr(output, "choices", None) or []
        if not choices:
            raise TransientLLMError(f"response from {self.display_url} has no choices")
        choice = choices[0]
        message = choice.message
        content = (message.content if message else None) or ""
        reasoning_field = (message.get("reasoning_content") or message.get("reasoning")) if message else None
        split = split_reasoning(content, reasoning_field if isinstance(reasoning_field, str) else None)
        finish_reason = choice.finish_reason or "stop"
        if finish_reason == "length":
            if split.unfinished or (split.reasoning and not split.answer):
                raise TruncatedCompletionError(
                    f"the model was still reasoning when it reached max_tokens={max_tokens} (finish_reason=length). "
                    "Turn thinking off (--chat-template-kwargs '{\"enable_thinking\": false}' for Qwen3) or raise "
                    "the steps' token limits (method key max_tokens_per_step, or --max-tokens STEP=N)"
                )
            raise TruncatedCompletionError(
                f"the model stopped at max_tokens={max_tokens} before finishing (finish_reason=length); "
                "raise max_tokens in the method config or shorten the input"
            )
        if split.unfinished or not split.answer.strip():
            what = "only reasoning and no answer" if split.reasoning else "an empty completion"
            raise TransientLLMError(f"{what} from {self.display_url}")
        usage = getattr(output, "usage", None)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        details = usage.get("completion_tokens_details") if usage is not None else None
        reported = details.get("reasoning_tokens") if isinstance(details, dict) else None
        return Completion(
            text=split.answer,
            finish_reason=finish_reason,
            usage=Usage(
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=completion_tokens,
                reasoning_tokens=reasoning_token_share(completion_tokens, split, reported),
            ),
            model=str(getattr(output, "model", "") or self.model_id),
        )

    def _classify_http_error(self, exc: HfHubHTTPError) -> Exception:
        response = exc.response
        status = response.status_code if response is not None else 0
        try:
            body = response.text[:500] if response is not None else ""
        except Exception:  # noqa: BLE001 - a streamed/closed body has no text
            body = ""
        body = redact(body, (self._api_key or "",))
        where = self.display_url
        if status in TRANSIENT_STATUS:
            retry_after = parse_retry_after(response.headers.get("retry-after")) if response is not None else None
            return TransientLLMError(f"HTTP {status} from {where}", retry_after)
        if status in (401, 403):
            return FatalLLMError(
                f"HTTP {status} from {where}: the endpoint rejected the credentials. Pass --api-key, set "
                f"CLINQA_SYNTH_API_KEY / HF_TOKEN, or run `hf auth login`."
            )
        if status == 404:
            return FatalLLMError(
                f"HTTP 404 from {where}: no /v1/chat/completions route or unknown model {self._model!r}. "
                "Check --endpoint (the server's base URL) and --model (the served model name, see GET /v1/models). "
                f"Server said: {body.strip()[:200]}"
            )
        if looks_like_context_overflow(status, body):
            return ContextOverflowError(
                f"HTTP {status} from {where}: the prompt does not fit the model's context window. Use a model with a "
                "longer context, raise the server's context size, or lower --max-section-chars. "
                f"Server said: {body.strip()[:200]}"
            )
        return FatalLLMError(f"HTTP {status} from {where}: {body.strip()[:300]}")

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self._client.close()
