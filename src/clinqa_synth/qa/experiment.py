"""Multi-seed experiments: one model per (training set, seed), checkpoint chosen on the gold dev set, tested on gold test.

The paper reports mean ± sd over seeds 42, 1234 and 666; synthetic configs and gold data are run
side by side under the same settings so the table compares like with like. Presets carry the
paper's settings (RadQA: lr 1e-5, batch 8 × accumulation 2, 40 epochs, 512/128, SQuAD v2;
MIMIC-QA: batch 4 × 2, 10 epochs, SQuAD v1 style) for the paper's backbone (RoBERTa-large-PM-M3-Voc,
which you load from a local path).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clinqa_synth.errors import ClinqaError

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "radqa": {
        "data": {"version_2_with_negative": True, "max_seq_length": 512, "doc_stride": 128},
        "training": {"learning_rate": 1e-5, "per_device_train_batch_size": 8, "gradient_accumulation_steps": 2,
                     "num_train_epochs": 40},  # fmt: skip
    },
    "mimicqa": {
        "data": {"version_2_with_negative": False, "max_seq_length": 512, "doc_stride": 128},
        "training": {"learning_rate": 1e-5, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 2,
                     "num_train_epochs": 10},  # fmt: skip
    },
    "none": {"data": {}, "training": {}},
}
SELECTION = {"eval_strategy": "epoch", "save_strategy": "epoch", "load_best_model_at_end": True,
             "metric_for_best_model": "f1", "save_total_limit": 1, "report_to": "none"}  # fmt: skip
REPORTED = ("exact", "f1", "ro")


class TrainingSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    dataset_name: str | None = None
    dataset_config_name: str | None = None
    train_file: str | None = None


class ExperimentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    output_dir: str
    validation_file: str
    test_file: str
    training_sets: list[TrainingSet] = Field(min_length=1)
    model_name_or_path: str = "packaged-minilm"
    preset: str = "radqa"
    seeds: list[int] = [42, 1234, 666]
    data_args: dict[str, Any] = {}
    training_args: dict[str, Any] = {}


def load_experiment(path: str | Path) -> ExperimentConfig:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        config = ExperimentConfig.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ClinqaError(f"cannot read experiment config {path}: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ClinqaError(f"{path} is not a valid experiment config: {problems}") from None
    if config.preset not in PRESETS:
        raise ClinqaError(f"unknown preset {config.preset!r}; choose {', '.join(PRESETS)}")
    return config


def _run_one(config: ExperimentConfig, training_set: TrainingSet, seed: int, out: Path) -> dict[str, float]:
    from transformers import TrainingArguments

    from clinqa_synth.qa.arguments import DataTrainingArguments, ModelArguments
    from clinqa_synth.qa.run import run_qa

    preset = PRESETS[config.preset]
    data = DataTrainingArguments(
        dataset_name=training_set.dataset_name, dataset_config_name=training_set.dataset_config_name,
        train_file=training_set.train_file, validation_file=config.validation_file, test_file=config.test_file,
        **{**preset["data"], **config.data_args},
    )  # fmt: skip
    training = TrainingArguments(output_dir=str(out), seed=seed, do_train=True, do_eval=True, do_predict=True,
                                 **{**SELECTION, **preset["training"], **config.training_args})  # fmt: skip
    results = run_qa(ModelArguments(model_name_or_path=config.model_name_or_path), data, training)
    return {key: results["predict"][f"predict_{key}"] for key in REPORTED if f"predict_{key}" in results["predict"]}


def summarize_runs(runs: dict[str, dict[int, dict[str, float]]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Training set → metric → (mean, sd) over seeds (sd 0 for one seed)."""
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for name, by_seed in runs.items():
        table[name] = {}
        for metric in REPORTED:
            values = [scores[metric] for scores in by_seed.values() if metric in scores]
            if values:
                table[name][metric] = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
    return table


def markdown_table(table: dict[str, dict[str, tuple[float, float]]], seeds: list[int]) -> str:
    lines = ["| training set | EM | F1 | RO |", "|---|---:|---:|---:|"]
    for name, metrics in table.items():
        cells = [f"{metrics[m][0]:.1f} ± {metrics[m][1]:.1f}" if m in metrics else "–" for m in REPORTED]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Mean ± sd over seeds {', '.join(map(str, seeds))}; checkpoint chosen on the gold dev F1, scores on gold test.")
    return "\n".join(lines) + "\n"


def _file_digest(path: str | None) -> str | None:
    if not path or not Path(path).exists():
        return path  # a Hub dataset name or a missing file: its name is all we can key on
    digest = hashlib.sha256()
    target = Path(path)
    for file in sorted(target.rglob("*")) if target.is_dir() else [target]:
        if file.is_file():
            digest.update(file.read_bytes())
    return digest.hexdigest()


def run_fingerprint(config: ExperimentConfig, training_set: TrainingSet, seed: int) -> str:
    """Everything that shapes one run's scores: settings, seed and the bytes of its train/dev/test files.

    A finished run is reused on resume only when this matches, so an edited learning rate, another backbone
    or a regenerated training set is trained again instead of silently mixing into mean ± sd.
    """
    payload = {
        "training_set": training_set.model_dump(),
        "train_bytes": _file_digest(training_set.train_file),
        "validation_bytes": _file_digest(config.validation_file),
        "test_bytes": _file_digest(config.test_file),
        "seed": seed,
        **config.model_dump(exclude={"output_dir", "seeds", "training_sets"}),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_experiment(path: str | Path) -> dict[str, Any]:
    """Run every (training set, seed), writing `results.json` and `results.md` in output_dir as it goes.

    Resume: a finished (training set, seed) is kept only when its fingerprint (`run_fingerprint`) matches the
    current settings and files; runs of training sets or seeds no longer in the config are left out.
    """
    config = load_experiment(path)
    root = Path(config.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    results_path = root / "results.json"
    wanted = {(t.name, seed): run_fingerprint(config, t, seed) for t in config.training_sets for seed in config.seeds}
    runs: dict[str, dict[int, dict[str, float]]] = {}
    fingerprints: dict[str, dict[int, str]] = {}
    if results_path.exists():
        previous = json.loads(results_path.read_text())
        old_prints = previous.get("fingerprints", {})
        for name, by_seed in previous.get("runs", {}).items():
            for seed, scores in by_seed.items():
                fingerprint = old_prints.get(name, {}).get(str(seed))
                if fingerprint is not None and wanted.get((name, int(seed))) == fingerprint:
                    runs.setdefault(name, {})[int(seed)] = scores
                    fingerprints.setdefault(name, {})[int(seed)] = fingerprint
    for training_set in config.training_sets:
        for seed in config.seeds:
            if seed in runs.get(training_set.name, {}):
                continue
            scores = _run_one(config, training_set, seed, root / training_set.name / f"seed{seed}")
            runs.setdefault(training_set.name, {})[seed] = scores
            fingerprints.setdefault(training_set.name, {})[seed] = wanted[(training_set.name, seed)]
            table = summarize_runs(runs)
            payload = {"config": config.model_dump(), "runs": runs, "fingerprints": fingerprints,
                       "table": {n: {m: list(v) for m, v in t.items()} for n, t in table.items()}}  # fmt: skip
            results_path.write_text(json.dumps(payload, indent=2))
            (root / "results.md").write_text(markdown_table(table, config.seeds))
    return json.loads(results_path.read_text())
