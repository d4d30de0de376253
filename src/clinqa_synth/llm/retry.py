"""Which failures are worth retrying, and how long to wait before the next try.

Retrying a 401 or a prompt that does not fit the context window only wastes the user's GPU
time and hides the real problem, so the classification here is deliberately strict: transient
network and overload failures are retried with exponential backoff and jitter (honouring
Retry-After), everything else fails fast with a message that names the fix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

_CONTEXT_MARKERS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "exceeds the",
    "exceed context",
    "n_ctx",
    "input validation error",
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; `max_retries` counts retries after the first try."""

    max_retries: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to sleep before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        cap = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return (rng or random).uniform(cap / 2, cap)


def parse_retry_after(value: str | None) -> float | None:
    """Parse a Retry-After header: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


def looks_like_context_overflow(status: int, body: str) -> bool:
    """A 400/413/422 whose message says the prompt does not fit the model's context window."""
    lowered = body.lower()
    return status in (400, 413, 422) and any(marker in lowered for marker in _CONTEXT_MARKERS)
