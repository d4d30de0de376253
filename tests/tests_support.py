"""Re-export test helpers under one importable name (tests are not a package)."""

from __future__ import annotations

from pathlib import Path

from fault_proxy import FAULTS, FaultProxy

from clinqa_synth.dataset.card import write_card
from clinqa_synth.dataset.folder import DatasetFolder
from clinqa_synth.methods import load_method
from clinqa_synth.pipeline.api import RunSummary, generation_record
from clinqa_synth.pipeline.records import make_record
from clinqa_synth.pipeline.spans import Span

__all__ = ["FAULTS", "FaultProxy", "write_config"]

LLM = {"endpoint_kind": "test", "model": "m", "structured_output": "none", "allow_remote_endpoint": False}


def write_config(root: Path, config: str, questions: list[str], *, crash_before_commit: bool = False,
                 doc_prefix: str = "d") -> None:
    """A config of hand-made records written through the real folder/card code (no LLM)."""
    folder = DatasetFolder(root)
    stage = folder.stage(config)
    stage.add([make_record(method=config, document_id=f"{doc_prefix}{i}", title="t", section="report", context="abc def",
                           question=q, span=Span(4, 7, "def", "exact"), model="m", prompt_version="v")
               for i, q in enumerate(questions)], "train")  # fmt: skip
    if crash_before_commit:
        return  # the process "dies" here: staging folder left behind
    stage.commit(generation_record(load_method("direct"), RunSummary(config), LLM, {}, False, "other", 0.0, None))
    write_card(folder)



