"""A persistent, crash-safe cache of chat completions.

LLM time is the cost of this product: a re-run of a finished config must make zero calls and
an interrupted run must resume where it stopped. SQLite in WAL mode gives atomic commits
(a kill -9 loses at most the call in flight), safe concurrent writers across processes, and
integrity checks. The file holds model output quoting patient documents, so it is created
user-only (0600) inside a user-only directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from clinqa_synth.llm.accounting import Accounting
from clinqa_synth.llm.protocol import CallContext, ChatClient, Completion, LLMError, Message, Usage
from clinqa_synth.llm.word_bias import MAPPING_VERSION

CACHE_ENV_VAR = "CLINQA_SYNTH_CACHE"
CACHE_FILE = "completions.sqlite3"
SCHEMA_VERSION = 1
# Part of every cache key; bump when the meaning of a cached completion changes (not for prompt edits:
# the rendered prompt text is itself in the key, so edited prompts miss the cache by construction).
CACHE_PROTOCOL_VERSION = "1"


class CacheCorruptError(LLMError):
    """The cache file is damaged; it is never silently used."""


def default_cache_dir() -> Path:
    """`$CLINQA_SYNTH_CACHE`, else the platform's user cache directory."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else Path(user_cache_dir("clinqa-synth"))


def cache_key(model_id: str, messages: list[Message], params: dict[str, Any], prompt_version: str = "") -> str:
    """A hash of everything that determines a completion: model, messages, sampling parameters, prompt version."""
    payload = json.dumps(
        {"model": model_id, "messages": messages, "params": params, "prompt_version": prompt_version},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CompletionCache:
    """Key → completion store in one SQLite file."""

    def __init__(self, directory: Path | str | None = None, *, check: bool = True) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, stat.S_IRWXU)
        self.path = self.directory / CACHE_FILE
        if not self.path.exists():
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        os.chmod(self.path, stat.S_IRUSR | stat.S_IWUSR)
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=60000")
            if check:
                result = self._db.execute("PRAGMA quick_check").fetchone()
                if not result or result[0] != "ok":
                    raise sqlite3.DatabaseError(str(result))
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
                "finish_reason TEXT NOT NULL, prompt_tokens INTEGER, completion_tokens INTEGER, model TEXT, "
                "created REAL, checksum TEXT NOT NULL)"
            )
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(completions)")}
            if "tag" not in columns:
                self._db.execute("ALTER TABLE completions ADD COLUMN tag TEXT")
            if "reasoning_tokens" not in columns:
                self._db.execute("ALTER TABLE completions ADD COLUMN reasoning_tokens INTEGER")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise CacheCorruptError(
                f"The completion cache {self.path} is damaged ({exc}). Delete it (or run "
                f"`clinqa-synth cache clear --cache-dir {self.directory}`) to rebuild it; finished datasets are "
                "unaffected."
            ) from None

    @staticmethod
    def _checksum(text: str, finish_reason: str) -> str:
        return hashlib.sha256(f"{finish_reason}\x00{text}".encode()).hexdigest()[:16]

    def get(self, key: str) -> Completion | None:
        row = self._db.execute(
            "SELECT text, finish_reason, prompt_tokens, completion_tokens, model, checksum, reasoning_tokens "
            "FROM completions WHERE key=?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        text, finish_reason, prompt_tokens, completion_tokens, model, checksum, reasoning_tokens = row
        if checksum != self._checksum(text, finish_reason):
            raise CacheCorruptError(
                f"Cache entry {key[:12]}… in {self.path} fails its checksum. Delete the cache file to rebuild it."
            )
        return Completion(
            text=text,
            finish_reason=finish_reason,
            usage=Usage(prompt_tokens or 0, completion_tokens or 0, reasoning_tokens or 0),
            model=model or "",
            cached=True,
        )

    def put(self, key: str, completion: Completion, tag: str = "") -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO completions (key, text, finish_reason, prompt_tokens, completion_tokens, model, "
            "created, checksum, tag, reasoning_tokens) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                key,
                completion.text,
                completion.finish_reason,
                completion.usage.prompt_tokens,
                completion.usage.completion_tokens,
                completion.model,
                time.time(),
                self._checksum(completion.text, completion.finish_reason),
                tag,
                completion.usage.reasoning_tokens,
            ),
        )

    def tags(self) -> dict[str, str]:
        """Cache key → tag, for every stored completion."""
        return {key: tag or "" for key, tag in self._db.execute("SELECT key, tag FROM completions")}

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def clear(self) -> None:
        self._db.execute("DELETE FROM completions")

    def close(self) -> None:
        self._db.close()


