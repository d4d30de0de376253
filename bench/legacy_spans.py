# The span aligner as it was before issue 12 (commit 2782c0f), kept only so bench_alignment.py can compare.
"""Placing a model's answer at exact character offsets in its section.

The paper placed answers with `context.index(answer)`, which loses every answer the model
copied with a changed space, case, quote or trailing period, and picks the first of repeated
strings. Here we try, in order: exact → normalised (whitespace, case, quotes, trailing
punctuation, leading filler like "There is", list numbering, de-identification tokens) → fuzzy
(rapidfuzz) above a threshold. Every result is a real substring of the context
(`context[start:end] == text`), and repeated strings resolve to the occurrence whose
surroundings share the most words with the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

from clinqa_synth.text import content_words

MatchKind = Literal["exact", "normalized", "fuzzy"]

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "`": "'", "\u00a0": " "})
_DEID = re.compile(r"\[\*\*.*?\*\*\]")
_LEADING_FILLER = re.compile(
    r"^(?:there\s+(?:is|are|was|were)\s+|the\s+patient\s+(?:has|had|is|was)\s+|it\s+(?:is|was)\s+|"
    r"answer\s*:\s*|\d{1,2}[.)]\s+|[-*•]\s+)",
    re.I,
)
_TRAILING = " .,;:!?\"'"
@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    match: MatchKind


def _normalize_with_map(text: str) -> tuple[str, list[int], list[int]]:
    """Lower-cased, quote-unified, whitespace-collapsed text, with each char's original [start, end)."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    index = 0
    while index < len(text):
        deid = _DEID.match(text, index)
        if deid:
            chars.append("\x00")
            starts.append(index)
            ends.append(deid.end())
            index = deid.end()
            continue
        char = text[index].translate(_QUOTES).lower()
        if char.isspace():
            if chars and chars[-1] == " ":
                ends[-1] = index + 1
            else:
                chars.append(" ")
                starts.append(index)
                ends.append(index + 1)
        else:
            chars.append(char)
            starts.append(index)
            ends.append(index + 1)
        index += 1
    return "".join(chars), starts, ends


def _normalize_answer(answer: str) -> str:
    normalized, _, _ = _normalize_with_map(answer.strip())
    normalized = normalized.strip()
    previous = None
    while previous != normalized:
        previous = normalized
        normalized = _LEADING_FILLER.sub("", normalized).strip(_TRAILING)
    return normalized


def _best_occurrence(starts: list[int], length: int, context: str, question: str) -> int:
    """Among several occurrences, the one closest to the question's content words in the context.

    Clinical text reads "Label: value", so question words in the same sentence *before* the occurrence
    decide first, then words anywhere in that sentence, then distance (words after the occurrence count
    half); ties go to the earliest occurrence.
    """
    if len(starts) == 1 or not question:
        return starts[0]
    wanted = content_words(question)
    positions = [(m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+", context.lower()) if m.group() in wanted]
    if not positions:
        return starts[0]

    def score(start: int) -> float:
        total = 0.0
        for word in wanted:
            best = 0.0
            for w_start, w_end in positions:
                if context[w_start:w_end].lower() != word:
                    continue
                distance = start - w_end if w_end <= start else 2 * (w_start - (start + length)) if w_start >= start + length else 0
                best = max(best, 1.0 / (1.0 + abs(distance) / 10.0))
            total += best
        return total

    def clause(start: int) -> tuple[int, int]:
        """Question words in the same sentence before the occurrence (its label), then in the whole sentence."""
        begin = max(context.rfind(c, 0, start) for c in ".\n;") + 1
        ends = [i for i in (context.find(c, start + length) for c in ".\n;") if i != -1]
        finish = min(ends) if ends else len(context)
        return len(wanted & content_words(context[begin:start])), len(wanted & content_words(context[begin:finish]))

    return max(starts, key=lambda start: (*clause(start), score(start), -start))


def _occurrences(haystack: str, needle: str) -> list[int]:
    found: list[int] = []
    start = haystack.find(needle)
    while start != -1:
        found.append(start)
        start = haystack.find(needle, start + 1)
    return found


def _snap_to_words(context: str, start: int, end: int) -> tuple[int, int]:
    """Grow a fuzzy span to whole words and trim surrounding spaces/punctuation."""
    while start > 0 and context[start - 1].isalnum() and context[start].isalnum():
        start -= 1
    while end < len(context) and context[end - 1].isalnum() and context[end].isalnum():
        end += 1
    while start < end and context[start] in _TRAILING + "\n\t(":
        start += 1
    while end > start and context[end - 1] in _TRAILING + "\n\t)":
        end -= 1
    return start, end


def _best_boundaries(answer: str, context: str, start: int, end: int, slack: int = 12) -> tuple[int, int]:
    """Move a fuzzy alignment's ends to the word boundaries (within `slack` chars) that best match the answer."""
    def boundaries(center: int, is_start: bool) -> list[int]:
        found = []
        for pos in range(max(0, center - slack), min(len(context), center + slack) + 1):
            before = context[pos - 1] if pos > 0 else " "
            after = context[pos] if pos < len(context) else " "
            if (before.isalnum() != after.isalnum()) or pos in (0, len(context)):
                if (is_start and after.isalnum()) or (not is_start and before.isalnum()):
                    found.append(pos)
        return found or [center]

    best = (fuzz.ratio(answer, context[start:end]), start, end)
    for s in boundaries(start, True):
        for e in boundaries(end, False):
            if e > s:
                best = max(best, (fuzz.ratio(answer, context[s:e]), s, e), key=lambda t: t[0])
    return best[1], best[2]


def align_answer(answer: str, context: str, question: str = "", *, fuzzy_threshold: float = 90.0) -> Span | None:
    """Character span of `answer` in `context`, or None when it cannot be placed with confidence."""
    answer = answer.strip()
    if not answer or not context:
        return None
    exact = _occurrences(context, answer)
    if exact:
        start = _best_occurrence(exact, len(answer), context, question)
        return Span(start, start + len(answer), answer, "exact")

    norm_context, starts, ends = _normalize_with_map(context)
    norm_answer = _normalize_answer(answer)
    if len(norm_answer) < 2:
        return None
    found = _occurrences(norm_context, norm_answer)
    if found:
        original_starts = [starts[i] for i in found]
        chosen = _best_occurrence(original_starts, len(norm_answer), context, question)
        n_start = found[original_starts.index(chosen)]
        start, end = starts[n_start], ends[n_start + len(norm_answer) - 1]
        return Span(start, end, context[start:end], "normalized")

    if len(norm_answer) < 4:
        return None
    alignment = fuzz.partial_ratio_alignment(norm_answer, norm_context, score_cutoff=fuzzy_threshold)
    if alignment is None:
        return None
    n_start, n_end = _best_boundaries(norm_answer, norm_context, alignment.dest_start, alignment.dest_end)
    if n_end <= n_start or not (0.75 <= (n_end - n_start) / len(norm_answer) <= 1.33):
        return None
    start, end = _snap_to_words(context, starts[n_start], ends[n_end - 1])
    if end <= start:
        return None
    placed = context[start:end]
    if fuzz.ratio(_normalize_answer(placed), norm_answer) < fuzzy_threshold - 5:
        return None
    return Span(start, end, placed, "fuzzy")
