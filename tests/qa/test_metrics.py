"""SQuAD v2 + Reference Overlap metrics on hand-worked cases."""

from __future__ import annotations

import pytest
from conftest import require_module

from clinqa_synth.qa.metrics import f1_score, normalize_answer, reference_overlap, squad_v2_metrics

CONTEXT = "No pneumothorax. A small left pleural effusion. No pneumothorax on the right either."


def ref(qid: str, texts: list[str], context: str = CONTEXT, question: str = "Is there an effusion?") -> dict:
    starts = [context.find(t) for t in texts]
    return {"id": qid, "answers": {"text": texts, "answer_start": starts}, "context": context, "question": question}


def test_normalisation_is_the_official_one() -> None:
    assert normalize_answer("The  Left, pleural effusion!") == "left pleural effusion"
    assert normalize_answer("an A the") == ""


def test_f1_by_hand() -> None:
    # gold: small left pleural effusion (4 tokens); pred: left pleural effusion seen (4 tokens); common 3
    assert f1_score("small left pleural effusion", "left pleural effusion seen") == pytest.approx(0.75)
    assert f1_score("", "") == 1.0 and f1_score("", "x") == 0.0


def test_best_over_multiple_golds_and_has_no_ans_splits() -> None:
    refs = [ref("q1", ["small left pleural effusion", "left pleural effusion"]), ref("q2", [])]
    metrics = squad_v2_metrics({"q1": "left pleural effusion", "q2": ""}, refs)
    assert metrics["exact"] == 100.0 and metrics["f1"] == 100.0
    assert metrics["HasAns_exact"] == 100.0 and metrics["NoAns_exact"] == 100.0
    assert metrics["HasAns_total"] == 1 and metrics["NoAns_total"] == 1


def test_empty_prediction_on_answerable_and_answer_on_unanswerable_score_zero() -> None:
    refs = [ref("q1", ["small left pleural effusion"]), ref("q2", [])]
    metrics = squad_v2_metrics({"q1": "", "q2": "pneumothorax"}, refs)
    assert metrics["exact"] == 0.0 and metrics["f1"] == 0.0 and metrics["ro"] == 0.0


def test_threshold_search_from_null_odds() -> None:
    refs = [ref("q1", ["small left pleural effusion"]), ref("q2", [])]
    predictions = {"q1": "small left pleural effusion", "q2": "pneumothorax"}
    # q2 is very likely null (high odds), q1 not: answering only q1 is perfect at threshold between them.
    metrics = squad_v2_metrics(predictions, refs, na_probs={"q1": -3.0, "q2": 2.0})
    assert metrics["exact"] == 50.0
    assert metrics["best_exact"] == 100.0 and metrics["best_exact_thresh"] == -3.0
    assert metrics["best_f1"] == 100.0


def test_no_answer_threshold_turns_predictions_into_null() -> None:
    refs = [ref("q1", ["small left pleural effusion"]), ref("q2", [])]
    metrics = squad_v2_metrics(
        {"q1": "small left pleural effusion", "q2": "pneumothorax"},
        refs,
        na_probs={"q1": 0.1, "q2": 0.9},
        na_prob_threshold=0.5,
    )
    assert metrics["exact"] == 100.0


@pytest.mark.parametrize(
    "prediction,gold,expected",
    [
        ("", "", True),  # both empty
        ("", "small left pleural effusion", False),  # one empty
        ("pleural effusion", "", False),
        ("left pleural", "small left pleural effusion", True),  # partial overlap inside
        ("effusion. No pneumothorax", "small left pleural effusion", True),  # overlaps the gold's end
        ("A small", "pleural effusion", False),  # adjacent, not overlapping
        ("the right either", "small left pleural effusion", False),
        ("No pneumothorax", "pneumothorax on the right", True),  # 2nd occurrence of the prediction overlaps
        ("not in context", "small left pleural effusion", False),
    ],
)
def test_reference_overlap_cases(prediction: str, gold: str, expected: bool) -> None:
    assert reference_overlap(prediction, gold, CONTEXT) is expected


