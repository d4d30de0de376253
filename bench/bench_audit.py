#!/usr/bin/env python
"""Precision per config from a labelled audit set (docs/audit/*.csv), with 95 % Wilson intervals.

  python bench/bench_audit.py docs/audit/audit-set-radiology-v1.csv [more.csv …]

The same scoring as `clinqa-synth audit OUT --score` (clinqa_synth.audit.score), but over committed label files
whose datasets are not in the tree; also counts the labelled pairs that today's pre-answer checks would drop
(identity, two-questions-in-one), the echo, interpretive and outranked span answers and the checked "Unanswerable"
verdicts (hedged mention, off-topic body part), so a check's effect can be read off the labels.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from clinqa_synth.audit import read_labels, score
from clinqa_synth.pipeline.answer_checks import (
    is_compound_question,
    is_echo_answer,
    is_identity_question,
    is_interpretive_question,
    unanswerable_problem,
)
from clinqa_synth.pipeline.relevance import is_outranked_answer

# the labelled pairs come from the benchmark reports; the off-topic check needs the whole report
DOCUMENTS = Path(__file__).parent / "documents" / "radiology"


def caught_unanswerable(row: dict[str, str]) -> bool:
    """A pair marked Unanswerable that today's verdict checks would drop (hedged mention, off-topic body part)."""
    if row["is_impossible"] != "True":
        return False
    document = DOCUMENTS / f"{row['document_id']}.txt"
    report = document.read_text(encoding="utf-8") if document.exists() else row["context"]
    return unanswerable_problem(row["question"], row["context"], report, one_region=True) is not None


def outranked(row: dict[str, str]) -> bool:
    """A span answer in a sentence that matches the question worse than another sentence of its section."""
    start = row["context"].find(row["answer"]) if row["answer"] else -1
    question = row.get("original_question") or row["question"]  # the question the answer call was asked
    return start >= 0 and is_outranked_answer(question, start, start + len(row["answer"]), row["context"])


def main(paths: list[str]) -> None:
    by_config: dict[str, list[dict[str, str]]] = defaultdict(list)
    for path in paths:
        for row in read_labels(path):
            by_config[row["config"]].append(row)
    table = {}
    for config, rows in sorted(by_config.items()):
        caught = [
            r
            for r in rows
            if is_identity_question(r["question"])
            or is_compound_question(r["question"])
            or (r["answer"] and (is_echo_answer(r["question"], r["answer"]) or is_interpretive_question(r["question"])))
            or outranked(r)
            or caught_unanswerable(r)
        ]
        table[config] = {
            **score(rows),
            "caught_by_todays_checks": {
                "pairs": len(caught),
                "of_them_labelled_correct": sum(r["label"] == "correct" for r in caught),
            },
            "precision_after_todays_checks": score([r for r in rows if r not in caught]),
        }
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
