"""Gold readers: RadQA/MIMIC-QA shapes, whitespace normalisation with re-derived offsets, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES

from clinqa_synth.qa.gold import GoldFormatError, collapse_whitespace, load_qa_file


def test_radqa_questions_are_asked_against_both_sections_with_several_golds() -> None:
    ds = load_qa_file(FIXTURES / "radqa_dev.json")
    assert len(ds) == 10
    ids = set(ds["id"])
    assert {"900001_1_O", "900001_1_I"} <= ids
    first = next(r for r in ds if r["id"] == "900001_1_O")
    assert first["answers"]["text"] == ["9 mm nodule in the right upper lobe", "9 mm nodule"]
    unanswerable = next(r for r in ds if r["id"] == "900001_3_O")
    assert unanswerable["answers"] == {"text": [], "answer_start": []}


def test_whitespace_normalisation_rederives_offsets() -> None:
    ds = load_qa_file(FIXTURES / "radqa_dev.json", normalize_whitespace=True)
    for row in ds:
        assert "  " not in row["context"] and "\n" not in row["context"]
        for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"]):
            assert row["context"][start : start + len(text)] == text


def test_collapse_whitespace_mapping() -> None:
    text, mapping = collapse_whitespace("  a \n\n b  c ")
    assert text == "a b c"
    assert [text[mapping[i]] for i in (2, 7, 10)] == ["a", "b", "c"]


def test_mimic_qa_is_squad_1_style() -> None:
    ds = load_qa_file(FIXTURES / "mimicqa_test.final.json")
    assert len(ds) == 3 and all(len(r["answers"]["text"]) == 1 for r in ds)


def test_wrong_answer_start_names_the_record(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "radqa_dev.json").read_text())
    data["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] += 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(GoldFormatError, match="900001_1_O.*answer_start"):
        load_qa_file(path)


def test_missing_keys_are_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "1"}]}]}]}))
    with pytest.raises(GoldFormatError, match="lacks question"):
        load_qa_file(path)


def test_csv_with_answers_column(tmp_path: Path) -> None:
    path = tmp_path / "gold.csv"
    answers = json.dumps({"text": ["effusion"], "answer_start": [8]}).replace('"', '""')
    path.write_text(f'id,context,question,answers\nq1,A small effusion.,What is seen?,"{answers}"\n')
    ds = load_qa_file(path)
    assert ds[0]["answers"] == {"text": ["effusion"], "answer_start": [8]}
