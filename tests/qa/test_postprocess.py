"""N-best post-processing: hand-made logits, null answers, several windows, Dataset vs list input."""

from __future__ import annotations

import datasets
import numpy as np

from clinqa_synth.qa.postprocess import postprocess_predictions

CONTEXT = "alpha beta gamma delta"
# token 0 = [CLS], tokens 1-2 = question (no offsets), tokens 3-6 = context words, 7 = padding
OFFSETS = [None, None, None, (0, 5), (6, 10), (11, 16), (17, 22), None]


def logits(start_at: int, end_at: int, null: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    start = np.full(8, -5.0, dtype=np.float32)
    end = np.full(8, -5.0, dtype=np.float32)
    start[0] = end[0] = null
    start[start_at] = 5.0
    end[end_at] = 5.0
    return start, end


def test_best_span_is_read_from_offsets() -> None:
    s, e = logits(4, 5)
    result = postprocess_predictions(
        [{"id": "q", "context": CONTEXT}],
        {"example_id": ["q"], "offset_mapping": [OFFSETS]},
        s[None],
        e[None],
        version_2_with_negative=False,
    )
    assert result.answers["q"] == "beta gamma"
    assert result.nbest["q"][0]["offsets"] == [6, 16]
    assert abs(sum(c["probability"] for c in result.nbest["q"]) - 1.0) < 1e-5


def test_end_before_start_and_too_long_spans_are_invalid() -> None:
    s, e = logits(5, 4)  # best end precedes best start
    e[5] = 1.0  # so the single-token spans differ: "gamma" (5 + 1) beats "beta" (-5 + 5)
    result = postprocess_predictions(
        [{"id": "q", "context": CONTEXT}],
        {"example_id": ["q"], "offset_mapping": [OFFSETS]},
        s[None],
        e[None],
        version_2_with_negative=False,
        max_answer_length=1,
    )
    assert result.answers["q"] == "gamma"  # (5, 4) is invalid and two-token spans are too long


def test_null_wins_when_its_score_is_higher_and_odds_are_reported() -> None:
    s, e = logits(4, 5, null=20.0)
    result = postprocess_predictions(
        [{"id": "q", "context": CONTEXT}],
        {"example_id": ["q"], "offset_mapping": [OFFSETS]},
        s[None],
        e[None],
        version_2_with_negative=True,
    )
    assert result.answers["q"] == ""
    assert result.null_odds["q"] == 40.0 - 10.0
    lenient = postprocess_predictions(
        [{"id": "q", "context": CONTEXT}],
        {"example_id": ["q"], "offset_mapping": [OFFSETS]},
        s[None],
        e[None],
        null_score_diff_threshold=100.0,
    )
    assert lenient.answers["q"] == "beta gamma"


def test_best_window_wins_across_windows_and_dataset_input_matches_lists() -> None:
    s1, e1 = logits(3, 3)
    s2, e2 = logits(5, 6)
    s2[5] = e2[6] = 9.0  # second window is more confident
    features = {"example_id": ["q", "q"], "offset_mapping": [OFFSETS, OFFSETS]}
    examples = [{"id": "q", "context": CONTEXT}]
    from_lists = postprocess_predictions(examples, features, np.stack([s1, s2]), np.stack([e1, e2]))
    from_dataset = postprocess_predictions(
        examples, datasets.Dataset.from_dict(features), np.stack([s1, s2]), np.stack([e1, e2])
    )
    assert from_lists.answers["q"] == "gamma delta" == from_dataset.answers["q"]
    assert from_lists.nbest == from_dataset.nbest


def _stock_reference(examples, features, all_start, all_end, n_best_size, max_answer_length, threshold):
    """A straightforward transcription of the stock HF `postprocess_qa_predictions` loop (utils_qa.py)."""
    answers, odds = {}, {}
    for example in examples:
        min_null, prelim = None, []
        for f, example_id in enumerate(features["example_id"]):
            if example_id != example["id"]:
                continue
            start, end, offsets = all_start[f], all_end[f], features["offset_mapping"][f]
            null = start[0] + end[0]
            if min_null is None or min_null["score"] > null:
                min_null = {"offsets": (0, 0), "score": null, "start_logit": start[0], "end_logit": end[0]}
            for s in np.argsort(start)[-1 : -n_best_size - 1 : -1]:
                for e in np.argsort(end)[-1 : -n_best_size - 1 : -1]:
                    if s >= len(offsets) or e >= len(offsets) or offsets[s] is None or offsets[e] is None:
                        continue
                    if e < s or e - s + 1 > max_answer_length:
                        continue
                    prelim.append(
                        {
                            "offsets": (offsets[s][0], offsets[e][1]),
                            "score": start[s] + end[e],
                            "start_logit": start[s],
                            "end_logit": end[e],
                        }
                    )
        prelim.append(min_null)
        predictions = sorted(prelim, key=lambda p: p["score"], reverse=True)[:n_best_size]
        if not any(p["offsets"] == (0, 0) for p in predictions):
            predictions.append(min_null)
        for p in predictions:
            p["text"] = example["context"][p["offsets"][0] : p["offsets"][1]]
        i = 0
        while i < len(predictions) and predictions[i]["text"] == "":
            i += 1
        if i == len(predictions):
            answers[example["id"]], odds[example["id"]] = "", float("inf")
            continue
        best = predictions[i]
        diff = min_null["score"] - best["start_logit"] - best["end_logit"]
        odds[example["id"]] = float(diff)
        answers[example["id"]] = "" if diff > threshold else best["text"]
    return answers, odds


def test_matches_the_stock_logic_on_random_windows_with_different_null_scores() -> None:
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota"]
    for trial in range(60):
        context = " ".join(rng.choice(words, size=9))
        starts = [0]
        for w in context.split(" ")[:-1]:
            starts.append(starts[-1] + len(w) + 1)
        spans = [(a, a + len(w)) for a, w in zip(starts, context.split(" "))]
        n_windows = int(rng.integers(1, 4))
        offsets, example_ids = [], []
        for window in range(n_windows):  # overlapping windows of 5 context tokens after [CLS] + 2 question tokens
            first = min(window * 2, len(spans) - 5)
            offsets.append([None, None, None, *spans[first : first + 5], None])
            example_ids.append("q")
        features = {"example_id": example_ids, "offset_mapping": offsets}
        start = rng.normal(0, 3, size=(n_windows, 9)).astype(np.float32)
        end = rng.normal(0, 3, size=(n_windows, 9)).astype(np.float32)
        start[:, 0] += rng.normal(0, 3, size=n_windows).astype(np.float32)  # windows disagree on the null score
        examples = [{"id": "q", "context": context}]
        threshold = float(rng.choice([0.0, 1.5]))
        ours = postprocess_predictions(
            examples, features, start, end, n_best_size=5, max_answer_length=3, null_score_diff_threshold=threshold
        )
        want, want_odds = _stock_reference(examples, features, start, end, 5, 3, threshold)
        assert ours.answers == want, (trial, ours.answers, want)
        if np.isfinite(want_odds["q"]):  # (the stock loop has no odds, and crashes, when no span is valid)
            assert abs(ours.null_odds["q"] - want_odds["q"]) < 1e-4, trial
