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
    result = postprocess_predictions([{"id": "q", "context": CONTEXT}], {"example_id": ["q"], "offset_mapping": [OFFSETS]},
                                     s[None], e[None], version_2_with_negative=False)  # fmt: skip
    assert result.answers["q"] == "beta gamma"
    assert result.nbest["q"][0]["offsets"] == [6, 16]
    assert abs(sum(c["probability"] for c in result.nbest["q"]) - 1.0) < 1e-5


def test_end_before_start_and_too_long_spans_are_invalid() -> None:
    s, e = logits(5, 4)  # best end precedes best start
    result = postprocess_predictions([{"id": "q", "context": CONTEXT}], {"example_id": ["q"], "offset_mapping": [OFFSETS]},
                                     s[None], e[None], version_2_with_negative=False, max_answer_length=1)  # fmt: skip
    assert result.answers["q"] in {"gamma", "beta"}  # only single-token spans remain


def test_null_wins_when_its_score_is_higher_and_odds_are_reported() -> None:
    s, e = logits(4, 5, null=20.0)
    result = postprocess_predictions([{"id": "q", "context": CONTEXT}], {"example_id": ["q"], "offset_mapping": [OFFSETS]},
                                     s[None], e[None], version_2_with_negative=True)  # fmt: skip
    assert result.answers["q"] == ""
    assert result.null_odds["q"] == 40.0 - 10.0
    lenient = postprocess_predictions([{"id": "q", "context": CONTEXT}], {"example_id": ["q"], "offset_mapping": [OFFSETS]},
                                      s[None], e[None], null_score_diff_threshold=100.0)  # fmt: skip
    assert lenient.answers["q"] == "beta gamma"


def test_best_window_wins_across_windows_and_dataset_input_matches_lists() -> None:
    s1, e1 = logits(3, 3)
    s2, e2 = logits(5, 6)
    s2[5] = e2[6] = 9.0  # second window is more confident
    features = {"example_id": ["q", "q"], "offset_mapping": [OFFSETS, OFFSETS]}
    examples = [{"id": "q", "context": CONTEXT}]
    from_lists = postprocess_predictions(examples, features, np.stack([s1, s2]), np.stack([e1, e2]))
    from_dataset = postprocess_predictions(examples, datasets.Dataset.from_dict(features), np.stack([s1, s2]), np.stack([e1, e2]))
    assert from_lists.answers["q"] == "gamma delta" == from_dataset.answers["q"]
    assert from_lists.nbest == from_dataset.nbest
