"""Joining the folders of sharded runs (`generate --shard i/n` on many machines) into one dataset folder.

Shards hold disjoint documents, so rows are concatenated as they are; a document found in two
shards means the shards overlap (e.g. different n) and is an error. Counts are summed; what is
measured on the kept rows (difficulty, its targets) is measured again on the merged rows, since a
mean of shards is not a shard's; the card is recomputed from the merged files.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from clinqa_synth.dataset.card import write_card
from clinqa_synth.dataset.folder import DROPPED_PAIRS_FILE, DatasetFolder, OutputError
from clinqa_synth.pipeline.costs import COST_KEYS, rounded

if TYPE_CHECKING:
    from clinqa_synth.pipeline.api import RunSummary

SUMMED = ("funnel", "drops", "llm_usage", "placement", "answers_as_written", "hardening", "estimate", *COST_KEYS)
SUMMED_COUNTS = ("requoted", "requote_failed_calls", "input_documents")
LATER_KEYS = (*COST_KEYS, "answers_as_written")  # absent from shards made before they existed: no partial sums


def _new_summary(method: dict[str, Any] | None) -> RunSummary:
    """An empty run summary that merged rows are added to, measured against the shards' method targets."""
    from pydantic import ValidationError

    from clinqa_synth.methods import MethodConfig
    from clinqa_synth.pipeline.api import RunSummary

    summary = RunSummary(config="merged")
    try:
        summary.method = MethodConfig.model_validate(method) if method else None
    except ValidationError:
        summary.method = None  # a method file of another version: the targets are left out, not guessed
    return summary


def _combine(generations: list[dict[str, Any]], measured: RunSummary) -> dict[str, Any]:
    merged = dict(generations[0])
    for key in SUMMED:
        if key in LATER_KEYS and not all(key in g for g in generations):
            merged[key] = None  # a shard made before the key existed: a partial sum would pass for the whole set's
            continue
        total: Counter = Counter()
        for g in generations:
            total.update({k: v for k, v in (g.get(key) or {}).items() if isinstance(v, (int, float))})
        merged[key] = rounded(dict(total))
    for key in SUMMED_COUNTS:
        merged[key] = sum(g.get(key) or 0 for g in generations)
    merged["difficulty"], merged["difficulty_targets"] = measured.difficulty(), measured.targets()
    merged["documents"] = {
        "total": sum(g["documents"]["total"] for g in generations),
        "failed": sum(g["documents"]["failed"] for g in generations),
        "failures": dict(sum((Counter(g["documents"].get("failures", {})) for g in generations), Counter())),
        "failed_ids": [x for g in generations for x in g["documents"].get("failed_ids", [])][:200],
    }
    for key in ("answerable", "unanswerable"):
        merged[key] = sum(g.get(key, 0) for g in generations)
    merged["wall_s"] = max(g.get("wall_s", 0) for g in generations)  # shards run side by side: the longest
    productions = [g.get("production") or {} for g in generations]
    if any(productions):  # what producing all the rows cost: summed, wall time as machine time over all shards
        keys = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "reasoning_tokens", "wall_s")
        merged["production"] = rounded(
            {
                key: (
                    sum(p.get(key) or 0 for p in productions)
                    if all(p.get(key) is not None for p in productions)
                    else None
                )
                for key in keys
            }
        )
        merged["production"] |= {
            "created": max((p.get("created") or "" for p in productions), default=None),
            "summed_over_shards": len(productions),
        }
    merged["credentialed"] = any(g.get("credentialed") for g in generations)
    merged["shard"] = None
    merged["merged_from"] = len(generations)
    return merged


def merge_shards(out: str | Path, shards: list[str | Path]) -> dict[str, dict[str, int]]:
    """Merge every config found in `shards` into `out`; returns config → rows per split."""
    folders = [DatasetFolder(s) for s in shards]
    configs = sorted({name for folder in folders for name in folder.configs()})
    if not configs:
        raise OutputError("the shard folders hold no generated configs")
    target = DatasetFolder(out)
    if any(folder.credentialed for folder in folders):  # sticky: a merge may never launder credentialed rows
        target.mark_credentialed("merged from a credentialed folder")
    result: dict[str, dict[str, int]] = {}
    for config in configs:
        parts = [(f, f.configs()[config]) for f in folders if config in f.configs()]
        stage = target.stage(config)
        seen_documents: dict[str, Path] = {}
        measured = _new_summary(parts[0][1].get("method"))  # difficulty of the merged rows, measured again
        try:
            for folder, _ in parts:
                for split, files in folder.data_files(config).items():
                    for relative in files:
                        rows = pq.read_table(folder.root / relative).to_pylist()
                        for row in rows:
                            owner = seen_documents.setdefault(row["document_id"], folder.root)
                            if owner != folder.root:
                                raise OutputError(
                                    f"document {row['document_id']!r} is in both {owner} and {folder.root}: the shards "
                                    "overlap. Merge only the folders of one `--shard i/n` series."
                                )
                        stage.add(rows, split)
                        for row in rows:
                            measured.add_record(row)
                drops = folder.root / config / DROPPED_PAIRS_FILE
                if drops.exists():
                    lines = drops.read_text(encoding="utf-8").splitlines()
                    stage.add_rejected(json.loads(line) for line in lines if line.strip())
            recipe = parts[0][0].root / config / "recipe"
            if recipe.is_dir():  # shards of one series ran one recipe
                shutil.copytree(recipe, stage.dir / "recipe")
            stage.commit(_combine([g for _, g in parts], measured))
        except BaseException:
            stage.abort()
            raise
        result[config] = dict(stage.counts)
    write_card(target)
    return result
