"""Sharded runs: deterministic document slices and merging shard folders into one dataset."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from tests_support import write_config

from clinqa_synth.cli import main
from clinqa_synth.dataset.folder import OutputError
from clinqa_synth.dataset.merge import merge_shards
from clinqa_synth.documents.model import Document, Section
from clinqa_synth.documents.shaping import shard_filter


def test_shards_partition_the_documents() -> None:
    docs = [Document(f"d{i}", "clinical_record", (Section("document", "x"),)) for i in range(10)]
    shards = [[d.id for d in shard_filter(docs, (i, 3))] for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(d.id for d in docs)
    assert shards[0] == ["d0", "d3", "d6", "d9"]
    assert [d.id for d in shard_filter(docs, None)] == [d.id for d in docs]


def test_merge_concatenates_shards_and_recomputes_the_card(tmp_path: Path) -> None:
    write_config(tmp_path / "s0", "direct", ["a?", "b?"], doc_prefix="x")
    write_config(tmp_path / "s1", "direct", ["c?"], doc_prefix="y")
    assert main(["merge", str(tmp_path / "all"), str(tmp_path / "s0"), str(tmp_path / "s1")]) == 0
    merged = datasets.load_dataset(str(tmp_path / "all"), "direct", split="train")
    assert sorted(merged["question"]) == ["a?", "b?", "c?"]
    generation = json.loads((tmp_path / "all" / "direct" / "generation.json").read_text())
    assert generation["merged_from"] == 2 and generation["splits"] == {"train": 3}
    assert "| `direct` |" in (tmp_path / "all" / "README.md").read_text()


def test_merged_difficulty_is_measured_on_the_merged_rows(tmp_path: Path) -> None:
    """A merge once kept the first shard's difficulty (COVID-QA direct: 0.718 overlap for rows measuring 0.641)."""
    import statistics

    write_config(tmp_path / "s0", "direct", ["Is def seen here?", "Which abc def?"], doc_prefix="x")
    write_config(tmp_path / "s1", "direct", ["Anything else?"], doc_prefix="y")
    merge_shards(tmp_path / "all", [tmp_path / "s0", tmp_path / "s1"])
    rows = datasets.load_dataset(str(tmp_path / "all"), "direct", split="train")
    overlaps = rows["question_context_overlap"]
    assert 0 < statistics.fmean(overlaps) < 1 and 0 in overlaps, "the fixture mixes overlapping and fresh questions"
    difficulty = json.loads((tmp_path / "all" / "direct" / "generation.json").read_text())["difficulty"]
    assert difficulty["mean_question_section_overlap"] == round(statistics.fmean(overlaps), 3)
    assert difficulty["zero_overlap_share"] == round(sum(o == 0 for o in overlaps) / len(overlaps), 3)
    assert difficulty["median_answer_words"] == 1  # every answer is "def"


def test_a_re_merge_keeps_the_scored_audit_of_the_same_rows_and_sets_aside_one_of_other_rows(tmp_path: Path) -> None:
    """A re-merge once deleted audit.json: finished review work, gone. Same rows: kept; other rows: set aside."""
    write_config(tmp_path / "s0", "direct", ["a?"], doc_prefix="x")
    write_config(tmp_path / "s1", "direct", ["b?"], doc_prefix="y")
    shards = [tmp_path / "s0", tmp_path / "s1"]
    merge_shards(tmp_path / "all", shards)
    audit = tmp_path / "all" / "direct" / "audit.json"
    scored = {"labelled": 2, "correct": 1, "precision": 0.5, "ci95": [0.09, 0.91]}
    scores = {k: scored for k in ("answerable", "unanswerable", "all")}
    audit.write_text(json.dumps(scores | {"labels": {}, "labels_file": "labels.csv"}))
    merge_shards(tmp_path / "all", shards)
    assert json.loads(audit.read_text())["answerable"]["precision"] == 0.5
    write_config(tmp_path / "s1", "direct", ["c?"], doc_prefix="y")  # a shard re-run: other rows
    merge_shards(tmp_path / "all", shards)
    assert not audit.exists(), "a score of other rows must not be shown as this dataset's precision"
    assert "0.5" in (tmp_path / "all" / "direct" / "audit.previous-rows.json").read_text()


def test_overlapping_shards_are_refused(tmp_path: Path) -> None:
    write_config(tmp_path / "s0", "direct", ["a?"])
    write_config(tmp_path / "s1", "direct", ["b?"])  # same document ids: overlapping shards
    with pytest.raises(OutputError, match="overlap"):
        merge_shards(tmp_path / "all", [tmp_path / "s0", tmp_path / "s1"])
    assert not (tmp_path / "all" / "direct").exists()


def test_merge_sums_what_each_step_cost_over_the_shards(tmp_path: Path) -> None:
    """A set generated in shards (COVID-QA: 8) must report the whole set's cost per step, not the first shard's;
    a shard made before a key existed makes that key None, never a partial sum passed off as the whole."""
    for shard, prefix in (("s0", "x"), ("s1", "y"), ("old", "z")):
        write_config(tmp_path / shard, "direct", ["a?"], doc_prefix=prefix)
        path = tmp_path / shard / "direct" / "generation.json"
        record = json.loads(path.read_text())
        verify = 0.2 if shard == "s1" else 0.1
        record |= {"calls_by_step": {"answers": 2}, "latency_s_by_step": {"answers": 1.5, "verify": verify}}
        if shard == "old":
            del record["latency_s_by_step"]
        path.write_text(json.dumps(record))
    merge_shards(tmp_path / "all", [tmp_path / "s0", tmp_path / "s1"])
    merged = json.loads((tmp_path / "all" / "direct" / "generation.json").read_text())
    assert merged["calls_by_step"] == {"answers": 4}
    assert merged["latency_s_by_step"] == {"answers": 3.0, "verify": 0.3}  # rounded: 0.1 + 0.2 is 0.30000000000000004
    merge_shards(tmp_path / "with-old", [tmp_path / "s0", tmp_path / "old"])
    merged = json.loads((tmp_path / "with-old" / "direct" / "generation.json").read_text())
    assert merged["calls_by_step"] == {"answers": 4} and merged["latency_s_by_step"] is None