class CachedChat:
    """A :class:`ChatClient` that answers from the cache when it can and stores every successful call.

    Only completed, validated calls are stored: a failed or truncated call never becomes data.
    `refresh=True` ignores existing entries (and overwrites them); `enabled=False` bypasses the cache.

    `prime_prefix=True` (for a one-request-at-a-time server that reuses the previous prompt's KV
    prefix, like llama-cpp-python) makes a resumed run byte-identical to an uninterrupted one: when
    a call misses the cache right after a cached call *of the same document*, the server never saw
    that cached call, so its KV state differs from the uninterrupted run's — and llama.cpp's logits
    differ slightly between a reused prefix and a prompt evaluated whole, enough to flip greedy
    tokens (measured: same request, different text). The cached call is re-played for one token
    first, which restores that state (measured: identical text).
    """

    def __init__(
        self,
        inner: ChatClient,
        cache: CompletionCache | None,
        *,
        prompt_version: str = "",
        refresh: bool = False,
        accounting: Accounting | None = None,
        prime_prefix: bool = False,
    ) -> None:
        self.inner = inner
        self.prime_prefix = prime_prefix and hasattr(inner, "prime")
        # the last call answered from the cache while no call has reached the server since:
        # (document, messages, params)
        self._unseen: tuple[str, list[Message], dict[str, Any]] | None = None
        self.cache = cache
        self.prompt_version = prompt_version
        self.refresh = refresh
        self.accounting = accounting or getattr(inner, "accounting", None) or Accounting()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    takes_call_context = True  # the pipeline passes `call=` only to clients that say so (user clients may not take it)

    @property
    def identity(self) -> str:
        """The model part of the key: the checkpoint identity the server reported when it reported one."""
        return getattr(self.inner, "cache_identity", None) or self.inner.model_id

    def _key_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Request parameters in the key, plus the chat-template switches sent with every call (when any are)."""
        kwargs = getattr(self.inner, "chat_template_kwargs", None)
        return {**params, "chat_template_kwargs": kwargs} if kwargs else params

    @property
    def supports_grammar(self) -> bool:
        """Whether the server behind accepts a GBNF grammar (extractive constrained decoding)."""
        from clinqa_synth.llm.structured import GRAMMAR_DIALECTS

        return getattr(self.inner, "structured", "none") in GRAMMAR_DIALECTS

    @property
    def supports_word_bias(self) -> bool:
        """Whether the server behind can bias against words (it tokenizes them for `logit_bias`; llm.word_bias)."""
        return bool(getattr(self.inner, "supports_word_bias", False))

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
        call: CallContext | None = None,
    ) -> Completion:
        """A completion from the cache or the server; `call` says which document and step it is for."""
        call = call or CallContext()
        params: dict[str, Any] = {
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "seed": seed,
            "response_format": response_format,
        }
        if grammar is not None:  # only when used, so the keys of calls without a grammar stay as they were
            params["grammar"] = grammar
        key_params = self._key_params(params)
        if word_bias:  # the words, their bias and the mapping's version, not token ids: found again without a tokenizer
            params["word_bias"] = word_bias
            key_params = {**key_params, "word_bias": word_bias, "word_bias_mapping": MAPPING_VERSION}
        key = cache_key(self.identity, messages, key_params, self.prompt_version)
        if self.cache is not None and not self.refresh:
            hit = self.cache.get(key)
            if hit is not None:
                self.accounting.record_cache_hit(hit)
                self._unseen = (call.document, messages, params)
                return hit
        unseen, self._unseen = self._unseen, None
        if self.prime_prefix and unseen is not None and unseen[0] and unseen[0] == call.document:
            await self.inner.prime(unseen[1], **unseen[2])  # type: ignore[attr-defined]
        completion = await self.inner.chat(messages, **params)
        if self.cache is not None:
            self.cache.put(key, completion, call.tag)
        return completion
