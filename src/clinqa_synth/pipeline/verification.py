"""Round-trip verification: every pair is asked again, alone, and kept only when the two answers agree.

The paper's own conclusion is that synthetic answers, not questions, separate synthetic from gold data. The
first answer comes from one call that answers a whole list of questions at once, where a small model easily
shifts an answer to the neighbouring question or quotes the whole section. The verifier sees only the section
and that one question (document first, so a server's prefix cache skips the section's prefill) and answers
with a quotation or "Unanswerable". A pair is kept when:

- answerable: the verifier's quote places (same safety rules as any placement) on a span that overlaps
  the first span;
- unanswerable: the verifier also says Unanswerable.

Otherwise it is dropped, with the reason counted (`verify_*` in the drops): the verifier found no answer,
found another span, found an answer to a question marked unanswerable, or said something unplaceable.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinqa_synth.pipeline.parsing import clean_quotation, is_unanswerable, is_yes_no
from clinqa_synth.pipeline.spans import Span, place_answer


@dataclass(frozen=True)
class Verdict:
    """The verifier's raw answer, where it placed, and whether it agrees with the pair (else why not)."""

    answer: str
    span: Span | None
    reason: str | None  # None: agrees

    @property
    def agrees(self) -> bool:
        return self.reason is None


def judge(
    first: Span | None, verifier_answer: str, section_text: str, question: str, *, fuzzy_threshold: float = 90.0
) -> Verdict:
    """Compare the verifier's answer with the pair's span (None: the pair says unanswerable)."""
    answer = clean_quotation(verifier_answer)
    if not answer or is_unanswerable(answer):  # unless it is a verbatim quote ("None" in "Comparison: None.")
        placed = place_answer(answer, section_text, question, allow_fuzzy=False).span if answer else None
        if placed is None:
            return Verdict(answer, None, None if first is None else "verify_unanswerable")
    else:
        placed = (
            None
            if is_yes_no(answer)
            else place_answer(answer, section_text, question, fuzzy_threshold=fuzzy_threshold).span
        )
    if first is None:
        return Verdict(answer, placed, "verify_answerable" if placed is not None else "verify_unplaced")
    if placed is None:
        return Verdict(answer, None, "verify_unplaced")
    if placed.start < first.end and first.start < placed.end:
        return Verdict(answer, placed, None)
    return Verdict(answer, placed, "verify_other_span")
