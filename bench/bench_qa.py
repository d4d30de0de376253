#!/usr/bin/env python
"""QA benchmarks (issue 7, figure 4, and the issue-4 real run). Prints its figures; method in docs/benchmarks.md.

  python bench/bench_qa.py throughput   # train samples/s: our QA Trainer (run_qa) vs a bare Trainer, same features
  python bench/bench_qa.py postprocess  # vectorised n-best post-processing vs a per-example Python loop
  python bench/bench_qa.py full         # MiniLM, COVID-QA train windows -> dev windows: EM/F1/RO

Data: ../shared/data/covid_qa. Contexts are cut to 600-character windows around each answer so a CPU run takes
minutes (see clinqa_synth.qa.subsets).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COVID = ROOT.parent / "shared" / "data" / "covid_qa"


def windows(width: int = 600, train_limit: int | None = None, dev_limit: int | None = None) -> tuple[Path, Path]:
    from clinqa_synth.qa.gold import load_qa_file
    from clinqa_synth.qa.subsets import answer_windows

    out = Path(tempfile.mkdtemp(prefix="bench-qa-"))
    answer_windows(load_qa_file(COVID / "covid-qa-train.json", normalize_whitespace=True), width, train_limit).to_json(
        out / "train.jsonl"
    )
    answer_windows(load_qa_file(COVID / "covid-qa-dev.json", normalize_whitespace=True), width, dev_limit).to_json(
        out / "dev.jsonl"
    )
    return out / "train.jsonl", out / "dev.jsonl"


def throughput(steps: int, rounds: int = 3, warmup: int = 3) -> None:
    """Steady-state training step time of run_qa's Trainer vs a bare `Trainer` on the same features.

    Both get the same callback that timestamps every optimiser step; the first `warmup` steps (allocator and
    thread-pool warm-up) are dropped and the median of the rest is compared, alternating the two `rounds`
    times. `train_samples_per_second` (whole `train()` call) is printed too, but on a short CPU run it is
    dominated by one-off costs and by noise from the machine.
    """
    import datasets
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoTokenizer,
        HfArgumentParser,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        default_data_collator,
    )

    from clinqa_synth.qa.arguments import DataTrainingArguments, ModelArguments
    from clinqa_synth.qa.backbone import packaged_minilm_path
    from clinqa_synth.qa.features import FeatureSettings, prepare_train_features
    from clinqa_synth.qa.run import run_qa

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.stamps: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            self.stamps.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            self.stamps[-1] = time.perf_counter() - self.stamps[-1]

        def median_step_s(self) -> float:
            return statistics.median(self.stamps[warmup:])

    train, dev = windows(train_limit=steps * 16)
    common = [
        "--model_name_or_path",
        "packaged-minilm",
        "--max_seq_length",
        "256",
        "--doc_stride",
        "64",
        "--use_cpu",
        "--report_to",
        "none",
        "--per_device_train_batch_size",
        "16",
        "--max_steps",
        str(steps),
        "--seed",
        "42",
        "--save_strategy",
        "no",
        "--dataloader_num_workers",
        "0",
    ]
    path = packaged_minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    raw = datasets.load_dataset("json", data_files=str(train), split="train")
    features = raw.map(
        partial(prepare_train_features, tokenizer=tokenizer, settings=FeatureSettings(256, 64)),
        batched=True,
        remove_columns=raw.column_names,
    )
    rows = []
    for _ in range(rounds):
        clock = StepClock()
        args = TrainingArguments(
            output_dir=tempfile.mkdtemp(),
            per_device_train_batch_size=16,
            max_steps=steps,
            seed=42,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            dataloader_num_workers=0,
        )
        trainer = Trainer(
            model=AutoModelForQuestionAnswering.from_pretrained(path),
            args=args,
            train_dataset=features,
            data_collator=default_data_collator,
            callbacks=[clock],
        )
        bare_sps = trainer.train().metrics["train_samples_per_second"]
        bare_step = clock.median_step_s()
        clock = StepClock()
        parser = HfArgumentParser((ModelArguments, DataTrainingArguments, TrainingArguments))
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(
            args=["--train_file", str(train), "--do_train", "--output_dir", tempfile.mkdtemp(), *common]
        )
        result = run_qa(model_args, data_args, training_args, callbacks=[clock])
        rows.append(
            {
                "bare_median_step_s": round(bare_step, 4),
                "run_qa_median_step_s": round(clock.median_step_s(), 4),
                "step_ratio": round(bare_step / clock.median_step_s(), 3),
                "bare_samples_per_s": bare_sps,
                "run_qa_samples_per_s": result["train"]["train_samples_per_second"],
            }
        )
    ratios = [r["step_ratio"] for r in rows]
    print(
        json.dumps(
            {
                "steps": steps,
                "warmup_steps_dropped": warmup,
                "rounds": rows,
                "median_step_ratio": statistics.median(ratios),
            },
            indent=2,
        )
    )


def naive_postprocess(examples, features, start_logits, end_logits, n_best_size=20, max_answer_length=30):
    """The stock script's per-feature, per-candidate Python loop (for comparison only)."""
    by_example = collections.defaultdict(list)
    for i, example_id in enumerate(features["example_id"]):
        by_example[example_id].append(i)
    answers = {}
    for example in examples:
        best, best_score, min_null = "", -1e9, None
        for f in by_example[example["id"]]:
            s_log, e_log, offsets = start_logits[f], end_logits[f], features["offset_mapping"][f]
            null = s_log[0] + e_log[0]
            min_null = null if min_null is None or null < min_null else min_null
            for s in np.argsort(s_log)[-1 : -n_best_size - 1 : -1].tolist():
                for e in np.argsort(e_log)[-1 : -n_best_size - 1 : -1].tolist():
                    if s >= len(offsets) or e >= len(offsets) or offsets[s] is None or offsets[e] is None:
                        continue
                    if e < s or e - s + 1 > max_answer_length:
                        continue
                    score = s_log[s] + e_log[e]
                    if score > best_score:
                        best_score, best = score, example["context"][offsets[s][0] : offsets[e][1]]
        answers[example["id"]] = "" if min_null is not None and min_null > best_score else best
    return answers


