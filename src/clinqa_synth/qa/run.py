"""The library behind `scripts/run_qa.py` and `clinqa-synth train`: load data, train, evaluate, predict, save.

Outputs match the stock script: `predictions.json`, `nbest_predictions.json`, `null_odds.json`
and `{train,eval,predict}_results.json` in `output_dir`. Evaluation and prediction produce
EM/F1 (SQuAD v2), Reference Overlap and their splits.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from typing import Any

import datasets

from clinqa_synth.errors import ClinqaError
from clinqa_synth.qa.arguments import DataTrainingArguments, ModelArguments
from clinqa_synth.qa.backbone import resolve_backbone
from clinqa_synth.qa.features import FeatureSettings, prepare_eval_features, prepare_train_features
from clinqa_synth.qa.gold import load_qa_dataset, load_qa_file
from clinqa_synth.qa.metrics import squad_v2_metrics
from clinqa_synth.qa.postprocess import Predictions, postprocess_predictions

logger = logging.getLogger("clinqa_synth.qa")


def load_splits(data: DataTrainingArguments, training: Any) -> dict[str, datasets.Dataset]:
    """train/validation/test as asked: a file wins over `--dataset_name` (the test split needs a file)."""
    wanted = (
        ("train", training.do_train, data.train_file, True, "--do_train needs --train_file or --dataset_name"),
        (
            "validation",
            training.do_eval,
            data.validation_file,
            True,
            "--do_eval needs --validation_file (a gold dev set) or a dataset with a validation split",
        ),
        ("test", training.do_predict, data.test_file, False, "--do_predict needs --test_file"),
    )
    limits = {"train": data.max_train_samples, "validation": data.max_eval_samples, "test": data.max_predict_samples}
    splits: dict[str, datasets.Dataset] = {}
    for name, asked, file, from_dataset, missing in wanted:
        if not asked:
            continue
        if file:
            split = load_qa_file(file, normalize_whitespace=data.normalize_whitespace)
        elif from_dataset and data.dataset_name:
            split = load_qa_dataset(data.dataset_name, data.dataset_config_name, name)
        else:
            raise ClinqaError(missing)
        limit = limits[name]
        splits[name] = split.select(range(min(limit, len(split)))) if limit is not None else split
    return splits


def _metrics(data: DataTrainingArguments, predictions: Predictions, examples: datasets.Dataset) -> dict[str, float]:
    references = [
        {"id": e["id"], "answers": e["answers"], "context": e["context"], "question": e["question"]} for e in examples
    ]
    na_probs = predictions.null_odds if data.version_2_with_negative else None
    return squad_v2_metrics(
        predictions.answers, references, na_probs=na_probs, prediction_offsets=predicted_offsets(predictions)
    )


def predicted_offsets(predictions: Predictions) -> dict[str, tuple[int, int] | None]:
    """Each answer's character span in its context (the n-best entry it came from), for `ro_span`."""
    offsets: dict[str, tuple[int, int] | None] = {}
    for qid, answer in predictions.answers.items():
        chosen = next((c for c in predictions.nbest.get(qid, []) if answer and c["text"] == answer), None)
        offsets[qid] = tuple(chosen["offsets"]) if chosen else None  # type: ignore[assignment]
    return offsets


def _write_predictions(output_dir: Path, predictions: Predictions, prefix: str = "") -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{prefix}predictions.json").write_text(json.dumps(predictions.answers, indent=2, ensure_ascii=False))
    (output_dir / f"{prefix}nbest_predictions.json").write_text(
        json.dumps(predictions.nbest, indent=1, ensure_ascii=False)
    )
    if predictions.null_odds:
        (output_dir / f"{prefix}null_odds.json").write_text(json.dumps(predictions.null_odds, indent=2))


