"""What each step of the pipeline cost: calls, cache hits, prompt and completion tokens, call latency.

Why per step: a kept pair's price is spread over the summary, questions, answers, hardening and verification calls,
and the levers that lower it (fewer questions per kept pair, a compact answer format, batched verification) each
act on one step. Completion tokens alone hide the biggest cost on a CPU: prompt tokens re-read by every
per-question call. Calls and tokens count cache hits (what the rows cost to produce); `latency_s` sums the
round-trip time of the calls this run made, a cache hit costing 0 s, so a resumed run shows only what it paid for,
and `cache_hits` says how much was not paid. With one request in flight (the embedded server) latency is the
server's time; with several, each call's latency includes its wait.

Not counted: calls of a document that failed (its partial result is not kept), truncation retries inside the
endpoint and resume primes (all in `llm_usage`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from clinqa_synth.llm.protocol import Completion

# the generation.json keys, one per measure; merge sums each of them over shards
COST_KEYS = (
    "calls_by_step",
    "cache_hits_by_step",
    "prompt_tokens_by_step",
    "completion_tokens_by_step",
    "latency_s_by_step",
)


@dataclass
class StepCosts:
    """Per-step counters of one document's (or one run's) LLM calls, cache hits included."""

    calls: Counter = field(default_factory=Counter)
    cache_hits: Counter = field(default_factory=Counter)
    prompt_tokens: Counter = field(default_factory=Counter)
    completion_tokens: Counter = field(default_factory=Counter)
    latency_s: Counter = field(default_factory=Counter)

    def add(self, step: str, completion: Completion) -> None:
        """Count one finished call of `step` (a format retry is a call too: it was paid for)."""
        self.calls[step] += 1
        self.cache_hits[step] += completion.cached
        self.prompt_tokens[step] += completion.usage.prompt_tokens
        self.completion_tokens[step] += completion.usage.completion_tokens
        self.latency_s[step] += completion.latency_s

    def update(self, other: StepCosts) -> None:
        """Add another document's costs (a run's totals are the sum over its documents)."""
        for mine, theirs in zip(self._counters(), other._counters(), strict=True):
            mine.update(theirs)

    def as_json(self) -> dict[str, dict[str, Any]]:
        """The `*_by_step` entries of generation.json (latency rounded to 0.1 s)."""
        return {key: rounded(dict(counter)) for key, counter in zip(COST_KEYS, self._counters(), strict=True)}

    def _counters(self) -> tuple[Counter, ...]:
        return self.calls, self.cache_hits, self.prompt_tokens, self.completion_tokens, self.latency_s


def rounded(values: dict[str, Any]) -> dict[str, Any]:
    """Integers as they are, seconds to 0.01 s (sums of floats would otherwise print as 0.30000000000000004).

    0.01 s is the precision every run records its wall time in; rounding a sum coarser than its parts would turn
    two shards' 0.01 s into a merged 0.0 s.
    """
    return {key: round(value, 2) if isinstance(value, float) else value for key, value in values.items()}
