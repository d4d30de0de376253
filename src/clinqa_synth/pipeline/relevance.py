"""Is the answer in the sentence the question is about? A lexical check for a quoted, but misplaced, answer.

The commonest wrong pair a small model keeps on research passages is a real quotation of the wrong sentence:
"What methods were used in the study?" answered with "The Ebola maintenance system … will adapt to it." The
round-trip verifier, the same small model, quotes the same sentence again, so verification does not catch it. On
the labelled COVID-QA `direct` audit (experiments/covidqa/audit, 36 kept answerable pairs) every right answer sat in
the sentence that shares the most of the question's words, rarity-weighted, and 13 of the 23 wrong ones did not.
On the radiology audit sets the same rule keeps 77 of 85 right pairs and drops 18 of 71 wrong ones.

Only a sentence that matches the question *better* than the answer's own counts against it: a question that
shares no word with the section (a No Overlap question) is never dropped here, and ties keep the pair.
"""

from __future__ import annotations

import math
import re

from clinqa_synth.pipeline.lexicons import document_words
from clinqa_synth.text import content_words

# Sentence ends: ., ! or ? before a capital, bracket or digit, and line breaks (headings, list items).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[0-9])|\s*\n\s*")
# Lines that describe the study itself ("EXAMINATION: Chest radiograph, single portable AP view."): questions name
# the study ("… on the chest radiograph?"), so such a line matches every question and would outrank the finding
# that answers it (7 of the 8 right radiology pairs an earlier version dropped). They never compete.
_STUDY_LINE = re.compile(r"^\s*(?:EXAM(?:INATION)?|STUDY|TECHNIQUE|PROCEDURE|PROTOCOL|COMPARISON)S?\s*:", re.I)
_STEM = 6  # "infiltrates"/"infiltrate", "hemorrhagic"/"hemorrhage": one prefix, no stemmer dependency


def _stems(text: str) -> set[str]:
    return {word[:_STEM] for word in content_words(text)}


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the text's sentences, line breaks counted as ends."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        if text[start : match.start()].strip():
            bounds.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        bounds.append((start, len(text)))
    return bounds


def is_outranked_answer(question: str, start: int, end: int, section_text: str) -> bool:
    """Another sentence of the section shares more of the question's words than every sentence the answer
    overlaps, each word weighted by its rarity across the section's sentences (log(1 + n / sentences holding it))."""
    asked = _stems(question)
    bounds = sentences(section_text)
    if not asked or len(bounds) < 2:
        return False
    held = [_stems(section_text[s:e]) for s, e in bounds]
    holding = {stem: sum(stem in words for words in held) for stem in asked}
    weight = {stem: math.log(1 + len(bounds) / count) for stem, count in holding.items() if count}

    def match(words: set[str]) -> float:
        return sum(weight.get(stem, 0.0) for stem in asked & words)

    inside = [i for i, (s, e) in enumerate(bounds) if s < end and start < e]
    if not inside:
        return False
    answer_score = max(match(held[i]) for i in inside)
    rivals = (i for i, (s, _) in enumerate(bounds) if i not in inside and not _STUDY_LINE.match(section_text[s:]))
    return any(match(held[i]) > answer_score + 1e-9 for i in rivals)


def nearby_coverage(question: str, section_text: str, window: int = 2) -> float:
    """The largest share of the question's words that `window` adjacent sentences of the section hold together.

    Why not the whole section: a question stitched from words spread across a passage ("… safety of siRNA drugs for
    lung cancer in patients with inflammatory lung disease …", each phrase from a different sentence) asks about a
    combination the passage never states, so "Unanswerable" is right though the passage holds all its words. A
    question the section answers finds its words together, in the sentence or two that answer it. Whole words, as
    the question-overlap measure counts them: a 6-letter stem would let "appendix" answer "appendicitis". Words that
    name the document ("Does the clinical note discuss …?", lexicons/document_words.txt) are not asked about.
    """
    asked = content_words(question) - document_words()
    if not asked:
        return 0.0
    held = [content_words(section_text[s:e]) for s, e in sentences(section_text)]
    if not held:
        return 0.0
    groups = [set().union(*held[i : i + window]) for i in range(max(1, len(held) - window + 1))]
    return max(len(asked & words) / len(asked) for words in groups)
