"""The span aligner: every placed answer is a real substring at the right offsets."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clinqa_synth.pipeline.meaning import meaning_change
from clinqa_synth.pipeline.spans import align_answer, is_whole_words, place_answer

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
        (
            "[**Hospital 5**] comparison shows a stable 4 mm nodule",
            "[**Hospital1 18**] comparison shows a stable 4 mm nodule",
        ),
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


# --- clinical safety: whole words, meaning, boundaries, Unicode (issue 12) ---------------------------------


@pytest.mark.parametrize(
    "answer,context",
    [
        ("normal", "Abnormal signal in the medial meniscus."),
        ("complete tear", "Incomplete tear of the ACL."),
        ("stable", "Unstable fracture of the L1 vertebral body."),
        ("Mild.", "Mildly enlarged liver."),
        ("Normal", "ABNORMAL signal"),
    ],
)
def test_a_word_is_never_placed_inside_a_longer_word(answer: str, context: str) -> None:
    placement = place_answer(answer, context)
    assert placement.span is None
    assert placement.refused == "part_of_word"


def test_a_whole_word_occurrence_is_preferred_over_a_part_of_word_one() -> None:
    context = "Abnormal T2 signal laterally; the medial compartment is normal."
    span = check(align_answer("normal", context), context)
    assert span.start == context.rindex("normal") and span.match == "exact"


@pytest.mark.parametrize(
    "answer,context,reason",
    [
        (
            "mild degenerative changes in the left knee joint",
            "IMPRESSION: Mild degenerative changes in the right knee joint.",
            "laterality",
        ),
        (
            "no acute intracranial hemorrhage",
            "FINDINGS: Acute intracranial hemorrhage in the left frontal lobe.",
            "negation",
        ),
        ("a 5 mm nodule in the right upper lobe", "There is a 6 mm nodule in the right upper lobe.", "number"),
        ("a 5 mm nodule in the right upper lobe", "There is a 5 cm nodule in the right upper lobe.", "number"),
        ("stable compared with the study of March 3", "Stable compared with the study of May 3.", "date"),
    ],
)
def test_a_non_exact_placement_never_changes_negation_laterality_numbers_or_dates(answer, context, reason) -> None:
    placement = place_answer(answer, context)
    assert placement.span is None, placement
    assert placement.refused == reason


@pytest.mark.parametrize(
    "answer,placed,change",
    [
        ("No effusion", "effusion", "negation"),
        ("patient denies chest pain", "patient reports chest pain", "negation"),
        ("isn't enlarged", "is enlarged", "negation"),
        ("bilateral effusions", "left effusion", "laterality"),
        ("4.5 cm mass", "4.5 mm mass", "number"),
        ("on 2019-03-01", "on 2019-03-02", "number"),
        ("in January", "in June", "date"),
        ("There is no pleural effusion", "No pleural effusion", None),
        ("The left kidney", "left kidney", None),
        ("3 times a week", "three times a week", None),  # seen in real output: the same number, in words
        ("three cm nodule", "four cm nodule", "number"),
        ("two lesions", "lesions", "number"),
    ],
)
def test_meaning_change_guard(answer: str, placed: str, change: str | None) -> None:
    assert meaning_change(answer, placed) == change


def test_a_fuzzy_span_does_not_reach_into_the_previous_sentence() -> None:
    context = "Pneumothorax is excluded. Left PICC tip is in the upper-to-mid SVC. Heart size is normal."
    span = check(align_answer("The left PICC tip is in the upper-to-mid SVC", context), context)
    assert span.text == "Left PICC tip is in the upper-to-mid SVC"


def test_a_fuzzy_span_does_not_start_with_words_the_answer_lacks() -> None:
    context = "Right upper extremity PICC line terminates in the low SVC. No pneumothorax."
    placement = place_answer("The PICC line terminates in the low SVC.", context)
    assert placement.span is not None and placement.span.text == "PICC line terminates in the low SVC"


def test_unicode_lowercasing_that_changes_length_keeps_offsets_true() -> None:
    context = "İİİ CT: liver lesion here. İstanbul clinic."
    span = check(align_answer("LIVER LESION", context), context)
    assert span.text == "liver lesion"
    many = "İ" * 50 + " Liver lesion, segment 7."
    span = check(align_answer("liver lesion segment 7", many), many)
    assert span.text.lower().startswith("liver lesion")


# --- property tests: any input, the aligner's promises hold ---------------------------------------------

WORDS = st.sampled_from(
    [
        "no",
        "left",
        "right",
        "mild",
        "Abnormal",
        "normal",
        "effusion",
        "5",
        "mm",
        "İ",
        "ß",
        "ﬁbrosis",
        "lobe.",
        "SVC;",
        "\n",
        "[**Name**]",
        "tear",
        "Incomplete",
        "complete",
        "x",
    ]
)
TEXT = st.lists(WORDS, min_size=0, max_size=40).map(" ".join) | st.text(max_size=200)
ANSWER = st.lists(WORDS, min_size=1, max_size=8).map(" ".join) | st.text(min_size=1, max_size=40)


def _normalized_length(text: str) -> int:
    from clinqa_synth.pipeline.spans import _normalize_answer

    return len(_normalize_answer(text))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(context=TEXT, answer=ANSWER, question=st.text(max_size=30))
def test_alignment_never_raises_and_every_span_is_a_real_whole_word_substring(context, answer, question) -> None:
    placement = place_answer(answer, context, question)
    span = placement.span
    if span is None:
        return
    assert context[span.start : span.end] == span.text
    assert is_whole_words(context, span.start, span.end)
    assert _normalized_length(span.text) <= 1.33 * _normalized_length(answer) + 1
    if span.match != "exact":
        assert meaning_change(answer, span.text) is None


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.lists(WORDS, max_size=10).map(" ".join),
    answer=st.lists(WORDS, min_size=1, max_size=6).map(" ".join),
    suffix=st.lists(WORDS, max_size=10).map(" ".join),
)
def test_an_answer_copied_from_the_context_is_placed_exactly(prefix, answer, suffix) -> None:
    answer = answer.strip()
    assume(answer)
    context = f"{prefix} {answer} {suffix}"
    span = align_answer(answer, context)
    assert span is not None and span.text == answer and span.match == "exact"