def test_ro_uses_the_first_gold_only_and_splits_by_lexical_overlap() -> None:
    refs = [
        ref("q1", ["small left pleural effusion", "No pneumothorax"], question="Is there an effusion?"),
        ref("q2", ["No pneumothorax"], question="Any collapsed lung?"),  # shares no content word with the context
    ]
    metrics = squad_v2_metrics({"q1": "No pneumothorax", "q2": "No pneumothorax"}, refs)
    # q1: the prediction matches the 2nd gold for EM but RO looks at the first gold only → miss.
    assert metrics["exact"] == 100.0
    assert metrics["ro"] == 50.0
    assert metrics["ro_overlap"] == 0.0 and metrics["ro_no_overlap"] == 100.0
    assert metrics["overlap_total"] == 1 and metrics["no_overlap_total"] == 1


def test_missing_prediction_is_an_error() -> None:
    with pytest.raises(KeyError, match="q1"):
        squad_v2_metrics({}, [ref("q1", ["x"])])


def test_local_evaluate_module_matches_the_library() -> None:
    evaluate = require_module("evaluate")
    from clinqa_synth.qa import evaluate_module_path

    metric = evaluate.load(evaluate_module_path())
    refs = [ref("q1", ["small left pleural effusion"]), ref("q2", [])]
    result = metric.compute(
        predictions=[
            {"id": "q1", "prediction_text": "left pleural effusion", "no_answer_probability": 0.0},
            {"id": "q2", "prediction_text": "", "no_answer_probability": 0.0},
        ],
        references=refs,
    )
    # by hand, official SQuAD v2 rules: q1 EM 0, F1 = 2·1·0.75/1.75 = 0.857142…; q2 (no answer, empty) EM 1, F1 1
    assert result["exact"] == pytest.approx(50.0)
    assert result["f1"] == pytest.approx(100 * (6 / 7 + 1) / 2)
    assert result["HasAns_f1"] == pytest.approx(100 * 6 / 7) and result["NoAns_exact"] == pytest.approx(100.0)
    assert result["total"] == 2


def test_no_answer_threshold_applies_to_ro_too() -> None:
    refs = [ref("q1", ["small left pleural effusion"]), ref("q2", [])]
    predictions = {"q1": "left pleural effusion", "q2": "pneumothorax"}
    plain = squad_v2_metrics(predictions, refs)
    assert plain["ro"] == 50.0  # q1 overlaps; q2 answered where gold is empty
    held = squad_v2_metrics(predictions, refs, na_probs={"q1": 0.9, "q2": 0.9}, na_prob_threshold=0.5)
    assert held["exact"] == 50.0 and held["ro"] == 50.0  # both abstain: q1 misses, q2 (empty/empty) matches


def test_ro_span_needs_the_predicted_span_itself_to_overlap_the_gold() -> None:
    context = "No effusion on the left. Small effusion on the right."
    gold_start = context.index("Small effusion")
    refs = [
        {
            "id": "q1",
            "context": context,
            "answers": {"text": ["Small effusion on the right"], "answer_start": [gold_start]},
        }
    ]
    # the predicted words "effusion on the" occur inside the gold too, so the paper's RO credits them anywhere
    wrong_place = (context.index("effusion on the left"), context.index("effusion on the left") + 15)
    metrics = squad_v2_metrics({"q1": "effusion on the"}, refs, prediction_offsets={"q1": wrong_place})
    assert metrics["ro"] == 100.0 and metrics["ro_span"] == 0.0
    right_place = (gold_start + 6, gold_start + 21)
    metrics = squad_v2_metrics({"q1": "effusion on the"}, refs, prediction_offsets={"q1": right_place})
    assert metrics["ro_span"] == 100.0


