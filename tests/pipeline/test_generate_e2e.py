"""End to end with the real embedded model: CLI → dataset folder → load_dataset, then a re-run from cache."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from conftest import FIXTURES

from clinqa_synth.cli import main, samples_dir

pytestmark = pytest.mark.llm


def test_configs_load_with_load_dataset_and_spans_are_exact(generated) -> None:
    out = generated["out"]
    for config in ("direct", "nooverlap_summary"):
        ds = datasets.load_dataset(str(out), config)
        train = ds["train"]
        assert train.num_rows > 0, f"{config} produced no pairs"
        for row in train:
            assert row["method"] == config
            assert row["section"] in ("report", "impression")
            if row["is_impossible"]:
                assert row["answers"] == {"text": [], "answer_start": []}
            else:
                (text,), (start,) = row["answers"]["text"], row["answers"]["answer_start"]
                assert row["context"][start:][: len(text)] == text
        assert len(set(train["id"])) == train.num_rows
        per_section = {}
        for row in train:
            per_section[(row["document_id"], row["section"])] = (
                per_section.get((row["document_id"], row["section"]), 0) + 1
            )
        assert max(per_section.values()) <= 3  # K=3 of N=5 per section
        # extractive constrained decoding (the embedded server takes a grammar): every answer the model wrote is a
        # span of its section or "Unanswerable" before any check, none needed the aligner (issue 17)
        record = json.loads((out / config / "generation.json").read_text())
        written = record["answers_as_written"]
        assert sum(written.values()) == record["funnel"]["answered"] > 0
        assert written.get("not_a_span", 0) == written.get("aligned", 0) == 0, written
        assert {row["match"] for row in train} <= {"constrained", "unanswerable", "exact"}


def test_card_lists_both_configs(generated) -> None:
    readme = (generated["out"] / "README.md").read_text()
    assert "config_name: direct" in readme and "config_name: nooverlap_summary" in readme
    assert "- nooverlap_summary/train-00000-of-00001-" in readme  # explicit, content-addressed file names
    generation = json.loads((generated["out"] / "nooverlap_summary" / "generation.json").read_text())
    assert generation["method"]["summarize"] and generation["llm"]["endpoint_kind"] == "embedded llama-cpp-python"
    assert generation["documents"]["total"] == 2


def test_rerun_is_served_entirely_from_cache(generated) -> None:
    out = generated["out"]
    before = {c: datasets.load_dataset(str(out), c)["train"].to_list() for c in ("direct", "nooverlap_summary")}
    assert main(generated["args"]) == 0
    for config in ("direct", "nooverlap_summary"):
        usage = json.loads((out / config / "generation.json").read_text())["llm_usage"]
        assert usage["calls"] == 0 and usage["failures"] == 0 and usage["cache_hits"] > 0
        assert (
            datasets.load_dataset(str(out), config, download_mode="force_redownload")["train"].to_list()
            == before[config]
        )


def test_python_api_returns_a_datasetdict(llm_server, tmp_path: Path) -> None:
    from clinqa_synth import generate
    from clinqa_synth.llm.endpoint import EndpointChat

    chat = EndpointChat(llm_server.base_url, api_key="local", structured="llama-cpp-python")
    report = (samples_dir("radiology") / "synthetic-mri-knee-004.txt").read_text()
    ds = generate([report], config="direct", chat=chat, out=tmp_path / "api", methods_dir=FIXTURES / "test_methods")
    assert isinstance(ds, datasets.DatasetDict) and "train" in ds
    assert set(ds["train"].column_names) >= {"id", "title", "context", "question", "answers", "is_impossible"}
    record = json.loads((tmp_path / "api" / "direct" / "generation.json").read_text())
    assert ds["train"].num_rows == record["funnel"]["kept"], "whatever the model said, the rows are what was kept"
    for row in ds["train"]:
        for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"]):
            assert row["context"][start : start + len(text)] == text


@pytest.fixture(scope="module")
def one_report_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One completion cache for the one-report runs: their question and answer calls are the same, paid once."""
    return tmp_path_factory.mktemp("one-report-cache")


def _generate_one_report(llm_server, tmp_path: Path, cache: Path, config: str, extra_yaml: str = "") -> Path:  # noqa: ANN001
    """Generate `config` (the test-sized direct method, verification on, plus `extra_yaml`) from one chest X-ray."""
    methods = tmp_path / "methods"
    methods.mkdir()
    (methods / f"{config}.yaml").write_text(
        (FIXTURES / "test_methods" / "direct.yaml").read_text().replace("verify: false", "verify: true") + extra_yaml
    )
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "cxr.txt").write_text((samples_dir("radiology") / "synthetic-chest-xray-002.txt").read_text())
    out = tmp_path / "out"
    assert (
        main(
            [
                "generate",
                "--input",
                str(notes),
                "--config",
                config,
                "--out",
                str(out),
                "--quiet",
                "--endpoint",
                llm_server.base_url,
                "--structured",
                "llama-cpp-python",
                "--methods-dir",
                str(methods),
                "--cache-dir",
                str(cache),
            ]
        )
        == 0
    )
    return out


def test_verification_on_the_real_server_keeps_only_agreeing_pairs(
    llm_server, tmp_path: Path, one_report_cache: Path
) -> None:
    """Whatever the small model says: every kept pair was verified, and the funnel's counts add up."""
    out = _generate_one_report(llm_server, tmp_path, one_report_cache, "verified")
    record = json.loads((out / "verified" / "generation.json").read_text())
    funnel, drops = record["funnel"], record["drops"]
    rows = datasets.load_dataset(str(out), "verified", split="train").to_list()
    assert len(rows) == funnel["kept"] == funnel["verified"]
    assert all(r["verified"] for r in rows)
    assert all(r["verifier_answer"] or r["is_impossible"] for r in rows)
    verify_drops = sum(v for k, v in drops.items() if k.startswith("verify_"))
    # a verified pair can still go as a shared answer (its span kept for too many questions); it is counted there
    shared = drops.get("shared_answer", 0)
    assert funnel["verified"] + verify_drops + drops.get("over_k", 0) + shared == funnel["placed"]
    assert record["completion_tokens_by_step"].get("verify", 0) > 0 or funnel["placed"] == 0


def test_hardening_on_the_real_server_keeps_only_verified_rewrites(
    llm_server, tmp_path: Path, one_report_cache: Path
) -> None:
    """Whatever the small model rewrites: a kept rewrite was verified and records its original; counts add up."""
    out = _generate_one_report(
        llm_server, tmp_path, one_report_cache, "hard", "harden: true\nmax_overlap: 0.0\nharden_rounds: 1\n"
    )
    record = json.loads((out / "hard" / "generation.json").read_text())
    hardening, funnel = record["hardening"], record["funnel"]
    assert hardening.get("rounds", 0) > 0 and record["completion_tokens_by_step"].get("harden", 0) > 0
    rows = datasets.load_dataset(str(out), "hard", split="train").to_list()
    rewritten = [r for r in rows if r["original_question"]]
    assert len(rewritten) == hardening.get("kept_hardened", 0) <= hardening.get("hardened", 0)
    for row in rewritten:
        assert row["question"] != row["original_question"] and row["harden_rounds"] == 1 and row["verified"]
    assert len(rows) == funnel["kept"] == funnel["verified"]
    target = record["difficulty_targets"]["max_overlap: share of kept questions above it"]
    assert target["target"] == 0.0 and (target["measured"] is None or 0.0 <= target["measured"] <= 1.0)
