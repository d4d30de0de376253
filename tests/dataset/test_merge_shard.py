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


def test_overlapping_shards_are_refused(tmp_path: Path) -> None:
    write_config(tmp_path / "s0", "direct", ["a?"])
    write_config(tmp_path / "s1", "direct", ["b?"])  # same document ids: overlapping shards
    with pytest.raises(OutputError, match="overlap"):
        merge_shards(tmp_path / "all", [tmp_path / "s0", tmp_path / "s1"])
    assert not (tmp_path / "all" / "direct").exists()
