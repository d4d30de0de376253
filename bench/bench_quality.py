#!/usr/bin/env python
"""The pipeline as shipped vs the paper's pipeline, same documents, same model (docs/benchmarks.md §8).

  python bench/bench_quality.py OUT [--configs direct,nooverlap_summary] [--model default] [--docs DIR]
                                   [--variant NAME:KEY=VALUE[,KEY=VALUE]] [--shipped-only | --variants-only]

Documents: bench/documents/radiology (synthetic reports used by no test). For each config two variants run,
each with its own completion cache so that both pay for every call they make:

- `paper`: `answer_checks: false, verify: false, constrained: false` — free-text answers, placed by the aligner;
- `tool`: the shipped method (answer checks, extractive constrained decoding, round-trip verification).

Every free-text answer the `paper` variant tries to place is also placed by the aligner as it was before the
issue-12 guards (loaded from git history, commit 2782c0f), so the guards' refusals are counted on the same answers.
Prints one JSON table; writes OUT/quality.json (figures), OUT/refusals.json (answers the guards refused that
the old aligner placed) and leaves the datasets in OUT/data for reading.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from clinqa_synth.llm.session import LLMSettings  # noqa: E402
from clinqa_synth.methods import available_methods  # noqa: E402
from clinqa_synth.pipeline import steps  # noqa: E402
from clinqa_synth.pipeline.answer_checks import answer_problem  # noqa: E402
from clinqa_synth.pipeline.api import generate_to_folder  # noqa: E402
from clinqa_synth.pipeline.costs import COST_KEYS  # noqa: E402
from clinqa_synth.text import words  # noqa: E402

PAPER = {"answer_checks": False, "verify": False, "constrained": False, "harden": False}
LEGACY_COMMIT = "2782c0f"  # the last commit before the issue-12 guards


def legacy_aligner() -> Any:
    """The aligner as it was before the guards, loaded from git history (no second copy in the tree)."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(
        ["git", "show", f"{LEGACY_COMMIT}:src/clinqa_synth/pipeline/spans.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "legacy_spans.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("legacy_spans", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["legacy_spans"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """`list:answer_format=list` → ("list", {"answer_format": "list"}) (values parsed as YAML: a flow mapping
    such as `radiology={num_questions: 20, keep: 5}` keeps its commas)."""
    name, _, settings = text.partition(":")
    pairs = [item.split("=", 1) for item in re.split(r",(?![^{]*})", settings) if item]
    return name, {key: yaml.safe_load(value) for key, value in pairs}


RUN_KEYS = ("prompts_dir",)  # variant keys that are run options (GenerationOptions), not method keys


def split_variant(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(method keys, run options) of one variant: `prompts_dir=DIR` runs the method with the prompts in DIR."""
    method = {k: v for k, v in overrides.items() if k not in RUN_KEYS}
    return method, {k: v for k, v in overrides.items() if k in RUN_KEYS}


def write_variants(configs: list[str], folder: Path, extra: dict[str, dict[str, Any]] | None = None) -> None:
    """`<config>` (shipped), `<config>_paper` and `<config>_<variant>` method files in `folder` (`extra`: each
    variant's method keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = available_methods()
    for config in configs:
        data = yaml.safe_load(shipped[config].read_text())
        (folder / f"{config}.yaml").write_text(yaml.safe_dump(data))
        (folder / f"{config}_paper.yaml").write_text(yaml.safe_dump({**data, **PAPER}))
        for name, overrides in (extra or {}).items():
            (folder / f"{config}_{name}.yaml").write_text(yaml.safe_dump({**data, **overrides}))


def figures(out: Path, name: str, documents: int, wall_s: float) -> dict[str, Any]:
    import datasets

    record = json.loads((out / "data" / name / "generation.json").read_text())
    rows = datasets.load_dataset(str(out / "data"), name, split="train").to_list()
    answerable = [r for r in rows if not r["is_impossible"]]
    lengths = [len(words(r["answers"]["text"][0])) for r in answerable]
    overlaps = [r["question_context_overlap"] for r in rows]
    source_overlaps = [r["question_source_overlap"] for r in rows]
    tokens = sum(record["completion_tokens_by_step"].values())
    funnel = record["funnel"]
    echo = sum(
        1
        for r in answerable
        if answer_problem(r["question"], r["answers"]["text"][0], r["context"], max_answer_words=10**6) == "echo_answer"
    )
    return {
        "kept": len(rows),
        "answerable_per_document": round(len(answerable) / documents, 2),
        "unanswerable": len(rows) - len(answerable),
        "answered_to_placed": round(funnel["placed"] / funnel["answered"], 3) if funnel["answered"] else None,
        # issue 17's figure: answers that are a span of the section or "Unanswerable" before any answer check
        # drops them (answered_to_placed also counts the checks' drops as not placed)
        "answered_to_span": answered_to_span(record),
        "funnel": funnel,
        "drops": {k: v for k, v in record["drops"].items() if v},
        "mean_question_section_overlap": round(statistics.fmean(overlaps), 3) if overlaps else None,
        "mean_question_source_overlap": round(statistics.fmean(source_overlaps), 3) if rows else None,
        "hardening": record.get("hardening", {}),
        "difficulty_targets": record.get("difficulty_targets", {}),
        "zero_overlap_share": round(sum(1 for o in overlaps if o == 0) / len(overlaps), 3) if overlaps else None,
        "median_answer_words": statistics.median(lengths) if lengths else None,
        "answers_over_30_words": sum(1 for n in lengths if n > 30),
        "echo_answers_kept": echo,
        "completion_tokens": tokens,
        "completion_tokens_by_step": record["completion_tokens_by_step"],
        "tokens_per_kept_pair": round(tokens / len(rows), 1) if rows else None,
        # where a kept pair's price goes (issue 17): per step, divided by the kept pairs
        "per_kept_pair_by_step": per_kept_pair(record, len(rows)),
        "wall_s": round(wall_s, 1),
        "wall_s_per_kept_pair": round(wall_s / len(rows), 1) if rows else None,
    }


def answered_to_span(record: dict[str, Any]) -> float | None:
    """Share of the answers written as a span of their section or "Unanswerable", before the answer checks."""
    written = record.get("answers_as_written") or {}
    answered = sum(written.values())
    return round((written.get("span", 0) + written.get("unanswerable", 0)) / answered, 3) if answered else None


def per_kept_pair(record: dict[str, Any], kept: int) -> dict[str, dict[str, float]] | None:
    """Calls, cache hits, prompt and completion tokens and latency of each step, per kept pair (None: none kept)."""
    if not kept:
        return None
    return {
        key.removesuffix("_by_step"): {step: round(value / kept, 2) for step, value in (record.get(key) or {}).items()}
        for key in COST_KEYS
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--configs", default="direct,nooverlap_summary")
    parser.add_argument("--model", default="default")
    parser.add_argument("--docs", type=Path, default=ROOT / "documents" / "radiology")
    parser.add_argument(
        "--shipped-only",
        action="store_true",
        help="run only the shipped variants (the paper variants' figures are already on record)",
    )
    parser.add_argument(
        "--variants-only",
        action="store_true",
        help="run only the --variant runs (the shipped method's figures on these documents are already on record)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE[,KEY=VALUE]",
        help="also run the shipped method with these settings as <config>_NAME, e.g. list:answer_format=list "
        "(method keys, and prompts_dir=DIR for another prompt folder)",
    )
    args = parser.parse_args()
    configs = args.configs.split(",")
    methods = args.out / "methods"
    extra = {name: split_variant(overrides) for name, overrides in map(parse_variant, args.variant)}
    write_variants(configs, methods, {name: method_keys for name, (method_keys, _) in extra.items()})
    documents = len(list(args.docs.glob("*.txt")))

    legacy_spans = legacy_aligner()
    tried: list[dict[str, Any]] = []
    current = [""]
    original = steps.place_answer

    def recording(answer: str, context: str, question: str = "", **options: Any) -> Any:
        placement = original(answer, context, question, **options)
        if options.get("allow_fuzzy", True) and current[0].endswith("_paper"):
            old = legacy_spans.align_answer(answer, context, question)
            tried.append(
                {
                    "config": current[0],
                    "question": question,
                    "answer": answer,
                    "new": placement.span and placement.span.text,
                    "refused": placement.refused,
                    "old": old and old.text,
                    "old_match": old and old.match,
                    "context": context,
                }
            )
        return placement

    steps.place_answer = recording
    table: dict[str, Any] = {}
    for config in configs:
        base = () if args.variants_only else (config,) if args.shipped_only else (f"{config}_paper", config)
        variants = {f"{config}_{variant}": run_options for variant, (_, run_options) in extra.items()}
        for name in base + tuple(variants):
            current[0] = name
            llm = LLMSettings(model=args.model, cache_dir=args.out / "cache" / name)
            started = time.perf_counter()
            generate_to_folder(
                str(args.docs),
                config=name,
                out=args.out / "data",
                llm=llm,
                kind="radiology",
                methods_dir=methods,
                show_progress=False,
                **variants.get(name, {}),
            )
            table[name] = figures(args.out, name, documents, time.perf_counter() - started)
            print(name, json.dumps(table[name]), flush=True)

    alignment = {}
    for name in {t["config"] for t in tried}:
        rows = [t for t in tried if t["config"] == name]
        alignment[name] = {
            "free_text_answers": len(rows),
            "placed_by_legacy_aligner": sum(1 for r in rows if r["old"] is not None),
            "placed_now": sum(1 for r in rows if r["new"] is not None),
            "refused_now_by_reason": dict(Counter(r["refused"] for r in rows if r["new"] is None and r["refused"])),
            "refused_now_but_legacy_placed": sum(1 for r in rows if r["new"] is None and r["old"] is not None),
        }
    refusals = [
        {k: v for k, v in r.items() if k != "context"} | {"context": r["context"]}
        for r in tried
        if r["new"] is None and r["old"] is not None
    ]
    (args.out / "quality.json").write_text(json.dumps({"table": table, "alignment": alignment}, indent=2))
    (args.out / "refusals.json").write_text(json.dumps(refusals, indent=2))
    print(json.dumps({"alignment": alignment}, indent=2))


if __name__ == "__main__":
    main()
