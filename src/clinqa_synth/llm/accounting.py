"""Counting what LLM work cost: calls, cache hits, retries, tokens and latency.

A generation run can take hours against a shared server; these numbers drive the live
progress line (tokens/s) and the end-of-run summary, and they are what the dataset card reports.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields

from clinqa_synth.llm.protocol import Completion


@dataclass
class Accounting:
    """Mutable counters shared by the endpoint client and the cache in front of it."""

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    primes: int = 0  # one-token calls that restored a server's prompt cache after a resume
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0  # part of completion_tokens a thinking model spent before its answer
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0  # what the cache hits cost when they were generated (for tokens per pair)
    latency_s: float = 0.0
    server_restarts: int = 0  # embedded server crashes recovered by a restart (not build problems)
    started_at: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_call(self, completion: Completion) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += completion.usage.prompt_tokens
            self.completion_tokens += completion.usage.completion_tokens
            self.reasoning_tokens += completion.usage.reasoning_tokens
            self.latency_s += completion.latency_s

    def record_cache_hit(self, completion: Completion | None = None) -> None:
        with self._lock:
            self.cache_hits += 1
            if completion is not None:
                self.cached_completion_tokens += completion.usage.completion_tokens
                self.cached_prompt_tokens += completion.usage.prompt_tokens

    def record_prime(self) -> None:
        with self._lock:
            self.primes += 1

    def record_server_restart(self) -> None:
        with self._lock:
            self.server_restarts += 1

    def record_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started_at

    @property
    def completion_tokens_per_s(self) -> float:
        elapsed = self.elapsed_s
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0

    def summary(self) -> dict[str, float | int]:
        """Plain numbers for logs, the run summary and the dataset card."""
        data: dict[str, float | int] = {
            f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_") and f.name != "started_at"
        }
        data["wall_s"] = round(self.elapsed_s, 2)
        data["latency_s"] = round(self.latency_s, 2)
        data["completion_tokens_per_s"] = round(self.completion_tokens_per_s, 2)
        return data
