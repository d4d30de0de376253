"""Draw the protocol's passages from COVID-QA's training articles and the gold questions of the same passages.

    python experiments/covidqa/make_passages.py            # writes passages.jsonl and gold_train.json here

48 windows of about a radiology report's length (~1,200 characters, cut at paragraph/sentence ends), drawn with
seed 0: half hold at least one gold answer, half none; at most 2 per article. The gold questions are not used for
generation; they form the gold training set of the same passages (offsets re-based to the window).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from clinqa_synth.qa.passages import gold_for_passages, sample_passages, write_passages

HERE = Path(__file__).resolve().parent
TRAIN = HERE.parents[1].parent / "shared" / "data" / "covid_qa" / "covid-qa-train.json"


def main(count: int = 48, seed: int = 0) -> None:
    articles = json.loads(TRAIN.read_text(encoding="utf-8"))["data"]
    passages = sample_passages(articles, count, seed=seed)
    write_passages(HERE / "passages.jsonl", passages)
    gold = gold_for_passages(articles, passages)
    (HERE / "gold_train.json").write_text(json.dumps(gold, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    questions = sum(len(a["paragraphs"][0]["qas"]) for a in gold["data"])
    print(f"{len(passages)} passages from {len({p.article_id for p in passages})} articles; {questions} gold questions")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
