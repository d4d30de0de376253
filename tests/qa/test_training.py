"""A tiny real fine-tuning run of the packaged MiniLM on COVID-QA windows must beat the untrained model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED_DATA, require, require_module

pytestmark = pytest.mark.train
COVID = SHARED_DATA / "covid_qa"


@pytest.fixture(scope="module")
def covid_windows(tmp_path_factory) -> dict[str, Path]:
    require_module("transformers")
    from clinqa_synth.qa.backbone import packaged_minilm_path
    from clinqa_synth.qa.gold import load_qa_file
    from clinqa_synth.qa.subsets import answer_windows

    packaged_minilm_path()
    require((COVID / "covid-qa-train.json").exists(), f"shared COVID-QA data not present in {COVID}")
    root = tmp_path_factory.mktemp("covid")
    train = answer_windows(load_qa_file(COVID / "covid-qa-train.json", normalize_whitespace=True), 300, 96)
    dev = answer_windows(load_qa_file(COVID / "covid-qa-dev.json", normalize_whitespace=True), 300, 48)
    train.to_json(root / "train.jsonl")
    dev.to_json(root / "dev.jsonl")
    return {"train": root / "train.jsonl", "dev": root / "dev.jsonl", "root": root}


def _run(args: list[str]) -> dict:
    from clinqa_synth.qa.run import parse_and_run

    return parse_and_run(args)


COMMON = [
    "--model_name_or_path",
    "packaged-minilm",
    "--max_seq_length",
    "128",
    "--doc_stride",
    "32",
    "--per_device_eval_batch_size",
    "32",
    "--use_cpu",
    "--report_to",
    "none",
    "--seed",
    "42",
]


def test_training_beats_the_untrained_model_and_writes_stock_outputs(covid_windows) -> None:
    root = covid_windows["root"]
    untrained = _run(
        ["--validation_file", str(covid_windows["dev"]), "--do_eval", "--output_dir", str(root / "untrained"), *COMMON]
    )["eval"]
    trained_dir = root / "trained"
    results = _run(
        [
            "--train_file",
            str(covid_windows["train"]),
            "--validation_file",
            str(covid_windows["dev"]),
            "--do_train",
            "--do_eval",
            "--learning_rate",
            "1e-4",
            "--num_train_epochs",
            "3",
            "--per_device_train_batch_size",
            "16",
            "--eval_strategy",
            "epoch",
            "--save_strategy",
            "epoch",
            "--load_best_model_at_end",
            "--metric_for_best_model",
            "f1",
            "--save_total_limit",
            "1",
            "--output_dir",
            str(trained_dir),
            *COMMON,
        ]
    )
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
    results = _run(
        [
            "--test_file",
            str(FIXTURES / "radqa_dev.json"),
            "--do_predict",
            "--version_2_with_negative",
            "--output_dir",
            str(out),
            *COMMON,
        ]
    )
    metrics = results["predict"]
    assert metrics["predict_total"] == 10 and "predict_NoAns_total" in metrics and "predict_best_f1" in metrics
    null_odds = json.loads((out / "null_odds.json").read_text())
    predictions = json.loads((out / "predictions.json").read_text())
    assert set(null_odds) == set(predictions) and len(predictions) == 10


def test_multi_seed_experiment_writes_mean_sd_table(covid_windows) -> None:
    from clinqa_synth.cli import main

    root = covid_windows["root"]
    config = root / "experiment.yaml"
    config.write_text(
        f"""
output_dir: {root / "exp"}
validation_file: {covid_windows["dev"]}
test_file: {covid_windows["dev"]}
preset: none
seeds: [42, 1234]
model_name_or_path: packaged-minilm
training_sets:
  - name: covid-windows
    train_file: {covid_windows["train"]}
data_args: {{max_seq_length: 128, doc_stride: 32}}
training_args: {{max_steps: 4, per_device_train_batch_size: 8, per_device_eval_batch_size: 32, use_cpu: true,
                 eval_strategy: "no", save_strategy: "no", load_best_model_at_end: false}}
"""
    )
    assert main(["experiment", str(config), "--jobs", "2"]) == 0  # two worker processes, as on a GPU
    results = json.loads((root / "exp" / "results.json").read_text())
    assert set(results["runs"]["covid-windows"]) == {"42", "1234"}
    table = (root / "exp" / "results.md").read_text()
    assert "| covid-windows |" in table and "±" in table
    f1s = [run["f1"] for run in results["runs"]["covid-windows"].values()]
    mean, sd = results["table"]["covid-windows"]["f1"]
    assert mean == pytest.approx(sum(f1s) / 2)


def test_evaluate_command_scores_a_predictions_file(tmp_path, capsys) -> None:
    from clinqa_synth.cli import main

    gold = FIXTURES / "radqa_dev.json"
    predictions = {"900001_1_O": "9 mm nodule", "900001_1_I": "9 mm right upper lobe nodule"}
    from clinqa_synth.qa.gold import load_qa_file

    for row in load_qa_file(gold):
        predictions.setdefault(row["id"], "")
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions))
    assert main(["evaluate", "--predictions", str(path), "--gold", str(gold)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    # 2 exact hits + 3 correct empty answers on unanswerable questions, out of 10
    assert metrics["exact"] == 50.0 and metrics["NoAns_exact"] == 100.0


def test_run_qa_script_trains_on_a_generated_dataset_folder(covid_windows, tmp_path) -> None:
    """`scripts/run_qa.py --dataset_name <clinqa-synth folder> --dataset_config_name <config>`, as a subprocess."""
    import subprocess
    import sys

    import datasets

    from clinqa_synth.dataset.folder import DatasetFolder
    from clinqa_synth.pipeline.records import make_record
    from clinqa_synth.pipeline.spans import Span

    windows = datasets.load_dataset("json", data_files=str(covid_windows["train"]), split="train").select(range(24))
    folder = DatasetFolder(tmp_path / "synthetic")
    stage = folder.stage("nooverlap_summary")
    records = []
    for row in windows:
        text, start = row["answers"]["text"][0], row["answers"]["answer_start"][0]
        records.append(
            make_record(
                method="nooverlap_summary",
                document_id=row["id"],
                title="",
                section="document",
                context=row["context"],
                question=row["question"],
                span=Span(start, start + len(text), text, "exact"),
                model="m",
                prompt_version="v",
            )
        )
    stage.add(records, "train")
    from clinqa_synth.methods import load_method
    from clinqa_synth.pipeline.api import RunSummary, generation_record

    llm = {"endpoint_kind": "test", "model": "m", "structured_output": "none", "allow_remote_endpoint": False}
    stage.commit(
        generation_record(
            load_method("nooverlap_summary"), RunSummary("nooverlap_summary"), llm, {}, False, "other", 0.0, None
        )
    )
    from clinqa_synth.dataset.card import write_card

    write_card(folder)
    script = Path(__file__).resolve().parents[2] / "scripts" / "run_qa.py"
    out = tmp_path / "run"
    completed = subprocess.run(
        [
            sys.executable,
            str(script),
            "--dataset_name",
            str(folder.root),
            "--dataset_config_name",
            "nooverlap_summary",
            "--validation_file",
            str(covid_windows["dev"]),
            "--version_2_with_negative",
            "--do_train",
            "--do_eval",
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "8",
            "--max_eval_samples",
            "8",
            "--output_dir",
            str(out),
            *COMMON,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    eval_results = json.loads((out / "eval_results.json").read_text())
    assert {"eval_exact", "eval_f1", "eval_ro", "eval_best_f1"} <= set(eval_results)
    assert (out / "eval_null_odds.json").exists()
