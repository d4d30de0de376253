"""One place that turns user settings into a ready chat client: embedded server or endpoint, cache, accounting.

The CLI, the Python API and the tests all go through :func:`open_llm`, so the safety checks
(remote endpoints), the cache key's model identity and the server's lifetime are handled once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from clinqa_synth.llm.accounting import Accounting
from clinqa_synth.llm.cache import CachedChat, CompletionCache, default_cache_dir
from clinqa_synth.llm.endpoint import DEFAULT_CONCURRENCY, EndpointChat
from clinqa_synth.llm.models import gguf_model_id, resolve_model
from clinqa_synth.llm.pool import EndpointPool
from clinqa_synth.llm.protocol import Completion, Message
from clinqa_synth.llm.retry import RetryPolicy
from clinqa_synth.llm.server import EmbeddedServer, ServerCrashedError
from clinqa_synth.llm.server_exit import ServerExit
from clinqa_synth.llm.server_probe import ServerFacts
from clinqa_synth.llm.structured import DIALECTS
from clinqa_synth.llm.word_bias import TOKENIZE_ROUTES
from clinqa_synth.options import json_object, option

T = TypeVar("T")
logger = logging.getLogger(__name__)


def _endpoints(values: list[str] | None) -> str | list[str] | None:
    """--endpoint, repeated or comma separated → one URL, a pool of URLs, or None (the embedded server)."""
    urls = [url.strip() for value in (values or []) for url in value.split(",") if url.strip()]
    return urls[0] if len(urls) == 1 else (urls or None)


@dataclass
class LLMSettings:
    """Everything a user can say about which LLM to use and how (each field is also its command-line flag)."""

    endpoint: str | list[str] | None = option(
        None,
        "base URL of an OpenAI-compatible server (TGI, vLLM, SGLang, llama.cpp, Ollama); repeat it for several "
        "servers of the same model (least-loaded dispatch). Without it the embedded llama.cpp server is started on "
        "127.0.0.1.",
        action="append",
        parse=_endpoints,
    )  # several URLs serving the same model form a pool
    model: str | None = option(
        None,
        "embedded server: packaged model name (default, small), PATH.gguf or "
        "ORG/REPO/FILE.gguf; with --endpoint: the served model name (default: "
        "$CLINQA_SYNTH_MODEL)",
        env="CLINQA_SYNTH_MODEL",
    )
    api_key: str | None = option(
        None,
        "token for the endpoint (default: $CLINQA_SYNTH_API_KEY, $OPENAI_API_KEY, "
        "$HF_TOKEN, then the HF login). Never written anywhere.",
    )
    concurrency: int | None = option(
        None,
        "requests in flight (default: the server's parallel slots for the embedded server, 4 for endpoints)",
        type=int,
    )
    structured: str = option(
        "auto",
        "how to ask the server for JSON-schema output (auto: the embedded server's "
        "dialect, or the one of the server an endpoint says it is)",
        choices=("auto", *DIALECTS),
    )
    allow_remote_endpoint: bool = option(
        False, "allow an endpoint that is not loopback/private (documents are patient data)", action="store_true"
    )
    cache_dir: Path | None = option(
        None, "completion cache directory (default: $CLINQA_SYNTH_CACHE or the user cache dir)", type=Path
    )
    use_cache: bool = option(
        True, "neither read nor write the completion cache", flag="--no-cache", action="store_false"
    )
    refresh: bool = option(False, "ignore cached completions and overwrite them", action="store_true")
    runtime: str = option(
        "auto",
        "embedded server runtime (auto: llama-server if on PATH)",
        choices=("auto", "llama-cpp-python", "llama-server"),
    )
    n_ctx: int = option(8192, "embedded server context size per slot", type=int)
    parallel: int = option(1, "embedded llama-server parallel slots", type=int)
    timeout_s: float = option(600.0, "seconds per request before it is retried", flag="--timeout", type=float)
    max_retries: int = option(
        6, "retries of a transient failure (5xx, 429, timeouts, resets) before the document fails", type=int
    )
    server_log: Path | None = option(
        None, "embedded server log file (default: embedded-server.log in the cache dir)", type=Path
    )
    chat_template_kwargs: dict[str, Any] | None = option(
        None,
        "sent with every request for the server's chat template, e.g. '{\"enable_thinking\": false}' to turn "
        "Qwen3's thinking off (vLLM, SGLang, llama-server)",
        type=json_object,
        metavar="JSON",
    )


@dataclass
class LLMSession:
    """What an open LLM gives the pipeline: the chat client plus facts for the run summary and card."""

    chat: CachedChat
    endpoint: EndpointChat | EndpointPool | LazyEmbeddedChat
    accounting: Accounting
    endpoint_kind: str
    model_id: str
    remote_allowed: bool
    server: EmbeddedServer | None = field(default=None, repr=False)
    server_facts: dict[str, str] = field(default_factory=dict)  # ServerFacts.public(): kind and identity hash
    notices: list[str] = field(default_factory=list)  # what the run summary should tell the user about the server

    def describe(self) -> dict[str, object]:
        """Provenance safe to publish: no URL, no credentials, no local path."""
        description: dict[str, object] = {
            "endpoint_kind": self.endpoint_kind,
            "model": self.model_id,
            "structured_output": self.endpoint.structured,
            "allow_remote_endpoint": self.remote_allowed,
            **self.server_facts,
        }
        kwargs = getattr(self.endpoint, "chat_template_kwargs", None)
        if kwargs:
            description["chat_template_kwargs"] = kwargs
        return description


def default_server_log(cache_dir: Path | None = None) -> Path:
    """Where the embedded server's log goes: beside the completion cache (a user-private directory)."""
    return (cache_dir or default_cache_dir()) / "embedded-server.log"


