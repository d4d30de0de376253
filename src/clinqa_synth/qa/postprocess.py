"""Vectorised n-best post-processing: logits of overlapping windows → one answer string per example.

The stock HF script loops in Python over every feature × top start × top end candidate; here the
candidate matrix of all windows is scored and masked in numpy at once (valid = both ends inside
the context, end ≥ start, length ≤ max_answer_length), and only the final per-example merge of
a few windows is a Python loop. SQuAD v2: the null answer wins when its score beats the best span
by more than `null_score_diff_threshold`; that difference is reported as the null odds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass
class Predictions:
    answers: dict[str, str]
    nbest: dict[str, list[dict[str, Any]]]
    null_odds: dict[str, float]


def _offset_arrays(offset_mappings: Sequence[Sequence[Any]], length: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, L) start and end character offsets; -1 where a token is outside the context or padding."""
    count = len(offset_mappings)
    starts = np.full((count, length), -1, dtype=np.int64)
    ends = np.full((count, length), -1, dtype=np.int64)
    for i, offsets in enumerate(offset_mappings):
        for k, offset in enumerate(offsets[:length]):
            if offset is not None and len(offset) == 2:
                starts[i, k], ends[i, k] = offset
    return starts, ends


def postprocess_predictions(
    examples: Any,
    features: Any,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    *,
    version_2_with_negative: bool = True,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float = 0.0,
) -> Predictions:
    """Answers, n-best lists and null odds for every example (examples/features are HF Datasets or lists of dicts)."""
    start_logits = np.asarray(start_logits, dtype=np.float32)
    end_logits = np.asarray(end_logits, dtype=np.float32)
    n_features, length = start_logits.shape
    if len(features) != n_features:
        raise ValueError(f"got logits for {n_features} features but {len(features)} features")
    offsets = features["offset_mapping"]
    char_start, char_end = _offset_arrays(offsets, length)
    k = min(n_best_size, length)
    top_start = np.argsort(-start_logits, axis=1)[:, :k]  # (F, k)
    top_end = np.argsort(-end_logits, axis=1)[:, :k]
    s_idx = top_start[:, :, None]  # (F, k, 1)
    e_idx = top_end[:, None, :]  # (F, 1, k)
    rows = np.arange(n_features)[:, None, None]
    valid = (
        (char_start[rows, s_idx] >= 0)
        & (char_end[rows, e_idx] >= 0)
        & (e_idx >= s_idx)
        & (e_idx - s_idx + 1 <= max_answer_length)
    )
    scores = start_logits[rows, s_idx] + end_logits[rows, e_idx]  # (F, k, k)
    scores = np.where(valid, scores, -np.inf)
    flat = scores.reshape(n_features, -1)
    keep = min(n_best_size, flat.shape[1])
    best_flat = np.argsort(-flat, axis=1)[:, :keep]  # (F, keep) candidates per feature, best first
    null_scores = start_logits[:, 0] + end_logits[:, 0]

    by_example: dict[str, list[int]] = defaultdict(list)
    for index, example_id in enumerate(features["example_id"]):
        by_example[str(example_id)].append(index)

    answers: dict[str, str] = {}
    nbest: dict[str, list[dict[str, Any]]] = {}
    null_odds: dict[str, float] = {}
    for example in examples:
        qid = str(example["id"])
        context = example["context"]
        feature_ids = by_example.get(qid, [])
        candidates: list[dict[str, Any]] = []
        min_null = None
        for f in feature_ids:
            if min_null is None or null_scores[f] < min_null[0]:
                min_null = (float(null_scores[f]), float(start_logits[f, 0]), float(end_logits[f, 0]))
            for flat_index in best_flat[f]:
                score = flat[f, flat_index]
                if not np.isfinite(score):
                    break
                si, ei = top_start[f, flat_index // k], top_end[f, flat_index % k]
                a, b = int(char_start[f, si]), int(char_end[f, ei])
                candidates.append({
                    "text": context[a:b], "offsets": (a, b), "score": float(score),
                    "start_logit": float(start_logits[f, si]), "end_logit": float(end_logits[f, ei]),
                })  # fmt: skip
        candidates.sort(key=lambda c: c["score"], reverse=True)
        candidates = candidates[:n_best_size]
        if version_2_with_negative and min_null is not None:
            candidates.append({"text": "", "offsets": (0, 0), "score": min_null[0], "start_logit": min_null[1],
                               "end_logit": min_null[2]})  # fmt: skip
            candidates.sort(key=lambda c: c["score"], reverse=True)
            candidates = candidates[: n_best_size + 1]
        if not candidates:
            candidates = [{"text": "", "offsets": (0, 0), "score": 0.0, "start_logit": 0.0, "end_logit": 0.0}]
        scores_arr = np.array([c["score"] for c in candidates])
        probs = np.exp(scores_arr - scores_arr.max())
        probs /= probs.sum()
        for candidate, prob in zip(candidates, probs):
            candidate["probability"] = float(prob)
        best_span = next((c for c in candidates if c["text"]), None)
        if not version_2_with_negative:
            answers[qid] = best_span["text"] if best_span else ""
        else:
            null_score = min_null[0] if min_null else 0.0
            diff = null_score - (best_span["score"] if best_span else -1e9)
            null_odds[qid] = float(diff)
            answers[qid] = "" if diff > null_score_diff_threshold or best_span is None else best_span["text"]
        nbest[qid] = [{**c, "offsets": list(c["offsets"])} for c in candidates]
    return Predictions(answers, nbest, null_odds)