def run_qa(
    model_args: ModelArguments, data: DataTrainingArguments, training: Any, callbacks: list[Any] | None = None
) -> dict[str, dict[str, float]]:
    """Train/evaluate/predict as configured; returns the metrics of each phase that ran.

    `callbacks` are `transformers.TrainerCallback`s handed to the Trainer (early stopping, timing, logging).
    """
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, default_data_collator, set_seed

    from clinqa_synth.qa.trainer import QuestionAnsweringTrainer

    set_seed(training.seed)
    splits = load_splits(data, training)
    model_path = resolve_backbone(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(
        resolve_backbone(model_args.tokenizer_name) if model_args.tokenizer_name else model_path,
        cache_dir=model_args.cache_dir,
    )
    if not getattr(tokenizer, "is_fast", False):
        raise ClinqaError(f"{model_path} has no fast tokenizer; offset mappings need one")
    model = AutoModelForQuestionAnswering.from_pretrained(model_path, cache_dir=model_args.cache_dir)
    settings = FeatureSettings(
        min(data.max_seq_length, tokenizer.model_max_length), data.doc_stride, data.pad_to_max_length
    )

    def featurize(split: datasets.Dataset, train: bool) -> datasets.Dataset:
        fn = prepare_train_features if train else prepare_eval_features
        return split.map(
            partial(fn, tokenizer=tokenizer, settings=settings),
            batched=True,
            num_proc=data.preprocessing_num_workers,
            remove_columns=split.column_names,
            load_from_cache_file=not data.overwrite_cache,
            desc="tokenising",
        )

    train_features = featurize(splits["train"], True) if "train" in splits else None
    eval_features = featurize(splits["validation"], False) if "validation" in splits else None
    post = partial(
        postprocess_predictions,
        version_2_with_negative=data.version_2_with_negative,
        n_best_size=data.n_best_size,
        max_answer_length=data.max_answer_length,
        null_score_diff_threshold=data.null_score_diff_threshold,
    )
    trainer = QuestionAnsweringTrainer(
        model=model,
        args=training,
        train_dataset=train_features,
        eval_dataset=eval_features,
        eval_examples=splits.get("validation"),
        processing_class=tokenizer,
        data_collator=default_data_collator,
        post_process=post,
        metrics_fn=partial(_metrics, data),
        callbacks=callbacks,
    )
    output_dir = Path(training.output_dir)
    results: dict[str, dict[str, float]] = {}
    if train_features is not None:
        outcome = trainer.train()
        trainer.save_model()
        metrics = dict(outcome.metrics)
        metrics["train_samples"] = len(train_features)
        trainer.save_metrics("train", metrics)
        trainer.save_state()
        results["train"] = metrics
    if eval_features is not None:
        metrics = trainer.evaluate()
        metrics["eval_samples"] = len(splits["validation"])
        trainer.save_metrics("eval", metrics)
        if trainer.last_predictions is not None:
            _write_predictions(output_dir, trainer.last_predictions, "eval_")
        results["eval"] = metrics
    if "test" in splits:
        test_features = featurize(splits["test"], False)
        output = trainer.predict(test_features, test_examples=splits["test"])
        metrics = dict(output.metrics)
        metrics["predict_samples"] = len(splits["test"])
        trainer.save_metrics("predict", metrics)
        if trainer.last_predictions is not None:
            _write_predictions(output_dir, trainer.last_predictions)
        results["predict"] = metrics
    return results


def parse_and_run(argv: list[str] | None = None, prog: str | None = None) -> dict[str, dict[str, float]]:
    """`scripts/run_qa.py` entry: HfArgumentParser over (ModelArguments, DataTrainingArguments, TrainingArguments).

    `prog` names the command in --help ("clinqa-synth train"); by default the script's own name.
    """
    import sys

    from transformers import HfArgumentParser, TrainingArguments

    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, TrainingArguments), prog=prog)
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        model_args, data_args, training_args = parser.parse_json_file(json_file=argv[0])
    else:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_qa(model_args, data_args, training_args)
