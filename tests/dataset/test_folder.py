"""The dataset folder: atomic config swaps, crash recovery, stale-cache safety, foreign folders."""

from __future__ import annotations

import os
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from tests_support import write_config

from clinqa_synth.dataset.folder import DatasetFolder, OutputError, split_for


def test_regenerated_config_is_not_served_stale_by_the_datasets_cache(tmp_path: Path) -> None:
    write_config(tmp_path / "out", "direct", ["first?"])
    assert datasets.load_dataset(str(tmp_path / "out"), "direct")["train"]["question"] == ["first?"]
    write_config(tmp_path / "out", "direct", ["second?"])
    assert datasets.load_dataset(str(tmp_path / "out"), "direct")["train"]["question"] == ["second?"]


def test_a_crash_before_commit_leaves_the_previous_config_loadable(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_config(out, "direct", ["kept?"])
    write_config(out, "direct", ["half written?"], crash_before_commit=True)
    assert list(out.glob(".staging-*"))
    assert datasets.load_dataset(str(out), "direct")["train"]["question"] == ["kept?"]
    DatasetFolder(out)  # the next run cleans the abandoned staging folder
    assert not list(out.glob(".staging-*"))


def test_a_reader_never_removes_a_running_generations_staging_folder(tmp_path: Path) -> None:
    """Regression: `report`/a benchmark opening the folder while another process generated into it deleted that
    process's staging folder, and its commit failed. Only staging folders whose owner is gone are removed."""
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "out"
    write_config(out, "direct", ["kept?"])
    # a live generation in another process: it stages rows, signals, then waits before committing
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from tests_support import write_config
        from clinqa_synth.dataset.folder import DatasetFolder
        folder = DatasetFolder({str(out)!r})
        stage = folder.stage("nooverlap")
        print("staged", flush=True)
        sys.stdin.readline()
        from tests_support import commit_stage
        commit_stage(folder, stage, ["second?"])
        print("committed", flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "staged"
    DatasetFolder(out)  # a reader in this process runs the clean-up while the child is writing
    assert len(list(out.glob(".staging-nooverlap-*"))) == 1, "a live staging folder was removed"
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "committed"
    assert child.wait(timeout=60) == 0
    assert datasets.load_dataset(str(out), "nooverlap")["train"]["question"] == ["second?"]
    # and once the owner is gone (kill -9 mid-write), the same clean-up removes its leftovers
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "staged"
    child.kill()
    child.wait()
    DatasetFolder(out)
    assert not list(out.glob(".staging-*"))


def test_interrupted_swap_is_repaired(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_config(out, "direct", ["kept?"])
    os.replace(out / "direct", out / ".old-direct-1234abcd")  # killed between the two renames
    DatasetFolder(out)
    assert datasets.load_dataset(str(out), "direct")["train"]["question"] == ["kept?"]


def test_second_config_is_added_beside_the_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_config(out, "direct", ["a?"])
    write_config(out, "nooverlap", ["b?"])
    assert datasets.load_dataset(str(out), "direct")["train"]["question"] == ["a?"]
    assert datasets.load_dataset(str(out), "nooverlap")["train"]["question"] == ["b?"]


def test_foreign_folder_is_refused_and_left_untouched(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not a clinqa-synth dataset"):
        DatasetFolder(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_validation_split_is_by_document_and_stable() -> None:
    splits = {split_for(f"doc{i}", 0.3) for i in range(200)}
    assert splits == {"train", "validation"}
    assert split_for("doc7#1", 0.3) == split_for("doc7#2", 0.3) == split_for("doc7", 0.3)
    assert split_for("doc7", 0.0) == "train"


def test_a_config_that_kept_no_pair_is_described_but_not_offered_to_load_dataset(tmp_path: Path) -> None:
    """`datasets` cannot load a split without rows: the card's `configs:` lists only configs with rows, so a
    pilot that kept nothing never leaves a loading instruction that crashes; the other configs load as before."""
    write_config(tmp_path, "direct", ["q1?", "q2?"])
    write_config(tmp_path, "empty", [])
    card = (tmp_path / "README.md").read_text()
    metadata = card.split("---")[1]
    assert "config_name: direct" in metadata and "config_name: empty" not in metadata
    assert "`empty` kept no pair" in card and 'load_dataset("' + tmp_path.name + '", "empty")' not in card
    assert datasets.load_dataset(str(tmp_path), "direct", split="train").num_rows == 2
    with pytest.raises(ValueError, match="empty"):  # datasets names the config it cannot find, and lists the others
        datasets.load_dataset(str(tmp_path), "empty", split="train")
    assert pq.read_table(next((tmp_path / "empty").glob("train-*.parquet"))).num_rows == 0  # typed, for our readers
