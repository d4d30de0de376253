#!/usr/bin/env python
"""Precision per config from a labelled audit set (docs/audit/*.csv), with 95 % Wilson intervals.

  python bench/bench_audit.py docs/audit/audit-set-radiology-v1.csv [more.csv …]
  python bench/bench_audit.py experiments/covidqa/audit/*.csv

The same scoring as `clinqa-synth audit OUT --score` (clinqa_synth.audit.score), but over committed label files
whose datasets are not in the tree; also counts the labelled pairs that today's pre-answer checks would drop
(identity, two-questions-in-one, vague; a hardened
rewrite today's rewrite checks would not use), the span-answer checks (answer_checks.answer_problem: echo, interpretive,
outranked…), spans kept for several questions of a section (shared_answer) and the "Unanswerable" checks (hedged
mention, covered, off-topic body part), right and wrong pairs per check, so a check's effect can be read off the
labels. Label files need a `context` column (the section); with a `kind` column (kept / dropped, and the run's
`drop_reason`) kept and dropped pairs are scored apart, and dropped pairs are counted right/wrong per reason the
run dropped them for (verification's wrongly dropped pairs).
"""

from __future__ import annotations

import functools
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from clinqa_synth.audit import read_labels, score
from clinqa_synth.pipeline.answer_checks import (
    SHARED_ANSWER_LIMIT,
    answer_problem,
    is_compound_question,
    is_identity_question,
    is_unasked_heading_value,
    is_vague_question,
    unanswerable_problem,
)
from clinqa_synth.pipeline.hardening import rewrite_problem
from clinqa_synth.pipeline.parsing import is_unanswerable

# the radiology labels come from the benchmark reports (in-sample and held-out); the off-topic and topic-elsewhere
# checks need the whole report
DOCUMENTS = (
    Path(__file__).parent / "documents" / "radiology",
    Path(__file__).parent / "documents" / "radiology-heldout",
)


@functools.cache
def _report(document: Path) -> str | None:
    """The whole benchmark report, read once however many labelled pairs come from it (None: not a bench report)."""
    return document.read_text(encoding="utf-8") if document.exists() else None


def todays_drop(row: dict[str, str]) -> str | None:
    """The reason today's checks would drop a labelled pair for, or None.

    The checks see the question the answer call was asked (`original_question` before a hardening rewrite)."""
    question = row.get("original_question") or row["question"]
    if is_identity_question(question):
        return "identity_question"
    if is_compound_question(question):
        return "compound_question"
    candidates = [folder / f"{row['document_id']}.txt" for folder in DOCUMENTS]
    document = next((path for path in candidates if path.exists()), candidates[0])
    report = _report(document) or row["context"]
    if is_vague_question(question):
        return "vague_question"
    if row.get("original_question") and (problem := rewrite_problem(row["question"], question, report)):
        return problem  # today the rewrite would not be used: the easy question would be verified instead
    if row["is_impossible"] == "True":
        return unanswerable_problem(question, row["context"], report, one_region=document.exists())
    start = row["context"].find(row["answer"])
    if is_unanswerable(row["answer"]) and start >= 0 and is_unasked_heading_value(question, start, row["context"]):
        return "heading_value_answer"  # a verbatim "None" takes this path in the pipeline, not the answer checks
    return answer_problem(
        question, row["answer"], row["context"], max_answer_words=10**6, start=start, document_text=report
    )


def main(paths: list[str]) -> None:
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for path in paths:
        for row in read_labels(Path(path)):
            # files with a `kind` column (v3 on) hold kept and dropped pairs: precision is the kept ones'
            kind = f":{row['kind']}" if row.get("kind") else ""
            groups[f"{Path(path).stem}:{row['config']}{kind}"].append(row)
    table = {}
    for group, rows in sorted(groups.items()):
        reasons = {id(r): todays_drop(r) for r in rows}
        spans = Counter((r["document_id"], r["section"], r["answer"]) for r in rows if r["answer"])
        for row in rows:  # kept for SHARED_ANSWER_LIMIT questions of one section (kept files only: a set rule)
            if (
                not reasons[id(row)]
                and spans[(row["document_id"], row["section"], row["answer"])] >= SHARED_ANSWER_LIMIT
            ):
                reasons[id(row)] = "shared_answer"
        by_check: dict[str, dict[str, int]] = defaultdict(lambda: {"right": 0, "wrong": 0})
        dropped_by_reason: dict[str, dict[str, int]] = defaultdict(lambda: {"right": 0, "wrong": 0})
        for row in rows:
            verdict = "right" if row["label"] == "correct" else "wrong"
            if reason := reasons[id(row)]:
                by_check[reason][verdict] += 1
            if row.get("drop_reason"):  # what the run itself dropped the pair for (dropped rows only)
                dropped_by_reason[row["drop_reason"]][verdict] += 1
        table[group] = {
            **score(rows),
            **({"dropped_by_the_run": dict(sorted(dropped_by_reason.items()))} if dropped_by_reason else {}),
            "dropped_by_todays_checks": dict(sorted(by_check.items())),
            "precision_after_todays_checks": score([r for r in rows if not reasons[id(r)]]),
        }
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
