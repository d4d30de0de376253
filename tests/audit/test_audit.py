"""The review loop: a sheet drawn from a real dataset folder, labels scored into precision with a 95 % interval."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests_support import write_config

from clinqa_synth.audit import AuditError, read_labels, score, wilson_interval

QUESTIONS = [f"What is finding number {i}?" for i in range(12)]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clinqa_synth.cli", "audit", *args], capture_output=True, text=True, timeout=120
    )


class Marks(HTMLParser):
    """The highlighted spans and label menus of a sheet, read as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[str] = []
        self.selects = 0
        self._in_mark = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in_mark = tag == "mark"
        self.selects += tag == "select"

    def handle_data(self, data: str) -> None:
        if self._in_mark:
            self.marks.append(data)
            self._in_mark = False


def test_wilson_interval_matches_published_values() -> None:
    # Newcombe (1998), Table I: 81/263 → 0.2553–0.3662; 0/10 → 0–0.2775; 10/10 → 0.7225–1
    for (k, n), expected in {(81, 263): (0.2553, 0.3662), (0, 10): (0.0, 0.2775), (10, 10): (0.7225, 1.0)}.items():
        low, high = wilson_interval(k, n)
        assert (round(low, 4), round(high, 4)) == expected


def test_a_sheet_is_drawn_labelled_and_scored_into_the_card(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    write_config(out, "direct", QUESTIONS)
    drawn = cli(str(out), "--sample", "5", "--seed", "3")
    assert drawn.returncode == 0, drawn.stderr
    sheet = list(csv.DictReader((out / "audit" / "review.csv").open()))
    assert len(sheet) == 5 and {r["question"] for r in sheet} <= set(QUESTIONS)
    page = Marks()
    page.feed((out / "audit" / "review.html").read_text())
    assert page.marks == ["def"] * 5 and page.selects == 5, "each answer highlighted in its section"
    again = cli(str(out), "--sample", "5", "--seed", "3", "--sheet-dir", str(tmp_path / "again"))
    assert (
        again.returncode == 0
        and (tmp_path / "again" / "review.csv").read_text() == (out / "audit" / "review.csv").read_text()
    )

    for row, label in zip(sheet, ["correct", "correct", "correct", "wrong_span", ""]):
        row["label"] = label
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(sheet[0]))
        writer.writeheader()
        writer.writerows(sheet)
    scored = cli(str(out), "--score", str(labels))
    assert scored.returncode == 0, scored.stderr
    audit = json.loads((out / "direct" / "audit.json").read_text())
    assert audit["answerable"]["labelled"] == 4 and audit["answerable"]["precision"] == 0.75
    assert audit["answerable"]["ci95"] == [round(v, 3) for v in wilson_interval(3, 4)]
    assert audit["labels"]["wrong_span"] == 1 and audit["unanswerable"]["labelled"] == 0
    assert "Measured precision (hand labels, `labels.csv`): answerable 0.75" in (out / "README.md").read_text()


def test_bad_labels_get_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("id,is_impossible,label\nx,False,mostly right\n")
    with pytest.raises(AuditError, match="unknown label 'mostly right'; use one of correct"):
        read_labels(bad)
    bad.write_text("id,label\nx,correct\n")
    with pytest.raises(AuditError, match="lacks the column"):
        read_labels(bad)
    out = tmp_path / "ds"
    write_config(out, "direct", QUESTIONS[:2])
    stale = tmp_path / "stale.csv"
    stale.write_text("id,config,is_impossible,label\nnot-an-id,direct,False,correct\n")
    result = cli(str(out), "--score", str(stale))
    assert result.returncode != 0 and "regenerated after the sheet was drawn" in result.stderr
    assert not (out / "direct" / "audit.json").exists()


