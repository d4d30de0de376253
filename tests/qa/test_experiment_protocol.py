"""The experiment's rules a researcher relies on, and the public-benchmark passages (no training: milliseconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import SHARED_DATA

from clinqa_synth.errors import ClinqaError
from clinqa_synth.qa import experiment
from clinqa_synth.qa.passages import gold_for_passages, sample_passages, windows

CONTEXT = (
    "Coronaviruses are enveloped RNA viruses. The spike protein binds the ACE2 receptor on host cells. "
    "Incubation lasts two to fourteen days in most patients."
)


def qa_file(path: Path, context: str, qid: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "id": qid,
                "title": "t",
                "context": context,
                "question": "What binds ACE2?",
                "answers": {"text": ["The spike protein"], "answer_start": [context.index("The spike")]},
            }
        )
        + "\n"
    )
    return path


def write_config(tmp_path: Path, **overrides) -> Path:  # noqa: ANN003
    config = {
        "output_dir": str(tmp_path / "runs"),
        "validation_file": str(qa_file(tmp_path / "dev.jsonl", CONTEXT, "d")),
        "model_name_or_path": "packaged-minilm",
        "seeds": [1],
        "training_sets": [{"name": "s", "train_file": str(tmp_path / "train.jsonl")}],
        **overrides,
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_missing_backbone_is_an_error_that_names_the_choices(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = yaml.safe_load(path.read_text())
    del config["model_name_or_path"]
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ClinqaError, match="packaged-minilm"):
        experiment.load_experiment(path)


def test_a_training_set_from_held_out_documents_is_refused_before_training(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(experiment, "_run_one", lambda *a: pytest.fail("trained despite the leak"))
    qa_file(tmp_path / "train.jsonl", CONTEXT.split(". ", 1)[1], "t")  # a window of the dev document
    with pytest.raises(ClinqaError, match="leaks"):
        experiment.run_experiment(write_config(tmp_path))


def test_a_training_argument_transformers_does_not_take_is_named_before_training(tmp_path: Path, monkeypatch) -> None:
    """transformers 5 dropped warmup_ratio: one clear error up front, not a TypeError in the first run."""
    monkeypatch.setattr(experiment, "_run_one", lambda *a: pytest.fail("trained despite the bad key"))
    qa_file(tmp_path / "train.jsonl", "Masks reduce droplet spread. The spike protein is a target.", "t")
    path = write_config(tmp_path, training_args={"warmup_ratio": 0.1, "learning_rate": 1e-4})
    with pytest.raises(ClinqaError, match="training_args .* warmup_ratio.*warmup_steps: 0.1"):
        experiment.run_experiment(path)


def test_a_training_set_may_mix_synthetic_and_gold_files(tmp_path: Path) -> None:
    synthetic = qa_file(
        tmp_path / "synthetic.jsonl", "Masks reduce droplet spread. The spike protein is a target.", "s1"
    )
    gold = qa_file(tmp_path / "gold.jsonl", "Vaccines train immunity. The spike protein is the antigen.", "g1")
    path = write_config(
        tmp_path, training_sets=[{"name": "mixed", "mix": [{"train_file": str(synthetic)}, {"train_file": str(gold)}]}]
    )
    config = experiment.load_experiment(path)
    rows = experiment.training_rows(config.training_sets[0])
    assert [r["id"] for r in rows] == ["s1", "g1"]


def test_results_table_has_the_splits_and_says_where_it_was_scored() -> None:
    runs = {
        "direct": {
            1: {"exact": 10.0, "f1": 20.0, "ro": 30.0, "HasAns_f1": 20.0, "ro_overlap": 40.0, "ro_no_overlap": 5.0}
        }
    }
    table = experiment.markdown_table(experiment.summarize_runs(runs), [1], scored_on_dev=True)
    assert "RO no overlap" in table and "same gold dev split" in table
    assert "5.0 (1 run)" in table and "±" not in table.split("Mean")[0], "one seed has no sd to show"
    runs["direct"][2] = {**runs["direct"][1], "ro_no_overlap": 7.0}
    two = experiment.markdown_table(experiment.summarize_runs(runs), [1, 2], runs_per_set={"direct": 2})
    assert "6.0 ± 1.4" in two


def test_passages_are_report_sized_deterministic_and_carry_their_gold_questions() -> None:
    articles = json.loads((SHARED_DATA / "covid_qa" / "covid-qa-train.json").read_text())["data"]
    first = sample_passages(articles, 12, seed=0)
    assert first == sample_passages(articles, 12, seed=0) and first != sample_passages(articles, 12, seed=1)
    assert all(800 <= len(p.text) <= 2500 for p in first)
    gold = gold_for_passages(articles, first)
    bearing = [d for d in gold["data"] if d["paragraphs"][0]["qas"]]
    assert len(bearing) == 6, "half the passages hold a gold answer"
    for article in gold["data"]:
        paragraph = article["paragraphs"][0]
        for qa in paragraph["qas"]:
            answer = qa["answers"][0]
            assert (
                paragraph["context"][answer["answer_start"] : answer["answer_start"] + len(answer["text"])]
                == answer["text"]
            )


def test_articles_without_id_or_title_get_their_gold_questions_too() -> None:
    """Passages and gold name an unnamed article alike (its position), so the gold of the same passages is not empty."""
    context = " ".join(f"Sentence {i} reports that marker M{i} rose in cohort {i}." for i in range(40))
    qas = [
        {
            "id": "q",
            "question": "Which marker?",
            "answers": [{"text": "marker M3", "answer_start": context.index("marker M3")}],
        }
    ]
    articles = [{"paragraphs": [{"context": context, "qas": qas}]}, {"paragraphs": [{"context": context, "qas": []}]}]
    passages = sample_passages(articles, 2, target_chars=400, answer_bearing_share=0.5)
    assert {p.article_id for p in passages} <= {"article0", "article1"}
    gold = gold_for_passages(articles, passages)
    assert [qa["id"] for d in gold["data"] for qa in d["paragraphs"][0]["qas"]] == ["q@article0-w0"]


def test_windows_end_at_sentence_ends_and_cover_the_text() -> None:
    text = " ".join(f"Sentence number {i} says something about the virus." for i in range(60))
    spans = list(windows(text, 400))
    assert all(text[start:end].endswith(".") for start, end in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)


def test_dev_questions_are_scored_on_the_window_that_holds_their_answer() -> None:
    """The scoring set: each dev question on its report-sized window, offsets re-based; straddlers left out."""
    sentences = [f"Sentence {i} reports that marker M{i} rose in cohort {i}." for i in range(40)]
    context = " ".join(sentences)
    first = list(windows(context, 400))[1]
    inside = context.index("marker M12")  # in the second window
    straddle_at = first[1] - 5  # an answer that crosses the window's end
    qas = [
        {"id": "in", "question": "Which marker rose?", "answers": [{"text": "marker M12", "answer_start": inside}]},
        {"id": "across", "question": "What crossed?",
         "answers": [{"text": context[straddle_at : straddle_at + 12], "answer_start": straddle_at}]},
    ]  # fmt: skip
    articles = [{"title": "paper", "paragraphs": [{"context": context, "document_id": "p1", "qas": qas}]}]
    from clinqa_synth.qa.passages import answer_windows

    scored, left_out = answer_windows(articles, target_chars=400)
    assert left_out == 1
    [entry] = scored["data"]
    paragraph = entry["paragraphs"][0]
    assert context[first[0] : first[1]] == paragraph["context"] and len(paragraph["context"]) < 600
    [qa] = paragraph["qas"]
    start = qa["answers"][0]["answer_start"]
    assert qa["id"] == "in@p1-w1" and paragraph["context"][start : start + 10] == "marker M12"


def test_the_committed_dev_windows_are_those_make_passages_cuts() -> None:
    """experiments/covidqa/dev_windows.json is reproducible from the public dev split (no hand edits)."""
    from clinqa_synth.qa.passages import answer_windows

    dev = json.loads((SHARED_DATA / "covid_qa" / "covid-qa-dev.json").read_text())["data"]
    committed = Path(__file__).resolve().parents[2] / "experiments" / "covidqa" / "dev_windows.json"
    scored, left_out = answer_windows(dev)
    assert scored == json.loads(committed.read_text()) and left_out == 5
