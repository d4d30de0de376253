"""Tokenising SQuAD-style examples into overlapping windows with offsets (the stride scheme of extractive QA).

Long contexts are cut into windows of `max_seq_length` tokens that overlap by `doc_stride`; each
training window is labelled with the answer's token span, or with the [CLS] position when the
answer is absent from that window (or the question is unanswerable). Evaluation windows keep the
offset mapping (None outside the context) and the id of their example for post-processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FeatureSettings:
    max_seq_length: int = 384
    doc_stride: int = 128
    pad_to_max_length: bool = True


def _tokenize(tokenizer: Any, examples: dict[str, list], settings: FeatureSettings) -> Any:
    pad_right = tokenizer.padding_side == "right"
    questions = [q.lstrip() for q in examples["question"]]
    contexts = examples["context"]
    stride = min(settings.doc_stride, settings.max_seq_length // 2)
    return tokenizer(
        questions if pad_right else contexts,
        contexts if pad_right else questions,
        truncation="only_second" if pad_right else "only_first",
        max_length=settings.max_seq_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length" if settings.pad_to_max_length else False,
    ), (1 if pad_right else 0)


def prepare_train_features(examples: dict[str, list], tokenizer: Any, settings: FeatureSettings) -> Any:
    """Windows with `start_positions`/`end_positions` (both at [CLS] when the window holds no answer)."""
    tokenized, context_id = _tokenize(tokenizer, examples, settings)
    sample_map = tokenized.pop("overflow_to_sample_mapping")
    offsets_all = tokenized.pop("offset_mapping")
    starts, ends = [], []
    for i, offsets in enumerate(offsets_all):
        input_ids = tokenized["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in input_ids else 0
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][sample_map[i]]
        if not answers["answer_start"]:
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        token_start = 0
        while sequence_ids[token_start] != context_id:
            token_start += 1
        token_end = len(input_ids) - 1
        while sequence_ids[token_end] != context_id:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        while token_start < len(offsets) and offsets[token_start][0] <= start_char:
            token_start += 1
        starts.append(token_start - 1)
        while offsets[token_end][1] >= end_char:
            token_end -= 1
        ends.append(token_end + 1)
    tokenized["start_positions"] = starts
    tokenized["end_positions"] = ends
    return tokenized


def prepare_eval_features(examples: dict[str, list], tokenizer: Any, settings: FeatureSettings) -> Any:
    """Windows with `example_id` and an offset mapping that is None outside the context."""
    tokenized, context_id = _tokenize(tokenizer, examples, settings)
    sample_map = tokenized.pop("overflow_to_sample_mapping")
    tokenized["example_id"] = []
    for i in range(len(tokenized["input_ids"])):
        sequence_ids = tokenized.sequence_ids(i)
        tokenized["example_id"].append(examples["id"][sample_map[i]])
        tokenized["offset_mapping"][i] = [
            offset if sequence_ids[k] == context_id else None for k, offset in enumerate(tokenized["offset_mapping"][i])
        ]
    return tokenized