def test_precision_is_per_kind() -> None:
    rows = [
        {"id": str(i), "is_impossible": impossible, "label": label}
        for i, (impossible, label) in enumerate(
            [
                ("False", "correct"),
                ("False", "wrong_span"),
                ("True", "correct"),
                ("True", "answerable_marked_unanswerable"),
            ]
        )
    ]
    result = score(rows)
    assert result["answerable"]["precision"] == 0.5 and result["unanswerable"]["precision"] == 0.5
    assert result["all"]["labelled"] == 4


def test_verification_drops_are_kept_for_review_sampled_scored_and_merged(tmp_path: Path) -> None:
    """Issue 14: "how many correct pairs verification wrongly dropped" needs the dropped pairs, so every pair
    verification or a check dropped after placing it is written beside the rows, a sheet can be drawn from them
    and scored, and merge keeps them."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))
    from test_scripted_pipeline import IMPRESSION, QUESTIONS, REPORT, ScriptedChat

    from clinqa_synth.dataset.merge import merge_shards
    from clinqa_synth.documents.model import Document
    from clinqa_synth.pipeline.api import generate_to_folder

    out = tmp_path / "ds"
    summary = generate_to_folder(
        [Document("knee", "radiology", (REPORT, IMPRESSION))], config="direct", out=out, chat=ScriptedChat()
    )
    drops_file = out / "direct" / "dropped_pairs.jsonl"
    dropped = [json.loads(line) for line in drops_file.read_text().splitlines()]
    verify_drops = {k: v for k, v in summary.drops.items() if k.startswith("verify_") and v}
    by_reason = Counter(d["drop_reason"] for d in dropped)
    assert verify_drops and all(by_reason[k] == v for k, v in verify_drops.items()), "a line per verification drop"
    assert by_reason["echo_answer"] == summary.drops["echo_answer"] == 1, "and per pair a check dropped after placing"
    answerable_drop = next(d for d in dropped if d["drop_reason"] == "verify_answerable")
    assert answerable_drop["section"] == "impression" and answerable_drop["question"] == QUESTIONS[0]
    assert answerable_drop["is_impossible"] and answerable_drop["verifier_answer"] == "Meniscal tear"
    assert not answerable_drop["verified"] and answerable_drop["context"] == IMPRESSION.text
    kept_ids = {r["id"] for r in read_rows_of(out)}
    assert not kept_ids & {d["id"] for d in dropped}

    drawn = cli(str(out), "--dropped", "--sample", "10")
    assert drawn.returncode == 0, drawn.stderr
    sheet = list(csv.DictReader((out / "audit-dropped" / "review.csv").open()))
    assert {r["id"] for r in sheet} == {d["id"] for d in dropped}
    for row in sheet:  # the reviewer finds the unanswerable verdict right: the verifier dropped a right pair
        row["label"] = "correct" if row["id"] == answerable_drop["id"] else "wrong_span"
    labels = tmp_path / "dropped-labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(sheet[0]))
        writer.writeheader()
        writer.writerows(sheet)
    scored = cli(str(out), "--dropped", "--score", str(labels))
    assert scored.returncode == 0, scored.stderr
    assert f"1 of {len(sheet)} labelled dropped pairs were right pairs" in " ".join(
        (scored.stdout + scored.stderr).split()
    )
    result = json.loads((out / "direct" / "audit_dropped.json").read_text())
    assert result["wrongly_dropped"]["correct"] == 1 and result["by_reason"]["verify_answerable"]["correct"] == 1
    kept_labels = cli(str(out), "--score", str(labels))  # a drops sheet is not a sheet of kept pairs
    assert kept_labels.returncode == 2 and "regenerated" in kept_labels.stdout + kept_labels.stderr

    merged = tmp_path / "merged"
    merge_shards(merged, [out])
    assert (merged / "direct" / "dropped_pairs.jsonl").read_text() == drops_file.read_text()


def read_rows_of(out: Path) -> list[dict]:
    from clinqa_synth.audit import read_rows

    return read_rows(out, "direct")
