"""The SQuAD v2 data model, once, for the generation side and the training/evaluation side alike.

Generated rows and gold rows must agree by construction — same columns, same features, same rule for an answer's
offset, same way of finding a string's occurrences — or a model trained on one is scored against the other with
a silent mismatch. Everything both sides need lives here; `dataset/` (writing configs), `qa/` (reading gold data,
metrics) and `pipeline/` (placing spans) import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import datasets

# The columns stock QA scripts (transformers' run_qa.py, evaluate's squad_v2) read.
SQUAD_COLUMNS = ("id", "title", "context", "question", "answers")


def squad_features() -> datasets.Features:
    """`squad_v2`'s columns: id, title, context, question, answers{text, answer_start}."""
    string = datasets.Value("string")
    return datasets.Features(
        {
            "id": string,
            "title": string,
            "context": string,
            "question": string,
            "answers": {"text": datasets.List(string), "answer_start": datasets.List(datasets.Value("int32"))},
        }
    )


def qa_features() -> datasets.Features:
    """A generated config's columns: `squad_v2`'s first, then the audit columns clinqa-synth adds."""
    string = datasets.Value("string")
    return datasets.Features(
        {
            **squad_features(),
            "document_id": string,
            "section": string,
            "method": string,
            "is_impossible": datasets.Value("bool"),
            "match": string,
            "question_context_overlap": datasets.Value("float32"),
            "question_source_overlap": datasets.Value("float32"),
            "model_answer": string,
            "verified": datasets.Value("bool"),
            "verifier_answer": string,
            "original_question": string,
            "harden_rounds": datasets.Value("int32"),
            "model": string,
            "prompt_version": string,
        }
    )


def answer_at(context: str, start: int, text: str) -> bool:
    """The one offset rule: `answer_start` points at the answer's exact text in its context."""
    return 0 <= start and context[start : start + len(text)] == text


def occurrences(haystack: str, needle: str) -> list[int]:
    """Every start offset of `needle` in `haystack` (overlapping ones included); none for an empty needle."""
    found: list[int] = []
    start = haystack.find(needle) if needle else -1
    while start != -1:
        found.append(start)
        start = haystack.find(needle, start + 1)
    return found


def squad_paragraphs(
    data: Any, source: str, error: type[Exception]
) -> Iterator[tuple[int, dict[str, Any], int, dict[str, Any]]]:
    """Walk SQuAD JSON (also RadQA, MIMIC-QA): (article index, article, paragraph index, paragraph).

    The shape is checked as it is walked, and `error` (the caller's error type) names the first place that breaks
    it, so documents read for generation and gold questions read for scoring accept exactly the same files.
    """
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise error(f"{source} is not SQuAD JSON: expected a top-level object with a 'data' list.")
    for a_index, article in enumerate(data["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise error(f"{source}: data[{a_index}] has no 'paragraphs' list (SQuAD format).")
        for p_index, paragraph in enumerate(article["paragraphs"]):
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise error(f"{source}: data[{a_index}].paragraphs[{p_index}] has no 'context' string.")
            yield a_index, article, p_index, paragraph
