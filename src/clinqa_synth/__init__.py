"""clinqa-synth: hard synthetic clinical QA datasets (SQuAD v2) generated with an LLM.

The heavy parts (datasets, transformers, the LLM runtime) are imported lazily so that
`import clinqa_synth` stays cheap and works without the optional extras.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "generate"]


def generate(*args: Any, **kwargs: Any) -> Any:
    """Generate a synthetic QA dataset; see :func:`clinqa_synth.pipeline.api.generate`."""
    from clinqa_synth.pipeline.api import generate as _generate

    return _generate(*args, **kwargs)
