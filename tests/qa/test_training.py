"""A tiny real fine-tuning run of the packaged MiniLM on COVID-QA windows must beat the untrained model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED_DATA

pytestmark = pytest.mark.train
COVID = SHARED_DATA / "covid_qa"


@pytest.fixture(scope="module")
def covid_windows(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("transformers")
    from clinqa_synth.qa.backbone import packaged_minilm_path
    from clinqa_synth.qa.gold import load_qa_file
    from clinqa_synth.qa.subsets import answer_windows

    packaged_minilm_path()
    if not (COVID / "covid-qa-train.json").exists():
        pytest.skip("shared COVID-QA data not present")
    root = tmp_path_factory.mktemp("covid")
    train = answer_windows(load_qa_file(COVID / "covid-qa-train.json", normalize_whitespace=True), 300, 96)
    dev = answer_windows(load_qa_file(COVID / "covid-qa-dev.json", normalize_whitespace=True), 300, 48)
    train.to_json(root / "train.jsonl")
    dev.to_json(root / "dev.jsonl")
    return {"train": root / "train.jsonl", "dev": root / "dev.jsonl", "root": root}


def _run(args: list[str]) -> dict:
    from clinqa_synth.qa.run import parse_and_run

    return parse_and_run(args)


COMMON = ["--model_name_or_path", "packaged-minilm", "--max_seq_length", "128", "--doc_stride", "32",
          "--per_device_eval_batch_size", "32", "--use_cpu", "--report_to", "none", "--seed", "42"]  # fmt: skip


def test_training_beats_the_untrained_model_and_writes_stock_outputs(covid_windows) -> None:
    root = covid_windows["root"]
    untrained = _run(["--validation_file", str(covid_windows["dev"]), "--do_eval", "--output_dir", str(root / "untrained"),
                      *COMMON])["eval"]  # fmt: skip
    trained_dir = root / "trained"
    results = _run([
        "--train_file", str(covid_windows["train"]), "--validation_file", str(covid_windows["dev"]),
        "--do_train", "--do_eval", "--learning_rate", "1e-4", "--num_train_epochs", "3",
        "--per_device_train_batch_size", "16", "--eval_strategy", "epoch", "--save_strategy", "epoch",
        "--load_best_model_at_end", "--metric_for_best_model", "f1", "--save_total_limit", "1",
        "--output_dir", str(trained_dir), *COMMON,
    ])  # fmt: skip
    trained = results["eval"]
    assert trained["eval_f1"] > untrained["eval_f1"] + 5, (trained["eval_f1"], untrained["eval_f1"])
    assert trained["eval_ro"] >= untrained["eval_ro"]
    for name in ("eval_predictions.json", "eval_nbest_predictions.json", "train_results.json", "eval_results.json"):
        assert (trained_dir / name).exists(), name
    predictions = json.loads((trained_dir / "eval_predictions.json").read_text())
    assert len(predictions) == 48
    state = json.loads((trained_dir / "trainer_state.json").read_text())
    assert state["best_metric"] is not None  # checkpoint selection on the dev F1 happened


def test_squad_v2_prediction_on_radqa_shaped_gold(covid_windows) -> None:
    """--version_2_with_negative + --do_predict on a RadQA-shaped test file: null odds and predictions per question."""
    out = covid_windows["root"] / "radqa"
    results = _run(["--test_file", str(FIXTURES / "radqa_dev.json"), "--do_predict", "--version_2_with_negative",
                    "--output_dir", str(out), *COMMON])  # fmt: skip
    metrics = results["predict"]
    assert metrics["predict_total"] == 10 and "predict_NoAns_total" in metrics and "predict_best_f1" in metrics
    null_odds = json.loads((out / "null_odds.json").read_text())
    predictions = json.loads((out / "predictions.json").read_text())
    assert set(null_odds) == set(predictions) and len(predictions) == 10
