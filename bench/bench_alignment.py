#!/usr/bin/env python
"""Span placement before and after the issue-12 guards, on the same model answers (docs/benchmarks.md §3b).

  python bench/bench_alignment.py OUT [--configs direct,nooverlap_summary] [--aci 2] [--model default]

Generates each config into OUT (embedded model; the completion cache lives in OUT/cache, so a re-run is free)
while recording every answer the pipeline tries to place. Each answer is placed by today's aligner
(`pipeline.spans.place_answer`) and by the aligner as it was before the guards (`bench/legacy_spans.py`).
Prints, per config: answers tried, placed before/after, by tier, refusals by reason; writes OUT/alignment.json
with every answer whose placement changed (the cases to check by hand).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import legacy_spans  # noqa: E402

from clinqa_synth.documents.model import Document, Section  # noqa: E402
from clinqa_synth.documents.readers import read_documents  # noqa: E402
from clinqa_synth.llm.session import LLMSettings  # noqa: E402
from clinqa_synth.pipeline import steps  # noqa: E402
from clinqa_synth.pipeline.api import generate_to_folder  # noqa: E402

SHARED = ROOT.parents[1] / "shared" / "data"


def documents(aci: int) -> list[Document]:
    from clinqa_synth.cli import samples_dir

    docs = list(read_documents(samples_dir("radiology"), kind="radiology"))
    if aci:
        with open(SHARED / "aci_bench" / "valid.csv", newline="", encoding="utf-8") as handle:
            for row in list(csv.DictReader(handle))[:aci]:
                docs.append(Document(f"aci-{row['encounter_id']}", "clinical_record",
                                     (Section("note", row["note"]),), title=row["encounter_id"]))  # fmt: skip
    return docs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--configs", default="direct,nooverlap_summary")
    parser.add_argument("--aci", type=int, default=2, help="ACI-BENCH valid notes to add to the 4 bundled reports")
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    tried: list[dict[str, Any]] = []
    original = steps.place_answer

    def recording(answer: str, context: str, question: str = "", **options: Any) -> Any:
        placement = original(answer, context, question, **options)
        if options.get("allow_fuzzy", True):
            old = legacy_spans.align_answer(answer, context, question)
            tried.append({"config": current[0], "question": question, "answer": answer,
                          "new": placement.span and placement.span.text, "new_match": placement.span and placement.span.match,
                          "refused": placement.refused, "old": old and old.text, "old_match": old and old.match,
                          "context": context})  # fmt: skip
        return placement

    steps.place_answer = recording
    current = [""]
    docs = documents(args.aci)
    llm = LLMSettings(model=args.model, cache_dir=args.out / "cache")
    for config in args.configs.split(","):
        current[0] = config
        generate_to_folder(docs, config=config, out=args.out / "data", llm=llm, show_progress=False)

    report: dict[str, Any] = {}
    for config in args.configs.split(","):
        rows = [t for t in tried if t["config"] == config]
        report[config] = {
            "answers_tried": len(rows),
            "placed_before": sum(1 for r in rows if r["old"] is not None),
            "placed_after": sum(1 for r in rows if r["new"] is not None),
            "after_by_tier": dict(Counter(r["new_match"] for r in rows if r["new"])),
            "before_by_tier": dict(Counter(r["old_match"] for r in rows if r["old"])),
            "refused_by_reason": dict(Counter(r["refused"] for r in rows if r["new"] is None and r["refused"])),
            "refused_that_legacy_placed": sum(1 for r in rows if r["new"] is None and r["old"] is not None),
            "placed_differently": sum(1 for r in rows if r["new"] and r["old"] and r["new"] != r["old"]),
        }
    changed = [{k: v for k, v in r.items() if k != "context"} | {"context_excerpt": _excerpt(r)}
               for r in tried if r["new"] != r["old"]]  # fmt: skip
    (args.out / "alignment.json").write_text(json.dumps({"summary": report, "changed": changed}, indent=2))
    print(json.dumps(report, indent=2))
    print(f"{len(changed)} answers placed differently (or refused) -> {args.out / 'alignment.json'}")


def _excerpt(row: dict[str, Any], width: int = 160) -> str:
    context, text = row["context"], row["old"] or row["new"] or row["answer"]
    at = context.find(text)
    if at < 0:
        return context[:width]
    return context[max(0, at - width // 2): at + len(text) + width // 2]


if __name__ == "__main__":
    main()