def postprocess(n_examples: int, windows_per_example: int, length: int) -> None:
    from clinqa_synth.qa.postprocess import postprocess_predictions

    rng = np.random.default_rng(0)
    context = "word " * (length * 2)
    examples = [{"id": str(i), "context": context} for i in range(n_examples)]
    offsets = [None] * 20 + [(5 * k, 5 * k + 4) for k in range(length - 20)]
    n_features = n_examples * windows_per_example
    features = {
        "example_id": [str(i // windows_per_example) for i in range(n_features)],
        "offset_mapping": [offsets] * n_features,
    }

    import datasets

    table = datasets.Dataset.from_dict(features)  # what the trainer hands to post-processing
    start = rng.normal(size=(n_features, length)).astype(np.float32)
    end = rng.normal(size=(n_features, length)).astype(np.float32)
    t0 = time.perf_counter()
    ours = postprocess_predictions(examples, table, start, end, version_2_with_negative=True)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = naive_postprocess(examples, features, start, end)
    t_naive = time.perf_counter() - t0
    agree = sum(ours.answers[k] == naive[k] for k in naive) / len(naive)
    print(
        json.dumps(
            {
                "examples": n_examples,
                "features": n_features,
                "seq_len": length,
                "vectorised_s": round(t_ours, 2),
                "per_example_loop_s": round(t_naive, 2),
                "speedup": round(t_naive / t_ours, 1),
                "same_answers": round(agree, 4),
            },
            indent=2,
        )
    )


def full(epochs: float, train_limit: int | None) -> None:
    from clinqa_synth.qa.run import parse_and_run

    train, dev = windows(train_limit=train_limit)
    out = Path(tempfile.mkdtemp(prefix="bench-qa-full-"))
    results = parse_and_run(
        [
            "--model_name_or_path",
            "packaged-minilm",
            "--train_file",
            str(train),
            "--validation_file",
            str(dev),
            "--do_train",
            "--do_eval",
            "--max_seq_length",
            "256",
            "--doc_stride",
            "64",
            "--learning_rate",
            "5e-5",
            "--num_train_epochs",
            str(epochs),
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
            "--use_cpu",
            "--report_to",
            "none",
            "--seed",
            "42",
            "--output_dir",
            str(out),
        ]
    )
    keys = ("eval_exact", "eval_f1", "eval_ro", "eval_total")
    print(
        json.dumps(
            {
                "epochs": epochs,
                "train_windows": train_limit or "all",
                **{k: results["eval"][k] for k in keys},
                "train_samples_per_second": results["train"]["train_samples_per_second"],
                "train_runtime_s": results["train"]["train_runtime"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p = sub.add_parser("postprocess")
    p.add_argument("--examples", type=int, default=2000)
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--length", type=int, default=384)
    p = sub.add_parser("full")
    p.add_argument("--epochs", type=float, default=2)
    p.add_argument("--train-limit", type=int, help="use only the first N training windows")
    args = parser.parse_args()
    if args.what == "throughput":
        throughput(args.steps, args.rounds)
    elif args.what == "postprocess":
        postprocess(args.examples, args.windows, args.length)
    else:
        full(args.epochs, args.train_limit)
    sys.exit(0)
