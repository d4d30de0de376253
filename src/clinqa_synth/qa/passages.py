"""Report-sized passages of long articles, for running the paper's protocol on a public QA benchmark.

COVID-QA's contexts are whole papers (~25k characters); the paper's documents are radiology reports and
discharge-summary sections (~1k characters). So the protocol samples windows of the training articles — cut at
paragraph or sentence ends, answer-bearing or not, chosen by a fixed seed — and generates from those. The gold
questions whose answers fall inside a chosen window become the gold training set *of the same passages*, so
synthetic and gold data are compared on the same text.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clinqa_synth.errors import ClinqaError

_BREAK = re.compile(r"\n+|(?<=[.!?])\s+(?=[A-Z(\[])")  # paragraph ends, then sentence ends


@dataclass(frozen=True)
class Passage:
    """A window `[start, end)` of one article's context."""

    id: str
    article_id: str
    start: int
    end: int
    text: str


def windows(context: str, target_chars: int) -> Iterator[tuple[int, int]]:
    """Consecutive windows of about `target_chars`, each ending at a paragraph or sentence end (never mid-word)."""
    ends = [m.end() for m in _BREAK.finditer(context)] + [len(context)]
    start = 0
    while start < len(context):
        # the first break at or after the target length; the whole rest when none
        end = next((e for e in ends if e - start >= target_chars), len(context))
        if len(context) - end < target_chars // 3:  # a short tail joins this window rather than standing alone
            end = len(context)
        text = context[start:end]
        lead = len(text) - len(text.lstrip())
        tail = len(text.rstrip())
        if tail > lead:
            yield start + lead, start + tail
        start = end


def _article_id(article: dict[str, Any], paragraph: dict[str, Any], index: int) -> str:
    """One name per article for passages and gold alike: its document id, else its title, else its position."""
    return str(paragraph.get("document_id") or article.get("title") or f"article{index}")


def all_windows(articles: list[dict[str, Any]], target_chars: int) -> Iterator[tuple[Passage, dict[str, Any]]]:
    """Every window of every article (`windows`), as a Passage with the SQuAD paragraph it was cut from."""
    for index, article in enumerate(articles):
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            article_id = _article_id(article, paragraph, index)
            for number, (start, end) in enumerate(windows(context, target_chars)):
                yield Passage(f"{article_id}-w{number}", article_id, start, end, context[start:end]), paragraph


def _bears_answer(paragraph: dict[str, Any], start: int, end: int) -> bool:
    return any(
        start <= a["answer_start"] and a["answer_start"] + len(a["text"]) <= end
        for qa in paragraph["qas"]
        for a in qa["answers"]
    )


def sample_passages(
    articles: list[dict[str, Any]],
    count: int,
    *,
    target_chars: int = 1200,
    seed: int = 0,
    max_per_article: int = 2,
    answer_bearing_share: float = 0.5,
) -> list[Passage]:
    """`count` windows drawn with `seed`: `answer_bearing_share` of them hold a gold answer, the rest are drawn from
    the windows that hold none (most windows of a paper hold none, so a plain draw would leave the gold training
    set of the same passages nearly empty); at most `max_per_article` per article, so many papers are seen."""
    pools: dict[bool, list[Passage]] = {True: [], False: []}
    for passage, paragraph in all_windows(articles, target_chars):
        pools[_bears_answer(paragraph, passage.start, passage.end)].append(passage)
    rng = random.Random(seed)
    chosen: list[Passage] = []
    per_article: dict[str, int] = {}
    wanted = {True: round(count * answer_bearing_share), False: count - round(count * answer_bearing_share)}
    for bearing in (True, False):
        pool = sorted(pools[bearing], key=lambda p: p.id)
        rng.shuffle(pool)
        taken = 0
        for passage in pool:
            if taken == wanted[bearing]:
                break
            if per_article.get(passage.article_id, 0) < max_per_article:
                chosen.append(passage)
                per_article[passage.article_id] = per_article.get(passage.article_id, 0) + 1
                taken += 1
        if taken < wanted[bearing]:
            raise ClinqaError(
                f"only {taken} {'answer-bearing' if bearing else 'answer-free'} passages available "
                f"(asked for {wanted[bearing]}); lower the count or raise max_per_article"
            )
    return sorted(chosen, key=lambda p: p.id)


def gold_for_passages(articles: list[dict[str, Any]], passages: list[Passage]) -> dict[str, Any]:
    """SQuAD JSON of the gold questions whose answers lie wholly inside a passage, offsets re-based to it."""
    by_article: dict[str, list[Passage]] = {}
    for passage in passages:
        by_article.setdefault(passage.article_id, []).append(passage)
    data = []
    for index, article in enumerate(articles):
        for paragraph in article["paragraphs"]:
            for passage in by_article.get(_article_id(article, paragraph, index), []):
                qas = []
                for qa in paragraph["qas"]:
                    answers = [
                        a
                        for a in qa["answers"]
                        if passage.start <= a["answer_start"] and a["answer_start"] + len(a["text"]) <= passage.end
                    ]
                    if answers and len(answers) == len(qa["answers"]):
                        qas.append(
                            {
                                "id": f"{qa['id']}@{passage.id}",
                                "question": qa["question"],
                                "is_impossible": False,
                                "answers": [
                                    {"text": a["text"], "answer_start": a["answer_start"] - passage.start}
                                    for a in answers
                                ],
                            }
                        )
                data.append(
                    {
                        "title": passage.id,
                        "paragraphs": [{"context": passage.text, "document_id": passage.id, "qas": qas}],
                    }
                )
    return {"version": "covid-qa-passages", "data": data}


def answer_windows(articles: list[dict[str, Any]], *, target_chars: int = 1200) -> tuple[dict[str, Any], int]:
    """Every question on the report-sized window of its article that holds its answers, and how many were left out.

    For scoring: a model trained on report-sized passages is scored on report-sized contexts, as RadQA scores on
    reports, instead of on whole papers of ~25 windows. Windows are cut as for training (`windows`); a question
    whose answers straddle a window edge, or fall in different windows, is left out and counted.
    """
    gold = gold_for_passages(articles, [passage for passage, _ in all_windows(articles, target_chars)])
    gold["data"] = [entry for entry in gold["data"] if entry["paragraphs"][0]["qas"]]
    kept = sum(len(entry["paragraphs"][0]["qas"]) for entry in gold["data"])
    total = sum(len(p["qas"]) for article in articles for p in article["paragraphs"])
    gold["version"] = "covid-qa-answer-windows"
    return gold, total - kept


def write_passages(path: Path, passages: list[Passage]) -> None:
    """JSONL that `clinqa-synth generate --input` reads (`id`, `text`) and that keeps where each window came from."""
    with open(path, "w", encoding="utf-8") as handle:
        for passage in passages:
            handle.write(json.dumps(asdict(passage), ensure_ascii=False) + "\n")
