"""Placing a model's answer at exact character offsets in its section, without changing what it says.

The paper placed answers with `context.index(answer)`, which loses every answer the model copied with a
changed space, case, quote or trailing period, and picks the first of repeated strings. Here we try, in
order: exact → normalised (whitespace, case, quotes, trailing punctuation, leading filler like "There is",
list numbering, de-identification tokens) → fuzzy (rapidfuzz, score ≥ the threshold, 90 by default).

The rules every placement obeys (property-tested over random Unicode text):
- it is a real substring: `context[start:end] == text`, and it never raises, whatever the input;
- whole words: a span that starts/ends with a letter or digit starts/ends at a word boundary of the
  context. "normal" is never placed inside "Abnormal"; when only a part-of-word occurrence exists the
  answer is refused (`part_of_word`), never snapped to the longer word;
- meaning: a non-exact placement never changes the answer's negation, laterality, numbers or dates
  (`meaning.meaning_change`); such placements are refused with that reason;
- fuzzy spans are trimmed, never extended: they do not start or end with words the answer does not
  contain, and do not cross a sentence or clause boundary the answer does not cross;
- length: a span's normalised length is at most 1.33 × the normalised answer's;
- repeated strings resolve to the occurrence whose surroundings share the most words with the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

from clinqa_synth.pipeline.meaning import meaning_change
from clinqa_synth.squad import occurrences
from clinqa_synth.text import DEID_TOKEN, content_words

MatchKind = Literal["exact", "normalized", "fuzzy"]

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "`": "'", "\u00a0": " "})
_LEADING_FILLER = re.compile(
    r"^(?:there\s+(?:is|are|was|were)\s+|the\s+patient\s+(?:has|had|is|was)\s+|it\s+(?:is|was)\s+|"
    r"answer\s*:\s*|\d{1,2}[.)]\s+|[-*•]\s+)",
    re.I,
)
_TRAILING = " .,;:!?\"'"
_BOUNDARY = re.compile(r"(?<=[.;!?])\s+|\s*\n\s*")  # sentence/clause breaks a span may not cross silently
MAX_LENGTH_RATIO = 1.33
MIN_LENGTH_RATIO = 0.75


@dataclass(frozen=True)
class Span:
    """A placed answer: `context[start:end] == text`; `match` says which tier placed it."""

    start: int
    end: int
    text: str
    match: MatchKind


@dataclass(frozen=True)
class Placement:
    """The outcome of placing one answer: a span, or None with the reason it was refused.

    `refused` is None for an answer nothing resembles ("unplaceable"), else the guard that stopped a
    candidate: "part_of_word", "negation", "laterality", "number", "date" or "boundary".
    """

    span: Span | None
    refused: str | None = None


def _normalize_with_map(text: str) -> tuple[str, list[int], list[int]]:
    """Lower-cased, quote-unified, whitespace-collapsed text, with each normalised char's original [start, end).

    Lower-casing can change length ("İ".lower() is two characters): every character it produces maps to
    the one original character it came from, so any normalised slice maps back to a real slice of `text`.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    index = 0
    while index < len(text):
        deid = DEID_TOKEN.match(text, index)
        if deid:
            chars.append("\x00")
            starts.append(index)
            ends.append(deid.end())
            index = deid.end()
            continue
        if text[index].isspace():
            if chars and chars[-1] == " ":
                ends[-1] = index + 1
            else:
                chars.append(" ")
                starts.append(index)
                ends.append(index + 1)
        else:
            for char in text[index].translate(_QUOTES).lower():
                chars.append(" " if char.isspace() else char)
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
                distance = (
                    start - w_end
                    if w_end <= start
                    else 2 * (w_start - (start + length))
                    if w_start >= start + length
                    else 0
                )
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


def is_whole_words(context: str, start: int, end: int) -> bool:
    """True when [start, end) neither starts nor ends inside a word of `context`."""
    if start >= end:
        return False
    if start > 0 and context[start].isalnum() and context[start - 1].isalnum():
        return False
    return not (end < len(context) and context[end - 1].isalnum() and context[end].isalnum())


def _trim_edges(context: str, start: int, end: int) -> tuple[int, int]:
    """Shrink to whole words and drop surrounding spaces/punctuation; never grows the span."""
    while start < end and not context[start].isalnum():
        start += 1
    while end > start and not context[end - 1].isalnum():
        end -= 1
    if start > 0 and start < end and context[start - 1].isalnum():  # starts inside a word: skip that word
        while start < end and context[start].isalnum():
            start += 1
        return _trim_edges(context, start, end) if start < end else (start, start)
    if end < len(context) and start < end and context[end].isalnum():  # ends inside a word: drop that word
        while end > start and context[end - 1].isalnum():
            end -= 1
        return _trim_edges(context, start, end) if start < end else (start, start)
    return start, end


