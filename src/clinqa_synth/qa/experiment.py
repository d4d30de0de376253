"""Multi-seed experiments: one model per (training set, seed), checkpoint chosen on gold dev, tested on gold test.

The paper reports mean ± sd over seeds 42, 1234 and 666; synthetic configs and gold data are run
side by side under the same settings so the table compares like with like. Presets carry the
paper's settings (RadQA: lr 1e-5, batch 8 × accumulation 2, 40 epochs, 512/128, SQuAD v2;
MIMIC-QA: batch 4 × 2, 10 epochs, SQuAD v1 style) for the paper's backbone (RoBERTa-large-PM-M3-Voc,
which you load from a local path).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import statistics
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clinqa_synth.dataset.folder import atomic_write_text, folder_lock
from clinqa_synth.errors import ClinqaError

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "radqa": {
        "data": {"version_2_with_negative": True, "max_seq_length": 512, "doc_stride": 128},
        "training": {
            "learning_rate": 1e-5,
            "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": 2,
            "num_train_epochs": 40,
        },
    },
    "mimicqa": {
        "data": {"version_2_with_negative": False, "max_seq_length": 512, "doc_stride": 128},
        "training": {
            "learning_rate": 1e-5,
            "per_device_train_batch_size": 4,
            "gradient_accumulation_steps": 2,
            "num_train_epochs": 10,
        },
    },
    "none": {"data": {}, "training": {}},
}
SELECTION = {
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "load_best_model_at_end": True,
    "metric_for_best_model": "f1",
    "save_total_limit": 1,
    "report_to": "none",
}
REPORTED = ("exact", "f1", "ro")
# the splits the paper discusses, in results.md beside the headline: answerable / unanswerable gold questions, and
# questions that share / do not share a content word with their context (RO is where synthetic data shows)
SPLITS = (
    ("HasAns_f1", "F1 answerable"),
    ("NoAns_f1", "F1 unanswerable"),
    ("ro_overlap", "RO overlap"),
    ("ro_no_overlap", "RO no overlap"),
)


class TrainingSource(BaseModel):
    """One part of a training set: a clinqa-synth folder config (or Hub dataset), or a QA file."""

    model_config = ConfigDict(extra="forbid")
    dataset_name: str | None = None
    dataset_config_name: str | None = None
    train_file: str | None = None


class TrainingSet(BaseModel):
    """A named training set: one source (the keys inline) or several mixed (`mix: [...]`, e.g. synthetic + gold)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    dataset_name: str | None = None
    dataset_config_name: str | None = None
    train_file: str | None = None
    mix: list[TrainingSource] = []

    def sources(self) -> list[TrainingSource]:
        inline = TrainingSource(
            dataset_name=self.dataset_name, dataset_config_name=self.dataset_config_name, train_file=self.train_file
        )
        return ([inline] if inline.dataset_name or inline.train_file else []) + list(self.mix)


class ExperimentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    output_dir: str
    validation_file: str
    # without a test file the checkpoint is chosen on the dev split and scored on it too (said in results.md)
    test_file: str | None = None
    training_sets: list[TrainingSet] = Field(min_length=1)
    model_name_or_path: str  # required: a silent default backbone would make every table look like MiniLM's
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
        if any(e["loc"] == ("model_name_or_path",) for e in exc.errors()):
            problems += (
                " — name the backbone: model_name_or_path: packaged-minilm (the small offline encoder, for "
                "smoke runs) or a path / Hub id of a real one (the paper: RoBERTa-large-PM-M3-Voc)"
            )
        raise ClinqaError(f"{path} is not a valid experiment config: {problems}") from None
    if config.preset not in PRESETS:
        raise ClinqaError(f"unknown preset {config.preset!r}; choose {', '.join(PRESETS)}")
    for training_set in config.training_sets:
        if not training_set.sources():
            raise ClinqaError(
                f"{path}: training set {training_set.name!r} has no data: give dataset_name "
                "(+ dataset_config_name), train_file, or mix: [...]"
            )
    return config


