"""Cost before cost: project a whole input's LLM calls, tokens and wall time from its first documents.

A lab about to send 200k MIMIC notes to a shared GPU server wants to know, after a few documents, whether the job
is an afternoon or a month. The projection is linear in documents — crude, but the per-document cost of this
pipeline is steady (a fixed number of calls per section) and it is stated with its basis. Cache hits count as
calls (a fresh run would make them) and their tokens as tokens.
"""

from __future__ import annotations

from typing import Any

ESTIMATE_AFTER_DOCUMENTS = 3  # the first projection; the run's end records one from every document it did


def project(done: int, whole_input: int, usage: dict[str, Any], elapsed_s: float) -> dict[str, Any]:
    """Calls, tokens and wall time for `whole_input` documents, from `done` documents' `usage` and `elapsed_s`."""
    if done <= 0:
        return {}
    scale = whole_input / done
    calls = usage.get("calls", 0) + usage.get("cache_hits", 0)
    completion = usage.get("completion_tokens", 0) + usage.get("cached_completion_tokens", 0)
    fresh = usage.get("calls", 0)
    return {
        "basis_documents": done,
        "documents": whole_input,
        "calls": round(calls * scale),
        "prompt_tokens": round((usage.get("prompt_tokens", 0) + usage.get("cached_prompt_tokens", 0)) * scale),
        "completion_tokens": round(completion * scale),
        # wall time only from documents whose calls reached the server: cached documents take no time
        "wall_s": round(elapsed_s * scale, 1) if fresh else None,
    }


def describe(estimate: dict[str, Any]) -> str:
    """One line for the terminal."""
    if not estimate:
        return ""
    wall = estimate["wall_s"]
    when = "unknown (all from the cache so far)" if wall is None else _duration(wall)
    return (
        f"estimate for all {estimate['documents']} documents (from the first {estimate['basis_documents']}): "
        f"{estimate['calls']} LLM calls, {estimate['prompt_tokens']} prompt + {estimate['completion_tokens']} "
        f"completion tokens, wall time {when} at this concurrency"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
