"""Parsers on messy, real-looking model output."""

from __future__ import annotations

import pytest

from clinqa_synth.pipeline.parsing import (
    SummaryError,
    is_unanswerable,
    parse_answers,
    parse_questions,
    parse_summary,
    render_summary,
)

RADIOLOGY_SCHEMA = {
    "properties": {
        k: {"type": "array", "maxItems": 5}
        for k in (
            "symptoms",
            "medical_conditions",
            "areas_examined",
            "patient_medical_history",
            "diagnostic_techniques",
        )
    }
}


@pytest.mark.parametrize(
    "text",
    [
        "1. Is the lung clear?\n2. What was imaged?\n3) Where is the tube?",
        "Sure! Here are the questions:\n\n1. Is the lung clear?\n2. What was imaged?\n3. Where is the tube?",
        "- Is the lung clear?\n- What was imaged?\n* Where is the tube?",
        "```\n1. Is the lung clear?\n2. What was imaged?\n3. Where is the tube?\n```",
        '```json\n["Is the lung clear?", "What was imaged?", "Where is the tube?"]\n```',
        '{"questions": [{"question": "Is the lung clear?"}, {"question": "What was imaged?"}, '
        '{"question": "Where is the tube?"}]}',
        "Q1: Is the lung clear?\nQ2: What was imaged?\nQ3: Where is the tube?",
        "Question 1: Is the lung clear?\nQuestion 2: What was imaged?\nQuestion 3: Where is the tube?",
    ],
)
def test_question_list_styles(text: str) -> None:
    assert parse_questions(text) == ["Is the lung clear?", "What was imaged?", "Where is the tube?"]


def test_truncated_last_question_is_dropped_and_duplicates_removed() -> None:
    text = "1. Is the lung clear?\n2. Is the lung clear?\n3. What was imaged?\n4. Where is the tu"
    assert parse_questions(text) == ["Is the lung clear?", "What was imaged?"]


def test_prose_refusal_is_not_a_question() -> None:
    assert parse_questions("I am sorry, I cannot help with that.") == []
    assert parse_questions("Here are some thoughts.\nIs the lung clear?") == ["Is the lung clear?"]


def test_question_limit() -> None:
    text = "\n".join(f"{i}. Question number {i}?" for i in range(1, 15))
    assert len(parse_questions(text, limit=10)) == 10


def test_answers_from_json_with_fences_and_preamble() -> None:
    text = (
        'Here you go:\n```json\n{"answers": [{"number": 2, "answer": "\\"left lower lobe\\""}, '
        '{"number": 1, "answer": "Unanswerable"},]}\n```'
    )
    answers = parse_answers(text, 3)
    assert [(a.number, a.answer) for a in answers] == [(1, "Unanswerable"), (2, "left lower lobe")]


def test_answers_from_q_a_blocks_and_numbered_lines() -> None:
    blocks = "Q1: Is there a nodule?\nA1: 9 mm nodule\nQ2: Any effusion?\nA2: Unanswerable"
    assert [(a.number, a.answer) for a in parse_answers(blocks, 2)] == [(1, "9 mm nodule"), (2, "Unanswerable")]
    lines = "1. 9 mm nodule\n2) Unanswerable\n7. out of range"
    assert [(a.number, a.answer) for a in parse_answers(lines, 2)] == [(1, "9 mm nodule"), (2, "Unanswerable")]


def test_answers_plain_list() -> None:
    assert [(a.number, a.answer) for a in parse_answers('["a", "b"]', 2)] == [(1, "a"), (2, "b")]


def test_garbage_gives_no_answers() -> None:
    assert parse_answers("I cannot help with that.", 3) == []


@pytest.mark.parametrize(
    "text",
    [
        "Unanswerable",
        "unanswerable.",
        "N/A",
        "Not mentioned",
        '"Unanswerable"',
        "None",
        "Not specified in the report",
        "No information provided in the report",
        "The report does not mention allergies.",
        "It is not stated.",
    ],
)
def test_unanswerable_forms(text: str) -> None:
    assert is_unanswerable(text)


@pytest.mark.parametrize(
    "text",
    [
        "no pneumothorax",
        "No intracranial hemorrhage is seen on the left side of the brain "
        "after the contrast injection was not specified further",
        "Yes",
    ],
)
def test_real_answer_is_not_unanswerable(text: str) -> None:
    assert not is_unanswerable(text)


def test_yes_no_is_recognised() -> None:
    from clinqa_synth.pipeline.parsing import is_yes_no

    assert is_yes_no("Yes") and is_yes_no("no.") and not is_yes_no("no pneumothorax")


def test_summary_is_repaired_to_the_schema() -> None:
    text = (
        'Summary:\n```json\n{"Symptoms": "fever", "medical_conditions": ["a","b","c","d","e","f"], "extra": [1]}\n```'
    )
    summary = parse_summary(text, RADIOLOGY_SCHEMA)
    assert summary["symptoms"] == ["fever"]
    assert len(summary["medical_conditions"]) == 5
    assert summary["areas_examined"] == [] and "extra" not in summary
    assert "symptoms: fever" in render_summary(summary)


@pytest.mark.parametrize("text", ["no json here", "[1, 2]", '{"unrelated": 1}'])
def test_unusable_summary_raises(text: str) -> None:
    with pytest.raises(SummaryError):
        parse_summary(text, RADIOLOGY_SCHEMA)
