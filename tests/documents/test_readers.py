"""Readers: every input format, RadQA/MIMIC-QA shapes, section splitting, and one clear error per bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURES, SHARED_DATA, require

from clinqa_synth.documents import read_documents
from clinqa_synth.documents.readers import InputError
from clinqa_synth.documents.sections import Section, chunk_section, detect_kind, split_sections
from clinqa_synth.documents.shaping import split_long_documents

REPORT = "EXAMINATION: CT head.\nFINDINGS: No bleed.\n\nIMPRESSION: Normal study."
NOTE = "CHIEF COMPLAINT: cough.\nASSESSMENT AND PLAN: rest and fluids."


def test_text_folder_detects_kind_and_sections(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(REPORT)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text(NOTE)
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    docs = list(read_documents(tmp_path))
    assert [d.id for d in docs] == ["a", "sub/b"]
    assert docs[0].kind == "radiology" and [s.name for s in docs[0].sections] == ["report", "impression"]
    assert docs[0].sections[1].text == "IMPRESSION: Normal study."
    assert docs[1].kind == "clinical_record" and len(docs[1].sections) == 1


def test_kind_override() -> None:
    assert detect_kind(NOTE) == "clinical_record"
    assert split_sections(REPORT, "clinical_record")[0].name == "document"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_tables_with_custom_columns(tmp_path: Path, suffix: str) -> None:
    rows = [{"note_id": "n1", "body": NOTE}, {"note_id": "n2", "body": REPORT}]
    path = tmp_path / f"notes{suffix}"
    if suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    elif suffix == ".csv":
        path.write_text('note_id,body\nn1,"' + NOTE + '"\nn2,"' + REPORT + '"\n')
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    docs = list(read_documents(path, text_column="body", id_column="note_id"))
    assert [d.id for d in docs] == ["n1", "n2"] and docs[1].kind == "radiology"


def test_aci_bench_csv_from_shared_data() -> None:
    path = SHARED_DATA / "aci_bench" / "valid.csv"
    require(path.exists(), f"shared data not present: {path}")
    docs = list(read_documents(path, text_column="note", id_column="encounter_id", kind="clinical_record"))
    assert len(docs) == 20 and all(d.kind == "clinical_record" and d.sections[0].text for d in docs)


def test_radqa_reports_are_grouped_into_two_sections() -> None:
    docs = list(read_documents(FIXTURES / "radqa_dev.json"))
    assert [d.id for d in docs] == ["900001", "900002"]
    first = docs[0]
    assert first.kind == "radiology" and first.credentialed
    assert [s.name for s in first.sections] == ["report", "impression"]
    raw = json.loads((FIXTURES / "radqa_dev.json").read_text())
    assert first.sections[0].text == raw["data"][0]["paragraphs"][0]["context"]  # round trip, byte for byte
    assert first.sections[1].text == raw["data"][0]["paragraphs"][1]["context"]


def test_mimic_qa_is_a_credentialed_clinical_record() -> None:
    docs = list(read_documents(FIXTURES / "mimicqa_test.final.json"))
    assert len(docs) == 1 and docs[0].kind == "clinical_record" and docs[0].credentialed


def test_covid_qa_squad_json_deduplicates_contexts() -> None:
    path = SHARED_DATA / "covid_qa" / "covid-qa-dev.json"
    require(path.exists(), f"shared data not present: {path}")
    docs = list(read_documents(path, kind="clinical_record"))
    contexts = [d.sections[0].text for d in docs]
    assert len(contexts) == len(set(contexts)) > 0 and not docs[0].credentialed


def test_long_section_is_split_into_recorded_chunks() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 50 for i in range(20))
    chunks = chunk_section(Section("document", text), 1000)
    assert len(chunks) > 1 and all(len(c.text) <= 1000 for c in chunks)
    assert [c.name for c in chunks][:2] == ["document#1", "document#2"]
    from clinqa_synth.documents.model import Document

    doc = Document("big", "clinical_record", (Section("document", text),))
    parts = list(split_long_documents([doc], 1000))
    assert len(parts) > 1 and parts[0].id == "big#1" and "split into" in parts[0].notes[0]


@pytest.mark.parametrize(
    "setup,message",
    [
        (lambda p: (p / "empty.txt").write_text(""), "is empty"),
        (lambda p: p.mkdir(exist_ok=True) or (p / "x.csv").write_text("id,note\n1,hi\n") and None, "no column 'text'"),
        (lambda p: (p / "bad.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "squad.json").write_text('{"data": [{"title": "x"}]}'), "no 'paragraphs'"),
        (lambda p: (p / "notes.jsonl").write_text('{"text": "a"}\nnot json\n'), "line 2 is not valid JSON"),
        (lambda p: (p / "latin.txt").write_bytes("caf\xe9".encode("latin-1")), "not valid UTF-8"),
        (lambda p: (p / "bin.txt").write_bytes(b"\x00\x01\x02abc"), "binary"),
        (lambda p: (p / "x.docx").write_text("x"), "unsupported file type"),
        (lambda p: (p / "x.parquet").write_text("not parquet"), "not a readable parquet"),
    ],
)
def test_bad_inputs_name_the_problem(tmp_path: Path, setup, message: str) -> None:
    setup(tmp_path)
    target = next(p for p in tmp_path.iterdir())
    with pytest.raises(InputError, match=message):
        list(read_documents(target))


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no .txt or .md files"):
        list(read_documents(tmp_path))


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        list(read_documents(tmp_path / "nope"))
