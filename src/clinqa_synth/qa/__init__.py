"""Extractive QA on transformers 5: features, trainer, n-best post-processing, SQuAD v2 + Reference Overlap metrics."""
