"""Small, fast QA subsets for smoke runs, CI and benchmarks: windows of long contexts around their answers.

COVID-QA contexts are whole articles (~40k characters, ~100 windows each); a window of a few
hundred characters around each answer keeps the task extractive while making CPU training take
seconds. Offsets are re-derived and checked.
"""

from __future__ import annotations

from typing import Any

import datasets


def answer_windows(dataset: datasets.Dataset, width: int = 600, limit: int | None = None) -> datasets.Dataset:
    """One example per answerable question: the context cut to ~`width` chars around the first answer."""
    rows: list[dict[str, Any]] = []
    for example in dataset:
        if not example["answers"]["text"]:
            continue
        text, start = example["answers"]["text"][0], example["answers"]["answer_start"][0]
        context = example["context"]
        pad = max(0, (width - len(text)) // 2)
        left = max(0, start - pad)
        right = min(len(context), start + len(text) + pad)
        while left > 0 and not context[left - 1].isspace():
            left -= 1
        while right < len(context) and not context[right].isspace():
            right += 1
        window = context[left:right]
        new_start = start - left
        assert window[new_start : new_start + len(text)] == text
        rows.append({**example, "context": window, "answers": {"text": [text], "answer_start": [new_start]}})
        if limit is not None and len(rows) >= limit:
            break
    return datasets.Dataset.from_list(rows, features=dataset.features)
