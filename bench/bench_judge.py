#!/usr/bin/env python
"""Can the model judge a pair it did not write? A yes/no answer check, scored on the labelled audit sets.

  python bench/bench_judge.py OUT LABELS.csv [LABELS.csv …] [--model default] [--limit N]

Round-trip verification asks the model the question again and compares spans; when the same small model makes the
same mistake twice, the pair is kept (docs/benchmarks.md §8c: `nooverlap_summary`'s wrong kept pairs were agreed
with). This measures a different check before anyone builds it: the section, the question and the proposed answer
are shown, and the model says yes or no (a grammar admits only those two words). Every labelled answerable pair
(unique by section, question and answer) is judged once; the figures are, per label file, how many right and
wrong pairs the judge accepts, and the precision of the accepted ones against all. Pairs are sent grouped by
section, section first, so the server's prefix cache evaluates each section once. Writes OUT/judged.jsonl and
prints one JSON table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import defaultdict
from pathlib import Path

from clinqa_synth.audit import read_labels
from clinqa_synth.llm.session import LLMSettings, open_llm

JUDGE_PROMPT = """Here is a {kind}.

{section}

---
Question: {question}
Proposed answer, quoted from the text above: "{answer}"

Does the quoted text answer this exact question? Answer no if it is about a different finding, body part, \
measurement, date or subject than the one asked about, if it only repeats words of the question, or if the text \
does not actually say what was asked. Reply with yes or no."""
GRAMMAR = 'root ::= "yes" | "no"'


def labelled_pairs(paths: list[Path]) -> list[dict[str, str]]:
    """Answerable labelled pairs, one per (section text, question, answer, label)."""
    seen: set[tuple[str, ...]] = set()
    pairs = []
    for path in paths:
        for row in read_labels(path):
            if row["is_impossible"] == "True" or not row["answer"]:
                continue
            key = (row["context"], row["question"], row["answer"], row["label"])  # the same pair in two files: once
            if key not in seen:
                seen.add(key)
                pairs.append({**row, "file": path.stem})
    return sorted(pairs, key=lambda r: (r["context"], r["question"]))


async def judge_all(session, pairs: list[dict[str, str]], out: Path) -> None:
    with out.open("w", encoding="utf-8") as handle:
        for row in pairs:
            kind = "radiology report" if "radiology" in row["file"] else "text"
            prompt = JUDGE_PROMPT.format(
                kind=kind, section=row["context"], question=row["question"], answer=row["answer"]
            )
            completion = await session.chat.chat(
                [{"role": "user", "content": prompt}], temperature=0.0, max_tokens=2, grammar=GRAMMAR
            )
            row["judge"] = completion.text.strip().lower()
            fields = ("file", "config", "question", "answer", "label", "judge")
            handle.write(json.dumps({k: row[k] for k in fields}) + "\n")
            handle.flush()


def table(rows: list[dict[str, str]]) -> dict[str, dict[str, object]]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        for group in (row["file"], "all"):
            verdict = "right" if row["label"] == "correct" else "wrong"
            counts[group][f"{verdict}_{'accepted' if row['judge'] == 'yes' else 'rejected'}"] += 1
    result = {}
    for group, c in counts.items():
        right = c["right_accepted"] + c["right_rejected"]
        wrong = c["wrong_accepted"] + c["wrong_rejected"]
        accepted = c["right_accepted"] + c["wrong_accepted"]
        result[group] = {
            **dict(c),
            "precision_all": round(right / (right + wrong), 3) if right + wrong else None,
            "precision_accepted": round(c["right_accepted"] / accepted, 3) if accepted else None,
            "right_kept_share": round(c["right_accepted"] / right, 3) if right else None,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("labels", type=Path, nargs="+")
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pairs = labelled_pairs(args.labels)[: args.limit]
    with open_llm(LLMSettings(model=args.model, cache_dir=args.out / "cache")) as session:
        asyncio.run(judge_all(session, pairs, args.out / "judged.jsonl"))
    figures = table(pairs)
    (args.out / "judge.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