def training_rows(training_set: TrainingSet) -> list[dict[str, Any]]:
    """Every row of a training set's sources, in the SQuAD columns the trainer reads."""
    from clinqa_synth.qa.gold import load_qa_dataset, load_qa_file

    rows: list[dict[str, Any]] = []
    for source in training_set.sources():
        split = (
            load_qa_file(source.train_file)
            if source.train_file
            else load_qa_dataset(str(source.dataset_name), source.dataset_config_name, "train")
        )
        rows += [{k: row[k] for k in ("id", "title", "context", "question", "answers")} for row in split]
    return rows


def _squash(text: str) -> str:
    return " ".join(text.split()).lower()


def check_leakage(rows: list[dict[str, Any]], evaluation_files: list[str], name: str) -> None:
    """Refuse a training set whose contexts come from documents of the gold dev/test files (scores would lie)."""
    from clinqa_synth.qa.gold import load_qa_file

    held_out = {_squash(c) for file in evaluation_files for c in load_qa_file(file)["context"]}
    for context in {_squash(r["context"]) for r in rows}:
        if len(context) < 80:
            continue  # a very short context ("No acute findings.") is not evidence of a shared document
        for other in held_out:
            if context in other or other in context:
                raise ClinqaError(
                    f"training set {name!r} leaks: one of its contexts ({context[:80]!r}…) is part of a document in "
                    f"the dev/test files ({', '.join(evaluation_files)}). Generate from documents of the training "
                    "split only."
                )


# set per run by _run_one from the experiment's own keys; an override would collide ("got multiple values")
OWNED_ARGUMENTS = frozenset(
    {"seed", "output_dir", "do_train", "do_eval", "do_predict", "train_file", "validation_file", "test_file"}
)


def check_argument_names(config: ExperimentConfig, path: str | Path) -> None:
    """Unknown data_args/training_args keys, named before any training (transformers renames keys between versions)."""
    import dataclasses

    import transformers
    from transformers import TrainingArguments

    from clinqa_synth.qa.arguments import DataTrainingArguments

    for key, cls, values in (
        ("data_args", DataTrainingArguments, config.data_args),
        ("training_args", TrainingArguments, config.training_args),
    ):
        unknown = sorted(set(values) - {field.name for field in dataclasses.fields(cls)})
        owned = sorted(set(values) & OWNED_ARGUMENTS)
        if owned:
            raise ClinqaError(
                f"{path}: {key} sets {', '.join(owned)}, which the experiment sets itself per run (seeds, output_dir, "
                "the files and what to run come from the experiment's own keys): remove them"
            )
        if unknown:
            raise ClinqaError(
                f"{path}: {key} has keys {cls.__name__} of transformers {transformers.__version__} does not take: "
                f"{', '.join(unknown)}. Fix the names (in transformers 5 a warmup share is warmup_steps: 0.1)."
            )


