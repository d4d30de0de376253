"""The span aligner: every placed answer is a real substring at the right offsets."""

from __future__ import annotations

import pytest

from clinqa_synth.pipeline.spans import align_answer

CONTEXT = (
    "FINDINGS:  There is a 9 mm nodule in the right upper lobe.  No pleural effusion.\n"
    "The heart is normal in size.  [**Hospital1 18**] comparison shows a stable 4 mm nodule in the left lower lobe."
)


def check(span, context=CONTEXT):
    assert span is not None
    assert context[span.start : span.end] == span.text
    return span


def test_exact() -> None:
    span = check(align_answer("No pleural effusion", CONTEXT))
    assert span.match == "exact" and span.text == "No pleural effusion"


@pytest.mark.parametrize(
    "answer,expected",
    [
        ("no  pleural   effusion.", "No pleural effusion"),
        ("NO PLEURAL EFFUSION", "No pleural effusion"),
        ("The patient has a stable 4 mm nodule in the left lower lobe", "a stable 4 mm nodule in the left lower lobe"),
        ("1. the heart is normal in size", "The heart is normal in size"),
        ("\u201cNo pleural effusion\u201d", "No pleural effusion"),
        ("[**Hospital 5**] comparison shows a stable 4 mm nodule", "[**Hospital1 18**] comparison shows a stable 4 mm nodule"),
    ],
)
def test_normalised_variants(answer: str, expected: str) -> None:
    span = check(align_answer(answer, CONTEXT))
    assert span.match == "normalized"
    assert span.text == expected


def test_whitespace_inside_context_is_kept_in_the_span() -> None:
    span = check(align_answer("lobe. No pleural", CONTEXT))
    assert span.text == "lobe.  No pleural"


def test_fuzzy_typo_is_snapped_to_whole_words() -> None:
    span = check(align_answer("a stable 4 mm nodul in the left lower lobe", CONTEXT))
    assert span.match == "fuzzy"
    assert span.text == "a stable 4 mm nodule in the left lower lobe"


def test_repeated_string_resolves_to_the_occurrence_near_the_question_words() -> None:
    context = "Right kidney: simple cyst. Left kidney: simple cyst. Liver: simple cyst."
    span = check(align_answer("simple cyst", context, "What is seen in the liver?"), context)
    assert span.start == context.rindex("simple cyst")
    span = check(align_answer("simple cyst", context, "Any lesion of the left kidney?"), context)
    assert span.start == context.index("simple cyst", context.index("Left"))


@pytest.mark.parametrize("answer", ["pneumothorax of the left apex", "", "xy", "The patient has a fractured femur"])
def test_answers_not_in_the_context_are_not_placed(answer: str) -> None:
    assert align_answer(answer, CONTEXT) is None
