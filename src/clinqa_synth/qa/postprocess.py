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
from typing import Any

import numpy as np


@dataclass
class Predictions:
    answers: dict[str, str]
    nbest: dict[str, list[dict[str, Any]]]
    null_odds: dict[str, float]


def _offset_arrays(features: Any, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, L) start and end character offsets; -1 where a token is outside the context or padding.

    For a `datasets.Dataset` the nested offsets are read column-wise from Arrow (no per-token Python);
    plain lists of lists take a per-feature comprehension.
    """
    table = getattr(features, "data", None)
    if table is not None and hasattr(table, "column"):
        import pyarrow as pa
        import pyarrow.compute as pc

        column = table.column("offset_mapping").combine_chunks()
        if isinstance(column, pa.ChunkedArray):
            column = column.chunk(0) if column.num_chunks else pa.array([], column.type)
        tokens = column.flatten()  # one entry per token: a [start, end] pair or null
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        valid = tokens.is_valid().to_numpy(zero_copy_only=False)
        values = tokens.flatten().to_numpy(zero_copy_only=False)  # two numbers per non-null token
        flat_starts = np.full(len(tokens), -1, dtype=np.int64)
        flat_ends = np.full(len(tokens), -1, dtype=np.int64)
        flat_starts[valid], flat_ends[valid] = values[0::2], values[1::2]
        if len(lengths) and (lengths == length).all():  # padded to max length: a plain reshape
            return flat_starts.reshape(-1, length), flat_ends.reshape(-1, length)
        starts = np.full((len(lengths), length), -1, dtype=np.int64)
        ends = np.full((len(lengths), length), -1, dtype=np.int64)
        row = np.repeat(np.arange(len(lengths)), lengths)
        col = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        keep = col < length
        starts[row[keep], col[keep]] = flat_starts[keep]
        ends[row[keep], col[keep]] = flat_ends[keep]
        return starts, ends
    offsets = features["offset_mapping"]
    starts = np.full((len(offsets), length), -1, dtype=np.int64)
    ends = np.full((len(offsets), length), -1, dtype=np.int64)
    for i, row_offsets in enumerate(offsets):
        pairs = np.array([o if o is not None else (-1, -1) for o in row_offsets[:length]], dtype=np.int64).reshape(
            -1, 2
        )
        starts[i, : len(pairs)], ends[i, : len(pairs)] = pairs[:, 0], pairs[:, 1]
    return starts, ends


def _top_k(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values per row, best first (partition, then sort only k)."""
    if k >= logits.shape[1]:
        return np.argsort(-logits, axis=1)
    part = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(logits, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


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
    if len(features["example_id"]) != n_features:
        raise ValueError(f"got logits for {n_features} features but {len(features['example_id'])} features")
    char_start, char_end = _offset_arrays(features, length)
    k = min(n_best_size, length)
    top_start = _top_k(start_logits, k)  # (F, k), best first
    top_end = _top_k(end_logits, k)
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
        feature_ids = np.asarray(by_example.get(qid, []), dtype=np.int64)
        candidates: list[dict[str, Any]] = []
        min_null = None
        if len(feature_ids):
            null_f = int(feature_ids[np.argmin(null_scores[feature_ids])])
            min_null = (float(null_scores[null_f]), float(start_logits[null_f, 0]), float(end_logits[null_f, 0]))
            cand_flat = best_flat[feature_ids]  # (nf, keep): each window's best candidates
            cand_scores = np.take_along_axis(flat[feature_ids], cand_flat, axis=1).ravel()
            cand_feature = np.repeat(feature_ids, cand_flat.shape[1])
            cand_flat = cand_flat.ravel()
            finite = np.flatnonzero(np.isfinite(cand_scores))
            chosen = finite[np.argsort(-cand_scores[finite], kind="stable")[:n_best_size]]
            for index in chosen:  # only the final n-best become Python objects
                f, flat_index = int(cand_feature[index]), int(cand_flat[index])
                si, ei = top_start[f, flat_index // k], top_end[f, flat_index % k]
                a, b = int(char_start[f, si]), int(char_end[f, ei])
                candidates.append(
                    {
                        "text": context[a:b],
                        "offsets": (a, b),
                        "score": float(cand_scores[index]),
                        "start_logit": float(start_logits[f, si]),
                        "end_logit": float(end_logits[f, ei]),
                    }
                )
        if version_2_with_negative and min_null is not None:
            candidates.append(
                {
                    "text": "",
                    "offsets": (0, 0),
                    "score": min_null[0],
                    "start_logit": min_null[1],
                    "end_logit": min_null[2],
                }
            )
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
