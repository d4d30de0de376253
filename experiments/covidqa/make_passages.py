"""Draw the protocol's passages from COVID-QA's training articles and the gold questions of the same passages.

    python experiments/covidqa/make_passages.py     # writes passages.jsonl, gold_train.json and dev_windows.json here

48 windows of about a radiology report's length (~1,200 characters, cut at paragraph/sentence ends), drawn with
seed 0: half hold at least one gold answer, half none; at most 2 per article. The gold questions are not used for
generation; they form the gold training set of the same passages (offsets re-based to the window).
dev_windows.json is the scoring set: every dev question on the window of its paper that holds its answer, cut
the same way, so models trained on report-sized passages are scored on report-sized contexts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from clinqa_synth.qa.passages import answer_windows, gold_for_passages, sample_passages, write_passages

HERE = Path(__file__).resolve().parent
TRAIN = HERE.parents[1].parent / "shared" / "data" / "covid_qa" / "covid-qa-train.json"
DEV = TRAIN.with_name("covid-qa-dev.json")


def main(count: int = 48, seed: int = 0) -> None:
    articles = json.loads(TRAIN.read_text(encoding="utf-8"))["data"]
    passages = sample_passages(articles, count, seed=seed)
    write_passages(HERE / "passages.jsonl", passages)
    gold = gold_for_passages(articles, passages)
    (HERE / "gold_train.json").write_text(json.dumps(gold, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    questions = sum(len(a["paragraphs"][0]["qas"]) for a in gold["data"])
    print(f"{len(passages)} passages from {len({p.article_id for p in passages})} articles; {questions} gold questions")
    dev, left_out = answer_windows(json.loads(DEV.read_text(encoding="utf-8"))["data"])
    (HERE / "dev_windows.json").write_text(json.dumps(dev, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    scored = sum(len(a["paragraphs"][0]["qas"]) for a in dev["data"])
    print(f"dev: {scored} questions on {len(dev['data'])} windows ({left_out} left out: answer across a window edge)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
