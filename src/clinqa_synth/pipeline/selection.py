"""Choosing which placed QA pairs to keep: K of N per section, with pluggable strategies.

The paper keeps the first K valid pairs; other strategies are registered here by name so a
method YAML can pick one (`selection:`) without code changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Strategy = Callable[[Sequence[dict], int], list[dict]]


def first_k(candidates: Sequence[dict], k: int) -> list[dict]:
    """The paper's rule: the first K valid pairs, in question order."""
    return list(candidates[:k])


def answerable_first(candidates: Sequence[dict], k: int) -> list[dict]:
    """Prefer answerable pairs (question order kept within each group)."""
    ordered = [c for c in candidates if not c["is_impossible"]] + [c for c in candidates if c["is_impossible"]]
    return ordered[:k]


def lowest_overlap(candidates: Sequence[dict], k: int) -> list[dict]:
    """Prefer the hardest questions: least lexical overlap with the context first."""
    return sorted(candidates, key=lambda c: c["question_context_overlap"])[:k]


STRATEGIES: dict[str, Strategy] = {
    "first": first_k,
    "answerable_first": answerable_first,
    "shortest_question_overlap": lowest_overlap,
}


def select(candidates: Sequence[dict], k: int, strategy: str = "first") -> list[dict]:
    return STRATEGIES[strategy](candidates, k)
