"""`outranked_answer`: a real quotation of the wrong sentence (the commonest wrong pair on research passages)."""

from __future__ import annotations

import pytest

from clinqa_synth.pipeline.answer_checks import answer_problem
from clinqa_synth.pipeline.relevance import is_outranked_answer, sentences

# Shaped like the COVID-QA windows the labelled audit came from (experiments/covidqa/audit).
PASSAGE = (
    "Serum samples were tested with an indirect ELISA and a virus neutralisation assay. "
    "The Ebola maintenance system, once isolated in the forests, is now interacting with humans and will adapt "
    "to it. Bats roosting near villages were sampled monthly for two years."
)
REPORT = (
    "EXAMINATION: Chest radiograph, single portable AP view.\n\n"
    "INDICATION: New right upper extremity PICC line placement; evaluate position.\n\n"
    "FINDINGS: Right upper extremity PICC line terminates in the low SVC. Small left pleural effusion."
)


def _problem(question: str, answer: str, text: str) -> str | None:
    return answer_problem(question, answer, text, max_answer_words=60, start=text.index(answer))


def test_a_quote_of_another_sentence_than_the_one_asked_about_is_dropped() -> None:
    wrong = "The Ebola maintenance system, once isolated in the forests, is now interacting with humans"
    question = "Which assays were the serum samples tested with?"
    assert _problem(question, wrong, PASSAGE) == "outranked_answer"
    assert _problem(question, "an indirect ELISA and a virus neutralisation assay", PASSAGE) is None


def test_a_question_sharing_no_word_with_the_section_is_never_dropped() -> None:
    """No Overlap questions are hard on purpose: word matching cannot judge them, so it does not try."""
    question = "How often did the team collect specimens from the flying mammals?"
    assert _problem(question, "monthly for two years", PASSAGE) is None
    start = PASSAGE.index("The Ebola")
    assert not is_outranked_answer(question, start, start + 30, PASSAGE)


def test_a_tie_keeps_the_pair() -> None:
    text = "A nodule is in the left lobe. A nodule is in the right lobe."
    start = text.index("A nodule is in the right")
    assert not is_outranked_answer("Where is the nodule?", start, len(text), text)


@pytest.mark.parametrize(
    "question,answer",
    [
        ("What is the purpose of the chest radiograph?", "New right upper extremity PICC line placement"),
        ("Is there any pleural effusion on the chest radiograph?", "Small left pleural effusion"),
    ],
)
def test_the_line_naming_the_study_never_outranks_a_finding(question: str, answer: str) -> None:
    """Questions name the study ("on the chest radiograph"); its EXAMINATION line is no rival answer (labelled
    right radiology pairs an earlier version dropped)."""
    assert _problem(question, answer, REPORT) is None


def test_the_answer_is_judged_by_every_sentence_it_overlaps_and_one_sentence_is_no_contest() -> None:
    both = PASSAGE[: PASSAGE.index(" Bats")]
    question = "Which assays were the serum samples tested with?"
    assert not is_outranked_answer(question, 0, len(both), PASSAGE)
    # such a span is dropped all the same, for running into a second sentence (sitting 12)
    assert _problem(question, both, PASSAGE) == "multi_sentence_answer"
    assert not is_outranked_answer("Which assay?", 0, 5, "One sentence only, with an assay.")


def test_sentences_break_at_ends_and_lines_not_inside_numbers() -> None:
    text = "Nodule measures 1.9 cm. Next finding.\nIMPRESSION: stable"
    assert [text[s:e] for s, e in sentences(text)] == ["Nodule measures 1.9 cm.", "Next finding.", "IMPRESSION: stable"]