def _run_one(
    config: ExperimentConfig, training_set: TrainingSet, rows: list[dict[str, Any]], seed: int, out: Path
) -> dict[str, float]:
    """Train and score one (training set, seed) on `rows`, the set's rows as read when the experiment started."""
    from transformers import TrainingArguments

    from clinqa_synth.qa.arguments import DataTrainingArguments, ModelArguments
    from clinqa_synth.qa.run import run_qa

    preset = PRESETS[config.preset]
    out.mkdir(parents=True, exist_ok=True)
    train_file = out / "train.jsonl"  # the set's sources as one file: mixed sets train like single ones
    with open(train_file, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    data = DataTrainingArguments(
        train_file=str(train_file),
        validation_file=config.validation_file,
        test_file=config.test_file,
        **{**preset["data"], **config.data_args},
    )
    has_test = config.test_file is not None
    training = TrainingArguments(
        output_dir=str(out),
        seed=seed,
        do_train=True,
        do_eval=True,
        do_predict=has_test,
        **{**SELECTION, **preset["training"], **config.training_args},
    )
    results = run_qa(ModelArguments(model_name_or_path=config.model_name_or_path), data, training)
    scores = results["predict"] if has_test else results["eval"]
    prefix = "predict_" if has_test else "eval_"
    wanted = REPORTED + tuple(key for key, _ in SPLITS)
    return {key: scores[prefix + key] for key in wanted if prefix + key in scores}


def summarize_runs(runs: dict[str, dict[int, dict[str, float]]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Training set → metric → (mean, sd) over seeds (sd 0 for one seed)."""
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for name, by_seed in runs.items():
        table[name] = {}
        for metric in REPORTED + tuple(key for key, _ in SPLITS):
            values = [scores[metric] for scores in by_seed.values() if metric in scores]
            if values:
                table[name][metric] = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
    return table


def score_cell(value: tuple[float, float] | list[float], runs: int) -> str:
    """ "mean ± sd" over seeds; a set with one finished run says so instead of showing a meaningless ± 0.0."""
    mean, sd = value
    return f"{mean:.1f} ± {sd:.1f}" if runs > 1 else f"{mean:.1f} (1 run)"


def markdown_table(
    table: dict[str, dict[str, tuple[float, float]]],
    seeds: list[int],
    *,
    scored_on_dev: bool = False,
    runs_per_set: dict[str, int] | None = None,
) -> str:
    splits = [(key, label) for key, label in SPLITS if any(key in metrics for metrics in table.values())]
    lines = [
        "| training set | EM | F1 | RO | " + " | ".join(label for _, label in splits) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(splits),
    ]
    for name, metrics in table.items():
        runs = (runs_per_set or {}).get(name, len(seeds))
        cells = [score_cell(metrics[m], runs) if m in metrics else "–" for m in list(REPORTED) + [k for k, _ in splits]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    where = (
        "scores on the same gold dev split (no test file given: an optimistic estimate)"
        if scored_on_dev
        else "scores on gold test"
    )
    lines.append(
        f"Mean ± sd over seeds {', '.join(map(str, seeds))}; checkpoint chosen on the gold dev F1, {where}. "
        "RO overlap / no overlap: questions that share / share no content word with their context."
    )
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


def _source_digest(source: TrainingSource) -> str | None:
    """The bytes a source trains on: a folder config's own parquet files, not the whole folder.

    Hashing the folder made every set of it retrain whenever another config was merged in or a card was rewritten.
    """
    if source.train_file:
        return _file_digest(source.train_file)
    config_dir = Path(str(source.dataset_name)) / str(source.dataset_config_name or "")
    if source.dataset_config_name and config_dir.is_dir():
        digest = hashlib.sha256()
        for file in sorted(config_dir.rglob("*.parquet")):
            digest.update(file.name.encode() + file.read_bytes())
        return digest.hexdigest()
    return _file_digest(source.dataset_name)


def run_fingerprint(config: ExperimentConfig, training_set: TrainingSet, seed: int) -> str:
    """Everything that shapes one run's scores: settings, seed and the bytes of its train/dev/test files.

    A finished run is reused on resume only when this matches, so an edited learning rate, another backbone
    or a regenerated training set is trained again instead of silently mixing into mean ± sd.
    """
    payload = {
        "training_set": training_set.model_dump(),
        "train_bytes": [_source_digest(source) for source in training_set.sources()],
        "validation_bytes": _file_digest(config.validation_file),
        "test_bytes": _file_digest(config.test_file),
        "seed": seed,
        **config.model_dump(exclude={"output_dir", "seeds", "training_sets"}),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _run_in_worker(threads: int, *args: Any) -> dict[str, float]:
    """One run in a worker process (`--jobs`), with its share of the CPU threads so parallel runs do not thrash."""
    import torch

    torch.set_num_threads(threads)
    return _run_one(*args)


def run_experiment(path: str | Path, *, only: Sequence[str] = (), jobs: int = 1) -> dict[str, Any]:
    """Run every (training set, seed), writing `results.json` and `results.md` in output_dir as it goes.

    Resume: a finished (training set, seed) is kept only when its fingerprint (`run_fingerprint`) matches the
    current settings and files; runs of training sets or seeds no longer in the config are left out.
    `only` trains just the named sets (the table still shows every set's finished runs), so a set whose data is
    still being generated does not hold up the others. `jobs` > 1 trains that many runs at once in worker
    processes: several small encoders share one GPU well; on a CPU it only pays with cores to spare.
    """
    config = load_experiment(path)
    names = [t.name for t in config.training_sets]
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise ClinqaError(
            f"--only names no training set of {path}: {', '.join(unknown)}; its sets are: {', '.join(names)}"
        )
    if jobs < 1:
        raise ClinqaError(f"--jobs must be at least 1, not {jobs}")
    selected = [t for t in config.training_sets if not only or t.name in only]
    check_argument_names(config, path)
    root = Path(config.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    evaluation = [f for f in (config.validation_file, config.test_file) if f]
    # Rows are read once, here, and every run of a set trains on these: a set re-merged while an experiment runs
    # (hours on a CPU) must not give seeds of one mean ± sd different rows under the fingerprint taken now.
    pinned = {training_set.name: training_rows(training_set) for training_set in selected}
    for training_set in selected:  # before any training: a leak found after hours of it is worse
        check_leakage(pinned[training_set.name], evaluation, training_set.name)
    results_path = root / "results.json"
    wanted = {(t.name, seed): run_fingerprint(config, t, seed) for t in config.training_sets for seed in config.seeds}
    runs: dict[str, dict[int, dict[str, float]]] = {}
    fingerprints: dict[str, dict[int, str]] = {}

    def matching_runs() -> None:
        """Runs already in results.json whose fingerprint matches: earlier sittings', or a parallel --only's."""
        if not results_path.exists():
            return
        try:
            previous = json.loads(results_path.read_text())
        except json.JSONDecodeError:
            raise ClinqaError(
                f"{results_path} is not valid JSON: restore it from version control or delete it"
            ) from None
        old_prints = previous.get("fingerprints", {})
        for name, by_seed in previous.get("runs", {}).items():
            for seed, scores in by_seed.items():
                fingerprint = old_prints.get(name, {}).get(str(seed))
                if fingerprint is not None and wanted.get((name, int(seed))) == fingerprint:
                    runs.setdefault(name, {}).setdefault(int(seed), scores)
                    fingerprints.setdefault(name, {}).setdefault(int(seed), fingerprint)

    def write_tables() -> None:
        """Re-read under the folder's lock and merge before writing, so two experiments on one output_dir
        (say `--only gold` beside `--only direct`) never drop each other's runs; atomic, so a crash leaves the old."""
        with folder_lock(root):
            matching_runs()
            ordered = {name: runs[name] for name in names if name in runs}  # the config's order, not finishing order
            table = summarize_runs(ordered)
            payload = {
                "config": config.model_dump(),
                "runs": ordered,
                "fingerprints": {name: fingerprints[name] for name in ordered},
                "table": {n: {m: list(v) for m, v in t.items()} for n, t in table.items()},
            }
            atomic_write_text(results_path, json.dumps(payload, indent=2))
            atomic_write_text(
                root / "results.md",
                markdown_table(
                    table,
                    config.seeds,
                    scored_on_dev=config.test_file is None,
                    runs_per_set={name: len(by_seed) for name, by_seed in ordered.items()},
                ),
            )

    def record(training_set: TrainingSet, seed: int, scores: dict[str, float]) -> None:
        runs.setdefault(training_set.name, {})[seed] = scores
        fingerprints.setdefault(training_set.name, {})[seed] = wanted[(training_set.name, seed)]
        write_tables()

    matching_runs()
    pending = [(t, seed) for t in selected for seed in config.seeds if seed not in runs.get(t.name, {})]
    failures: list[str] = []

    def run_args(training_set: TrainingSet, seed: int) -> tuple[Any, ...]:
        """_run_one's arguments for one run: its pinned rows and its own folder."""
        return config, training_set, pinned[training_set.name], seed, root / training_set.name / f"seed{seed}"

    if jobs == 1:
        for training_set, seed in pending:
            record(training_set, seed, _run_one(*run_args(training_set, seed)))
    elif pending:
        threads = max(1, (os.cpu_count() or 1) // min(jobs, len(pending)))
        spawn = multiprocessing.get_context("spawn")  # a forked CUDA context is unusable in the child
        with ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool:
            futures = {pool.submit(_run_in_worker, threads, *run_args(t, seed)): (t, seed) for t, seed in pending}
            for future in as_completed(futures):
                training_set, seed = futures[future]
                try:  # every finished run is recorded even when another fails; the failures are raised at the end
                    record(training_set, seed, future.result())
                except Exception as exc:  # noqa: BLE001 - reported below with the run it belongs to
                    failures.append(f"{training_set.name} seed {seed}: {type(exc).__name__}: {exc}")
    write_tables()  # also when nothing was pending: runs whose settings or rows changed leave the table
    if failures:
        raise ClinqaError(
            f"{len(failures)} of {len(pending)} runs failed (the others are recorded): " + "; ".join(failures)
        )
    return json.loads(results_path.read_text())
