"""SQuAD v2 metrics (official normalisation) and Reference Overlap (RO).

EM/F1 follow the official SQuAD v2 evaluation: answers are lower-cased, stripped of punctuation
and articles, the best score over all gold answers counts, and a question whose golds are all
empty is correct only for an empty prediction. `best_exact`/`best_f1` search the no-answer
threshold over the null odds.

RO (Bai et al. 2024) credits a prediction whose character span overlaps the gold span: with the
first gold answer only, both empty is a match, one empty is not, otherwise a match when any
occurrence of the prediction in the context overlaps any occurrence of the gold answer.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from clinqa_synth.squad import occurrences
from clinqa_synth.text import question_overlaps_context

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and articles, collapse whitespace (the official SQuAD rule)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_score(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def f1_score(gold: str, prediction: str) -> float:
    gold_tokens = normalize_answer(gold).split()
    pred_tokens = normalize_answer(prediction).split()
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _occurrences(context: str, text: str) -> list[tuple[int, int]]:
    return [(start, start + len(text)) for start in occurrences(context, text)]


def reference_overlap(prediction: str, gold: str, context: str, gold_start: int | None = None) -> bool:
    """One RO judgement; `gold_start` adds the annotated occurrence even if the text was normalised."""
    prediction, gold = prediction.strip(), gold.strip()
    if not prediction and not gold:
        return True
    if not prediction or not gold:
        return False
    gold_spans = _occurrences(context, gold)
    if gold_start is not None and gold_start >= 0:
        gold_spans.append((gold_start, gold_start + len(gold)))
    pred_spans = _occurrences(context, prediction)
    return any(ps < ge and gs < pe for ps, pe in pred_spans for gs, ge in gold_spans)


def _golds(answers: Mapping[str, Any]) -> list[str]:
    return [text for text in answers.get("text", []) if normalize_answer(text)]


def _best_threshold(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_answer: Mapping[str, bool],
    predictions: Mapping[str, str],
) -> tuple[float, float]:
    """Official search: start from answering nothing, admit questions in order of increasing null odds."""
    current = best = float(sum(1 for q in scores if not has_answer[q]))
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda q: na_probs[q]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            diff = scores[qid]
        elif predictions[qid]:
            diff = -1.0
        else:
            diff = 0.0
        current += diff
        if current > best:
            best, best_thresh = current, na_probs[qid]
    return 100.0 * best / max(len(scores), 1), best_thresh


def squad_v2_metrics(
    predictions: Mapping[str, str],
    references: Iterable[Mapping[str, Any]],
    *,
    na_probs: Mapping[str, float] | None = None,
    na_prob_threshold: float | None = None,
    prediction_offsets: Mapping[str, tuple[int, int] | None] | None = None,
) -> dict[str, float]:
    """EM/F1 (+ HasAns_/NoAns_ splits, best_* with thresholds when `na_probs` is given) and RO.

    `references` are rows with `id`, `answers` ({text, answer_start}) and, for RO, `context`
    and optionally `question` (for the split by question–context lexical overlap). `na_probs` may be
    probabilities or null-score differences (our null odds); `na_prob_threshold`, when given, turns
    predictions with higher odds into "no answer" (the official script's default is 1.0 for probabilities);
    the threshold applies to EM, F1 and RO alike.

    RO comes in two forms. `ro` is the paper's definition: the first gold answer and the prediction,
    any occurrence of each text in the context, overlapping (both empty counts as a match). `ro_span`
    (when `prediction_offsets` gives each prediction's character span in its context) asks whether the
    predicted span itself overlaps the annotated gold span: no credit for the same words elsewhere.
    """
    references = list(references)
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    has_answer: dict[str, bool] = {}
    ro_hits: dict[str, bool] = {}
    ro_span_hits: dict[str, bool] = {}
    overlap_group: dict[str, bool] = {}
    for ref in references:
        qid = str(ref["id"])
        if qid not in predictions:
            raise KeyError(f"no prediction for question {qid!r}")
        prediction = predictions[qid]
        golds = _golds(ref["answers"])
        has_answer[qid] = bool(golds)
        targets = golds or [""]
        abstained = (
            na_probs is not None and na_prob_threshold is not None and na_probs.get(qid, 0.0) > na_prob_threshold
        )
        if abstained:
            prediction = ""
        exact[qid] = max(exact_score(g, prediction) for g in targets)
        f1[qid] = max(f1_score(g, prediction) for g in targets)
        context = ref.get("context", "")
        first_gold = ref["answers"]["text"][0] if ref["answers"].get("text") else ""
        starts = ref["answers"].get("answer_start") or [None]
        ro_hits[qid] = reference_overlap(prediction, first_gold, context, starts[0] if first_gold else None)
        if prediction_offsets is not None:
            offsets = None if abstained or not prediction.strip() else prediction_offsets.get(qid)
            gold_span = (starts[0], starts[0] + len(first_gold)) if first_gold and starts[0] is not None else None
            if offsets is None or gold_span is None:
                ro_span_hits[qid] = offsets is None and gold_span is None
            else:
                ro_span_hits[qid] = offsets[0] < gold_span[1] and gold_span[0] < offsets[1]
        if "question" in ref:
            overlap_group[qid] = question_overlaps_context(ref["question"], context)

    def mean(values: Iterable[float]) -> float:
        values = list(values)
        return 100.0 * sum(values) / len(values) if values else 0.0

    qids = list(exact)
    result: dict[str, float] = {
        "exact": mean(exact[q] for q in qids),
        "f1": mean(f1[q] for q in qids),
        "ro": mean(float(ro_hits[q]) for q in qids),
        "total": float(len(qids)),
    }
    if ro_span_hits:
        result["ro_span"] = mean(float(ro_span_hits[q]) for q in qids)
    for prefix, subset in (
        ("HasAns", [q for q in qids if has_answer[q]]),
        ("NoAns", [q for q in qids if not has_answer[q]]),
    ):
        if subset:
            result[f"{prefix}_exact"] = mean(exact[q] for q in subset)
            result[f"{prefix}_f1"] = mean(f1[q] for q in subset)
            result[f"{prefix}_ro"] = mean(float(ro_hits[q]) for q in subset)
            result[f"{prefix}_total"] = float(len(subset))
    if overlap_group:
        for name, flag in (("overlap", True), ("no_overlap", False)):
            subset = [q for q in qids if overlap_group.get(q) is flag]
            if subset:
                result[f"ro_{name}"] = mean(float(ro_hits[q]) for q in subset)
                result[f"f1_{name}"] = mean(f1[q] for q in subset)
                result[f"{name}_total"] = float(len(subset))
    if na_probs is not None:
        by_id = _answers_by_id(references, qids)
        raw_exact = {q: max(exact_score(g, predictions[q]) for g in (_golds(a) or [""])) for q, a in by_id.items()}
        raw_f1 = {q: max(f1_score(g, predictions[q]) for g in (_golds(a) or [""])) for q, a in by_id.items()}
        result["best_exact"], result["best_exact_thresh"] = _best_threshold(
            raw_exact, na_probs, has_answer, predictions
        )
        result["best_f1"], result["best_f1_thresh"] = _best_threshold(raw_f1, na_probs, has_answer, predictions)
    return result


def _answers_by_id(references: Iterable[Mapping[str, Any]], qids: list[str]) -> dict[str, Mapping[str, Any]]:
    wanted = set(qids)
    return {str(r["id"]): r["answers"] for r in references if str(r["id"]) in wanted}