def test_experiment_resumes_only_runs_whose_settings_and_files_are_unchanged(tmp_path, monkeypatch) -> None:
    import json

    import yaml

    from clinqa_synth.qa import experiment

    trained: list[tuple[str, int]] = []

    def fake_run(config, training_set, rows, seed, out):  # noqa: ANN001 - the trainer itself is tested in test_training
        trained.append((training_set.name, seed))
        return {"exact": float(seed % 7), "f1": float(config.training_args.get("learning_rate", 1)), "ro": 1.0}

    monkeypatch.setattr(experiment, "_run_one", fake_run)

    def qa_row(qid: str, context: str) -> str:
        return (
            json.dumps(
                {
                    "id": qid,
                    "title": "t",
                    "context": context,
                    "question": "What?",
                    "answers": {"text": [context.split()[0]], "answer_start": [0]},
                }
            )
            + "\n"
        )

    train = tmp_path / "train.jsonl"
    train.write_text(qa_row("a", "Alpha training context."))
    dev = tmp_path / "dev.jsonl"
    dev.write_text(qa_row("d", "Delta held-out context."))
    config = {
        "output_dir": str(tmp_path / "runs"),
        "validation_file": str(dev),
        "test_file": str(dev),
        "model_name_or_path": "m",
        "seeds": [1, 2],
        "training_sets": [{"name": "s", "train_file": str(train)}],
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    experiment.run_experiment(path)
    assert trained == [("s", 1), ("s", 2)]
    experiment.run_experiment(path)
    assert len(trained) == 2, "unchanged runs are reused"
    path.write_text(yaml.safe_dump({**config, "training_args": {"learning_rate": 3e-5}}))
    result = experiment.run_experiment(path)
    assert len(trained) == 4, "changed settings retrain instead of mixing into mean ± sd"
    assert result["table"]["s"]["f1"][0] == 3e-5
    train.write_text(qa_row("b", "Beta training context."))
    experiment.run_experiment(path)
    assert len(trained) == 6, "a regenerated training file retrains"


def test_every_seed_trains_on_the_rows_read_when_the_experiment_started(tmp_path, monkeypatch) -> None:
    """A set re-merged while a CPU experiment runs for hours must not hand later seeds other rows than the first."""
    import json

    import yaml

    from clinqa_synth.qa import experiment

    def qa_line(qid: str, context: str) -> str:
        answers = {"text": [context.split()[0]], "answer_start": [0]}
        return json.dumps({"id": qid, "title": "t", "context": context, "question": "What?", "answers": answers})

    train = tmp_path / "train.jsonl"
    train.write_text(qa_line("a", "Alpha training context.") + "\n")
    dev = tmp_path / "dev.jsonl"
    dev.write_text(qa_line("d", "Delta held-out context.") + "\n")
    seen: list[list[str]] = []

    def fake_run(config, training_set, rows, seed, out):  # noqa: ANN001
        seen.append([row["id"] for row in rows])
        train.write_text(qa_line("b", "Beta rows merged in meanwhile.") + "\n")  # the file changes mid-experiment
        return {"f1": 1.0}

    monkeypatch.setattr(experiment, "_run_one", fake_run)
    config = {"output_dir": str(tmp_path / "runs"), "validation_file": str(dev), "model_name_or_path": "m",
              "seeds": [1, 2], "training_sets": [{"name": "s", "train_file": str(train)}]}  # fmt: skip
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    result = experiment.run_experiment(path)
    assert seen == [["a"], ["a"]]
    assert set(result["runs"]["s"]) == {"1", "2"}, "both recorded under the fingerprint of the rows they trained on"


def test_experiment_only_trains_the_named_sets_and_keeps_the_others_finished_runs(tmp_path, monkeypatch) -> None:
    """`--only`: a set whose data is still being generated (its folder missing) does not hold up the others."""
    import json

    import yaml

    from clinqa_synth.errors import ClinqaError
    from clinqa_synth.qa import experiment

    trained: list[str] = []

    def fake_run(config, training_set, rows, seed, out):  # noqa: ANN001 - the trainer itself is tested in test_training
        trained.append(training_set.name)
        return {"exact": 1.0, "f1": 2.0, "ro": 3.0}

    monkeypatch.setattr(experiment, "_run_one", fake_run)
    row = {"id": "a", "title": "t", "context": "Alpha training context.", "question": "What?",
           "answers": {"text": ["Alpha"], "answer_start": [0]}}  # fmt: skip
    for name in ("gold", "other"):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({**row, "id": name}) + "\n")
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        json.dumps(
            {
                **row,
                "id": "d",
                "context": "Delta held-out context.",
                "answers": {"text": ["Delta"], "answer_start": [0]},
            }
        )
        + "\n"
    )
    sets = [
        {"name": "gold", "train_file": str(tmp_path / "gold.jsonl")},
        {"name": "other", "train_file": str(tmp_path / "other.jsonl")},
        {"name": "pending", "dataset_name": str(tmp_path / "not-generated-yet"), "dataset_config_name": "x"},
    ]
    config = {"output_dir": str(tmp_path / "runs"), "validation_file": str(dev), "model_name_or_path": "m",
              "seeds": [1], "training_sets": sets}  # fmt: skip
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    experiment.run_experiment(path, only=["gold"])
    result = experiment.run_experiment(path, only=["other"])
    assert trained == ["gold", "other"]
    assert list(result["table"]) == ["gold", "other"], "the table keeps gold's finished run, in the config's order"
    with pytest.raises(ClinqaError, match="names no training set.*gold, other, pending"):
        experiment.run_experiment(path, only=["golden"])