class LazyEmbeddedChat:
    """The embedded server's client, started on the first call that misses the cache, and supervised.

    A re-run of a finished config is then served entirely from the cache without loading the model
    (seconds instead of the model's start-up). The cache key's model id comes from the GGUF file,
    so it is known before the server runs.

    Supervision: the server is a child we own, so its death is noticed from its exit status within
    `poll_s`, not after the retry budget of refused connections. A build problem (SIGILL) stops the run
    with the fix; any other crash (e.g. the out-of-memory killer) restarts the server up to
    `max_restarts` times, the interrupted calls are re-sent, and the restart is counted for the summary.
    """

    def __init__(
        self,
        server: EmbeddedServer,
        *,
        concurrency: int,
        timeout_s: float,
        structured: str,
        retry: RetryPolicy,
        accounting: Accounting,
        max_restarts: int = 1,
        poll_s: float = 0.5,
        chat_template_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.server = server
        self.concurrency = concurrency
        self.structured = structured
        self.accounting = accounting
        self.max_restarts = max_restarts
        self.poll_s = poll_s
        self.restarts: list[str] = []  # what each restart recovered from, for the run summary
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self._options = {"timeout_s": timeout_s, "retry": retry, "chat_template_kwargs": self.chat_template_kwargs}
        self._endpoint: EndpointChat | None = None
        self._generation = 0  # bumped by each restart, so concurrent callers restart once
        self._lock = asyncio.Lock()
        self.model_id = gguf_model_id(server.model_path)

    @property
    def display_url(self) -> str:
        return self.server.base_url

    @property
    def supports_word_bias(self) -> bool:
        """Both embedded runtimes tokenize on request (llm.word_bias)."""
        return self.server.runtime in TOKENIZE_ROUTES

    def _connect(self) -> EndpointChat:
        endpoint = EndpointChat(
            self.server.base_url,
            api_key="local",
            concurrency=self.concurrency,
            structured=self.structured,
            accounting=self.accounting,
            model_id=self.model_id,
            **self._options,
        )
        endpoint.server_facts = ServerFacts(self.server.runtime)  # no preflight: we started it, we know its kind
        return endpoint

    async def _ready(self) -> tuple[EndpointChat, int]:
        async with self._lock:
            if self._endpoint is None:
                await asyncio.to_thread(self.server.start)
                self._endpoint = self._connect()
            return self._endpoint, self._generation

    async def _recover(self, generation: int, status: ServerExit) -> None:
        """Restart after a crash (once per crash, whoever notices it first), or raise the crash's message."""
        async with self._lock:
            if generation != self._generation:
                return  # another caller already restarted it
            if status.is_build_problem or len(self.restarts) >= self.max_restarts:
                when = "while serving" if not self.restarts else f"again after {len(self.restarts)} restart(s)"
                raise ServerCrashedError(status.message(when), status)
            self.restarts.append(status.what())
            self.accounting.record_server_restart()
            logger.warning("restarting the embedded server: %s", status.message())
            old, self._endpoint = self._endpoint, None
            if old is not None:
                await old.aclose()
            await asyncio.to_thread(self.server.restart)
            self._endpoint = self._connect()
            self._generation += 1

    async def _supervised(self, send: Callable[[EndpointChat], Awaitable[T]]) -> T:
        """Run one call while watching the child; on a crash recover (or raise) and re-send the call."""
        while True:
            endpoint, generation = await self._ready()
            task = asyncio.ensure_future(send(endpoint))
            status: ServerExit | None = None
            try:
                while True:
                    done, _ = await asyncio.wait({task}, timeout=self.poll_s)
                    status = self.server.exit_status()
                    if done and (status is None or (not task.cancelled() and task.exception() is None)):
                        return task.result()
                    if status is not None or generation != self._generation:
                        break  # crashed, or restarted by another caller: this call's server is gone
            finally:
                if not task.done():
                    task.cancel()
            if status is not None:
                await self._recover(generation, status)

    async def chat(self, messages: list[Message], **params: Any) -> Completion:
        return await self._supervised(lambda endpoint: endpoint.chat(messages, **params))

    async def prime(self, messages: list[Message], **params: Any) -> None:
        await self._supervised(lambda endpoint: endpoint.prime(messages, **params))

    async def aclose(self) -> None:
        if self._endpoint is not None:
            await self._endpoint.aclose()


@contextlib.contextmanager
def open_llm(settings: LLMSettings, *, prompt_version: str = "") -> Iterator[LLMSession]:
    """Start the embedded server when no endpoint is given, build the cached client, and clean up afterwards."""
    accounting = Accounting()
    server: EmbeddedServer | None = None
    try:
        urls = [settings.endpoint] if isinstance(settings.endpoint, str) else list(settings.endpoint or [])
        if not urls:
            model_path = resolve_model(settings.model)
            log = settings.server_log or default_server_log(settings.cache_dir)
            server = EmbeddedServer(
                model_path, runtime=settings.runtime, n_ctx=settings.n_ctx, parallel=settings.parallel, log_path=log
            )
            structured = server.runtime if settings.structured == "auto" else settings.structured
            kind = f"embedded {server.runtime}"
            # llama-cpp-python serves one request at a time; more in flight only queue (and break prefix reuse).
            concurrency = settings.concurrency or (settings.parallel if server.runtime == "llama-server" else 1)
            lazy = LazyEmbeddedChat(
                server,
                concurrency=concurrency,
                timeout_s=settings.timeout_s,
                structured=structured,
                retry=RetryPolicy(max_retries=settings.max_retries),
                accounting=accounting,
                chat_template_kwargs=settings.chat_template_kwargs,
            )
            cache = CompletionCache(settings.cache_dir) if settings.use_cache else None
            # One request at a time reusing the previous prompt's KV prefix (llama-cpp-python; llama-server with
            # one slot): a resumed document must re-play its last cached call first to get the same tokens.
            prime = concurrency == 1
            chat = CachedChat(
                lazy,
                cache,
                prompt_version=prompt_version,
                refresh=settings.refresh,
                accounting=accounting,
                prime_prefix=prime,
            )
            yield LLMSession(
                chat=chat,
                endpoint=lazy,
                accounting=accounting,
                endpoint_kind=kind,
                model_id=lazy.model_id,
                remote_allowed=False,
                server=server,
                server_facts={"server": f"embedded {server.runtime}", "server_identity": lazy.model_id},
            )
            if cache is not None:
                cache.close()
            return
        structured = settings.structured  # "auto": each endpoint's preflight picks its server's dialect
        kind = "external OpenAI-compatible endpoint" + (f" pool of {len(urls)}" if len(urls) > 1 else "")
        endpoints = [
            EndpointChat(
                url,
                model=settings.model,
                api_key=settings.api_key,
                concurrency=settings.concurrency or DEFAULT_CONCURRENCY,
                timeout_s=settings.timeout_s,
                # in a pool a failing endpoint is rested and the request moves on, so retry less on each
                retry=RetryPolicy(max_retries=settings.max_retries if len(urls) == 1 else min(settings.max_retries, 1)),
                structured=structured,
                allow_remote=settings.allow_remote_endpoint,
                accounting=accounting,
                chat_template_kwargs=settings.chat_template_kwargs,
            )
            for url in urls
        ]
        for endpoint_chat in endpoints:
            endpoint_chat.preflight()
        models = {e.cache_identity for e in endpoints}
        if len(models) > 1:
            from clinqa_synth.llm.protocol import FatalLLMError

            raise FatalLLMError(
                f"the endpoints serve different models or checkpoints ({', '.join(sorted(models))}); "
                "a pool needs one model"
            )
        facts = endpoints[0].server_facts
        notices = [n for n in {e.structured_notice for e in endpoints} if n]
        if not facts.fingerprint:
            notices.append(
                f"server identity: the {facts.kind} server reports nothing beyond the served name "
                f"{endpoints[0].model_id!r}, so cached completions are keyed by that name only — after "
                "swapping the checkpoint behind it, run with --refresh or another --cache-dir"
            )
        endpoint: EndpointChat | EndpointPool = endpoints[0] if len(endpoints) == 1 else EndpointPool(endpoints)
        cache = CompletionCache(settings.cache_dir) if settings.use_cache else None
        chat = CachedChat(
            endpoint, cache, prompt_version=prompt_version, refresh=settings.refresh, accounting=accounting
        )
        yield LLMSession(
            chat=chat,
            endpoint=endpoint,
            accounting=accounting,
            endpoint_kind=kind,
            model_id=endpoint.model_id,
            remote_allowed=settings.allow_remote_endpoint,
            server=server,
            server_facts=facts.public(),
            notices=notices,
        )
        if cache is not None:
            cache.close()
    finally:
        if server is not None:
            server.stop()