def _within_answer_clauses(context: str, start: int, end: int, norm_answer: str) -> tuple[int, int]:
    """Keep the run of the span's sentences/clauses that best matches the answer, as many as the answer has."""
    pieces: list[tuple[int, int]] = []
    cursor = start
    for brk in _BOUNDARY.finditer(context, start, end):
        pieces.append((cursor, brk.start()))
        cursor = brk.end()
    pieces.append((cursor, end))
    pieces = [(a, b) for a, b in pieces if b > a]
    wanted = len([b for b in _BOUNDARY.finditer(norm_answer)]) + 1
    if len(pieces) <= wanted:
        return start, end
    windows = [(pieces[i][0], pieces[i + wanted - 1][1]) for i in range(len(pieces) - wanted + 1)]
    return max(windows, key=lambda w: fuzz.ratio(_normalize_answer(context[w[0] : w[1]]), norm_answer))


def _trim_foreign_words(context: str, start: int, end: int, norm_answer: str) -> tuple[int, int]:
    """Drop leading/trailing words the answer does not contain (a fuzzy span may not reach into other text)."""
    allowed = set(re.findall(r"\w+", norm_answer))
    spans = [(m.start() + start, m.end() + start) for m in re.finditer(r"\w+", context[start:end])]
    while spans and context[spans[0][0] : spans[0][1]].lower() not in allowed:
        spans.pop(0)
    while spans and context[spans[-1][0] : spans[-1][1]].lower() not in allowed:
        spans.pop()
    if not spans:
        return start, start
    return _trim_edges(context, spans[0][0], spans[-1][1])


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


def _length_ok(placed: str, norm_answer: str) -> bool:
    length = len(_normalize_answer(placed))
    return MIN_LENGTH_RATIO * len(norm_answer) <= length <= MAX_LENGTH_RATIO * len(norm_answer) + 1


def place_answer(
    answer: str, context: str, question: str = "", *, fuzzy_threshold: float = 90.0, allow_fuzzy: bool = True
) -> Placement:
    """Place `answer` in `context` under the rules of this module; say why when a candidate was refused."""
    answer = answer.strip()
    if not answer or not context:
        return Placement(None)
    refused: str | None = None
    exact = occurrences(context, answer)
    whole = [s for s in exact if is_whole_words(context, s, s + len(answer))]
    if whole:
        start = _best_occurrence(whole, len(answer), context, question)
        return Placement(Span(start, start + len(answer), answer, "exact"))
    if exact:
        refused = "part_of_word"

    norm_context, starts, ends = _normalize_with_map(context)
    norm_answer = _normalize_answer(answer)
    if len(norm_answer) < 2:
        return Placement(None, refused)
    candidates: list[tuple[int, int]] = []
    for n_start in occurrences(norm_context, norm_answer):
        start, end = starts[n_start], ends[n_start + len(norm_answer) - 1]
        if not is_whole_words(context, start, end):
            refused = refused or "part_of_word"
            continue
        if (change := meaning_change(norm_answer, context[start:end])) is not None:
            refused = change
            continue
        candidates.append((start, end))
    if candidates:
        chosen = _best_occurrence([c[0] for c in candidates], len(norm_answer), context, question)
        start, end = next(c for c in candidates if c[0] == chosen)
        return Placement(Span(start, end, context[start:end], "normalized"))

    if not allow_fuzzy or len(norm_answer) < 4:
        return Placement(None, refused)
    alignment = fuzz.partial_ratio_alignment(norm_answer, norm_context, score_cutoff=fuzzy_threshold)
    if alignment is None:
        return Placement(None, refused)
    n_start, n_end = _best_boundaries(norm_answer, norm_context, alignment.dest_start, alignment.dest_end)
    if n_end <= n_start:
        return Placement(None, refused)
    start, end = _trim_edges(context, starts[n_start], ends[n_end - 1])
    start, end = _within_answer_clauses(context, start, end, norm_answer)
    start, end = _trim_foreign_words(context, start, end, norm_answer)
    if end <= start or not is_whole_words(context, start, end):
        return Placement(None, refused or "boundary")
    placed = context[start:end]
    if not _length_ok(placed, norm_answer) or fuzz.ratio(_normalize_answer(placed), norm_answer) < fuzzy_threshold:
        return Placement(None, refused or "boundary")
    if (change := meaning_change(norm_answer, placed)) is not None:
        return Placement(None, change)
    return Placement(Span(start, end, placed, "fuzzy"))


def align_answer(answer: str, context: str, question: str = "", *, fuzzy_threshold: float = 90.0) -> Span | None:
    """Character span of `answer` in `context`, or None when it cannot be placed safely (see `place_answer`)."""
    return place_answer(answer, context, question, fuzzy_threshold=fuzzy_threshold).span
