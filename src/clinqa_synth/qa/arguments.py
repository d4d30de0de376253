"""The flags QA users know from HF's `run_qa.py`, as dataclasses for `HfArgumentParser`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default="packaged-minilm",
        metadata={"help": "Path or Hub id of an encoder (e.g. a local RoBERTa-large-PM-M3-Voc), or 'packaged-minilm'"},
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer path/id if not the model's"})
    cache_dir: str | None = field(default=None, metadata={"help": "Where to cache Hub downloads"})


@dataclass
class DataTrainingArguments:
    dataset_name: str | None = field(default=None, metadata={"help": "Dataset folder (clinqa-synth output) or Hub id"})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Config, e.g. nooverlap_summary"})
    train_file: str | None = field(default=None, metadata={"help": "SQuAD/RadQA/MIMIC-QA JSON, JSONL, CSV or parquet"})
    validation_file: str | None = field(default=None, metadata={"help": "Gold dev set (checkpoint selection)"})
    test_file: str | None = field(default=None, metadata={"help": "Gold test set"})
    normalize_whitespace: bool = field(default=True, metadata={"help": "Collapse whitespace in gold files (paper)"})
    version_2_with_negative: bool = field(default=False, metadata={"help": "Some questions are unanswerable"})
    max_seq_length: int = field(default=384)
    doc_stride: int = field(default=128)
    pad_to_max_length: bool = field(default=True)
    n_best_size: int = field(default=20)
    max_answer_length: int = field(default=30)
    null_score_diff_threshold: float = field(default=0.0)
    max_train_samples: int | None = field(default=None)
    max_eval_samples: int | None = field(default=None)
    max_predict_samples: int | None = field(default=None)
    preprocessing_num_workers: int | None = field(default=None)
    overwrite_cache: bool = field(default=False)
