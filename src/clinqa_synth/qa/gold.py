"""Readers for gold QA data: RadQA, MIMIC-QA, SQuAD v1/v2 JSON, JSONL/CSV/parquet, generated folders, Hub datasets.

All return a `datasets.Dataset` in the `squad_v2` columns (id, title, context, question, answers).
Every `answer_start` is checked against its text (a mismatch is an error naming the record), and
the whitespace normalisation used for RadQA in the paper (runs of whitespace → one space) can be
applied with offsets re-derived and re-checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets

from clinqa_synth.errors import ClinqaError
from clinqa_synth.squad import SQUAD_COLUMNS, answer_at, squad_features, squad_paragraphs

_WS = re.compile(r"\s+")


class GoldFormatError(ClinqaError):
    """A gold QA file that is malformed or whose answers do not match their offsets."""


def collapse_whitespace(text: str) -> tuple[str, list[int]]:
    """Text with whitespace runs collapsed to one space and ends stripped, plus old-offset → new-offset map.

    Non-space characters map to their exact new position, which is all answer offsets need.
    """
    out: list[str] = []
    mapping: list[int] = []
    pending_space = False
    for char in text:
        if char.isspace():
            mapping.append(len(out))
            pending_space = True
            continue
        if pending_space and out:
            out.append(" ")
        pending_space = False
        mapping.append(len(out))
        out.append(char)
    mapping.append(len(out))
    return "".join(out), mapping


def _check_and_normalize(row: dict[str, Any], source: str, normalize: bool) -> dict[str, Any]:
    context = row["context"]
    texts, starts = list(row["answers"]["text"]), list(row["answers"]["answer_start"])
    if len(texts) != len(starts):
        raise GoldFormatError(
            f"{source}: question {row['id']!r} has {len(texts)} answer texts but {len(starts)} starts"
        )
    for text, start in zip(texts, starts):
        if not answer_at(context, start, text):
            raise GoldFormatError(
                f"{source}: question {row['id']!r}: answer_start {start} does not point at {text!r} "
                f"(found {context[start : start + len(text)]!r}). Fix the offset or the text."
            )
    if not normalize:
        return row
    new_context, mapping = collapse_whitespace(context)
    new_texts, new_starts = [], []
    for text, start in zip(texts, starts):
        stripped = text.strip()
        lead = len(text) - len(text.lstrip())
        new_text = _WS.sub(" ", stripped)
        new_start = mapping[start + lead]
        if not answer_at(new_context, new_start, new_text):
            raise GoldFormatError(
                f"{source}: question {row['id']!r}: answer {text!r} lost its place after whitespace normalisation"
            )
        new_texts.append(new_text)
        new_starts.append(new_start)
    return {**row, "context": new_context, "answers": {"text": new_texts, "answer_start": new_starts}}


def _squad_rows(path: Path) -> Iterator[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise GoldFormatError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    for a_index, article, p_index, paragraph in squad_paragraphs(data, str(path), GoldFormatError):
        for q_index, qa in enumerate(paragraph.get("qas", [])):
            where = f"data[{a_index}].paragraphs[{p_index}].qas[{q_index}]"
            missing = [key for key in ("id", "question") if key not in qa]
            if missing:
                raise GoldFormatError(f"{path}: {where} lacks {', '.join(missing)}")
            answers = [] if qa.get("is_impossible") else qa.get("answers", [])
            yield {
                "id": str(qa["id"]),
                "title": str(article.get("title", "")),
                "context": paragraph["context"],
                "question": qa["question"],
                "answers": {
                    "text": [a["text"] for a in answers],
                    "answer_start": [int(a["answer_start"]) for a in answers],
                },
            }


def _table_rows(path: Path) -> Iterator[dict[str, Any]]:
    dataset = datasets.load_dataset(
        {"csv": "csv", "jsonl": "json", "json": "json", "parquet": "parquet"}[path.suffix.lstrip(".").lower()],
        data_files=str(path),
        split="train",
    )
    missing = [c for c in SQUAD_COLUMNS if c not in dataset.column_names and c != "title"]
    if missing:
        raise GoldFormatError(f"{path} lacks the column(s) {', '.join(missing)} (SQuAD v2 schema)")
    for row in dataset:
        answers = row["answers"]
        if isinstance(answers, str):
            try:
                answers = json.loads(answers)
            except json.JSONDecodeError:
                raise GoldFormatError(f"{path}: question {row['id']!r}: 'answers' is not JSON") from None
        yield {
            "id": str(row["id"]),
            "title": str(row.get("title") or ""),
            "context": row["context"],
            "question": row["question"],
            "answers": {"text": list(answers["text"]), "answer_start": [int(s) for s in answers["answer_start"]]},
        }


def load_qa_file(path: str | Path, *, normalize_whitespace: bool = False) -> datasets.Dataset:
    """A gold or synthetic QA file → Dataset with the squad_v2 columns, offsets verified."""
    path = Path(path)
    if not path.is_file():
        raise GoldFormatError(f"{path} does not exist")
    rows = _squad_rows(path) if path.suffix.lower() == ".json" else _table_rows(path)
    checked = [_check_and_normalize(row, str(path), normalize_whitespace) for row in rows]
    if not checked:
        raise GoldFormatError(f"{path} holds no questions")
    return datasets.Dataset.from_list(checked, features=squad_features())


def load_qa_dataset(name: str, config: str | None = None, split: str = "train") -> datasets.Dataset:
    """A generated dataset folder or Hub dataset split, reduced to the squad_v2 columns."""
    try:
        dataset = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; all mean "cannot load"
        raise GoldFormatError(f"could not load {name!r} config {config!r} split {split!r}: {exc}") from None
    keep = [c for c in SQUAD_COLUMNS if c in dataset.column_names]
    return dataset.select_columns(keep)
