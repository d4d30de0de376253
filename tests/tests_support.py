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

__all__ = ["FAULTS", "FaultProxy", "commit_stage", "write_config"]

LLM = {"endpoint_kind": "test", "model": "m", "structured_output": "none", "allow_remote_endpoint": False}


def write_config(
    root: Path, config: str, questions: list[str], *, crash_before_commit: bool = False, doc_prefix: str = "d"
) -> None:
    """A config of hand-made records written through the real folder/card code (no LLM)."""
    folder = DatasetFolder(root)
    stage = folder.stage(config)
    if crash_before_commit:
        _add(stage, config, questions, doc_prefix)
        return  # the process "dies" here: staging folder left behind (its owner lock goes with the stage object)
    commit_stage(folder, stage, questions, doc_prefix)


def _add(stage, config: str, questions: list[str], doc_prefix: str) -> None:  # noqa: ANN001
    stage.add(
        [
            make_record(
                method=config,
                document_id=f"{doc_prefix}{i}",
                title="t",
                section="report",
                context="abc def",
                question=q,
                span=Span(4, 7, "def", "exact"),
                model="m",
                prompt_version="v",
            )
            for i, q in enumerate(questions)
        ],
        "train",
    )


def commit_stage(folder: DatasetFolder, stage, questions: list[str], doc_prefix: str = "d") -> None:  # noqa: ANN001
    """Add hand-made records to an open stage, commit it and rewrite the card."""
    _add(stage, stage.config, questions, doc_prefix)
    stage.commit(generation_record(load_method("direct"), RunSummary(stage.config), LLM, {}, False, "other", 0.0, None))
    write_card(folder)
