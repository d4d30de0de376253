"""Extractive QA on transformers 5: features, trainer, n-best post-processing, SQuAD v2 + Reference Overlap metrics."""

from pathlib import Path as _Path


def evaluate_module_path() -> str:
    """Path of the local `evaluate` metric module (SQuAD v2 + RO): `evaluate.load(evaluate_module_path())`."""
    return str(_Path(__file__).parent / "squad_v2_ro" / "squad_v2_ro.py")