def test_two_experiments_on_one_output_dir_keep_each_others_runs(tmp_path, monkeypatch) -> None:
    """`--only other` started while `--only gold` was running: its write must merge, not drop gold's run."""
    import json

    import yaml

    from clinqa_synth.qa import experiment

    row = {"id": "a", "title": "t", "context": "Alpha training context.", "question": "What?",
           "answers": {"text": ["Alpha"], "answer_start": [0]}}  # fmt: skip
    for name in ("gold", "other", "dev"):
        context = "Delta held-out context." if name == "dev" else f"{name} training context."
        answers = {"text": [context.split()[0]], "answer_start": [0]}
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({**row, "context": context, "answers": answers}) + "\n")
    config = {"output_dir": str(tmp_path / "runs"), "validation_file": str(tmp_path / "dev.jsonl"),
              "model_name_or_path": "m", "seeds": [1], "training_sets": [
                  {"name": n, "train_file": str(tmp_path / f"{n}.jsonl")} for n in ("gold", "other")]}  # fmt: skip
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))

    def fake_run(config, training_set, rows, seed, out):  # noqa: ANN001
        if training_set.name == "other":  # meanwhile, another process finishes gold
            experiment.run_experiment(path, only=["gold"])
        return {"exact": 1.0, "f1": 2.0, "ro": 3.0}

    monkeypatch.setattr(experiment, "_run_one", fake_run)
    result = experiment.run_experiment(path, only=["other"])
    assert set(result["runs"]) == {"gold", "other"}
    assert "| gold |" in (tmp_path / "runs" / "results.md").read_text()


def test_parallel_runs_that_fail_are_named_in_one_error(tmp_path) -> None:
    """--jobs: a worker's failure is reported with its run, after the other runs are recorded (real spawn pool)."""
    import json

    import yaml

    from clinqa_synth.errors import ClinqaError
    from clinqa_synth.qa import experiment

    for name, context in (("train", "Alpha training context."), ("dev", "Delta held-out context.")):
        qa = {"id": name, "title": "t", "context": context, "question": "What?",
              "answers": {"text": [context.split()[0]], "answer_start": [0]}}  # fmt: skip
        (tmp_path / f"{name}.jsonl").write_text(json.dumps(qa) + "\n")
    config = {"output_dir": str(tmp_path / "runs"), "validation_file": str(tmp_path / "dev.jsonl"),
              "model_name_or_path": str(tmp_path / "no-such-backbone"), "seeds": [1, 2],
              "training_sets": [{"name": "s", "train_file": str(tmp_path / "train.jsonl")}]}  # fmt: skip
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ClinqaError, match=r"2 of 2 runs failed.*s seed"):
        experiment.run_experiment(path, jobs=2)


def test_a_folder_config_retrains_when_its_rows_change_not_when_the_folder_gains_another(tmp_path, monkeypatch) -> None:
    """Fingerprints hash a config's own parquet files: merging `prefix` into the folder must not retrain `direct`."""
    import json

    import yaml
    from tests_support import write_config

    from clinqa_synth.qa import experiment

    trained: list[str] = []
    monkeypatch.setattr(experiment, "_run_one", lambda c, t, rows, seed, out: trained.append(t.name) or {"f1": 1.0})
    folder = tmp_path / "data"
    write_config(folder, "direct", ["What is seen?"])
    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps({"id": "d", "title": "t", "context": "Held-out text.", "question": "Which?",
                               "answers": {"text": ["Held-out"], "answer_start": [0]}}) + "\n")  # fmt: skip
    config = {"output_dir": str(tmp_path / "runs"), "validation_file": str(dev), "model_name_or_path": "m",
              "seeds": [1], "training_sets": [{"name": "direct", "dataset_name": str(folder),
                                               "dataset_config_name": "direct"}]}  # fmt: skip
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    experiment.run_experiment(path)
    write_config(folder, "prefix", ["Another question?"])  # the folder's card and file list change
    experiment.run_experiment(path)
    assert trained == ["direct"], "another config in the folder is not a change to direct's rows"
    write_config(folder, "direct", ["What is seen now?"])  # direct regenerated
    experiment.run_experiment(path)
    assert trained == ["direct", "direct"]
