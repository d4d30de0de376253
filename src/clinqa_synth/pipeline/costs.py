"""What each step of the pipeline cost: calls, prompt and completion tokens, server seconds.

Why per step: a kept pair's price is spread over the summary, questions, answers, hardening and verification calls,
and the levers that lower it (fewer questions per kept pair, a compact answer format, batched verification) each
act on one step. Completion tokens alone hide the biggest cost on a CPU: prompt tokens re-read by every
per-question call. `seconds` is the time the server spent on the step's calls in this run (a cache hit costs 0 s),
so a resumed run shows only what it paid for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from clinqa_synth.llm.protocol import Completion

# the generation.json keys, one per measure; merge sums each of them over shards
COST_KEYS = ("calls_by_step", "prompt_tokens_by_step", "completion_tokens_by_step", "seconds_by_step")


@dataclass
class StepCosts:
    """Per-step counters of one document's (or one run's) LLM calls, cache hits included."""

    calls: Counter = field(default_factory=Counter)
    prompt_tokens: Counter = field(default_factory=Counter)
    completion_tokens: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)

    def add(self, step: str, completion: Completion) -> None:
        """Count one finished call of `step` (a format retry is a call too: it was paid for)."""
        self.calls[step] += 1
        self.prompt_tokens[step] += completion.usage.prompt_tokens
        self.completion_tokens[step] += completion.usage.completion_tokens
        self.seconds[step] += completion.latency_s

    def update(self, other: StepCosts) -> None:
        """Add another document's costs (a run's totals are the sum over its documents)."""
        for mine, theirs in zip(self._counters(), other._counters(), strict=True):
            mine.update(theirs)

    def as_json(self) -> dict[str, dict[str, Any]]:
        """The four `*_by_step` entries of generation.json (seconds rounded to 0.1 s)."""
        seconds = {step: round(value, 1) for step, value in self.seconds.items()}
        counters = (self.calls, self.prompt_tokens, self.completion_tokens)
        return dict(zip(COST_KEYS, [*(dict(c) for c in counters), seconds], strict=True))

    def _counters(self) -> tuple[Counter, Counter, Counter, Counter]:
        return self.calls, self.prompt_tokens, self.completion_tokens, self.seconds
