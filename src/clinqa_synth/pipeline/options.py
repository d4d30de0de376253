"""The options of one generation run, declared once (the CLI's flags are derived from these fields)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from clinqa_synth.errors import ClinqaError
from clinqa_synth.options import option


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`--shard i/n` → (i, n), or one clear error."""
    if not text:
        return None
    try:
        index, count = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ClinqaError(f"--shard {text!r}: use i/n, e.g. 0/8") from None
    if count < 1 or not 0 <= index < count:
        raise ClinqaError(f"--shard {text!r}: need 0 <= i < n")
    return index, count


def step_tokens(text: str) -> tuple[str, int]:
    """argparse type for --max-tokens STEP=N."""
    from clinqa_synth.methods import Step

    step, _, number = text.partition("=")
    steps = get_args(Step)
    if step not in steps or not number.isdigit() or int(number) < 16:
        raise argparse.ArgumentTypeError(f"{text!r}: write STEP=N with STEP one of {', '.join(steps)} and N >= 16")
    return step, int(number)


def _where(values: list[str] | tuple) -> tuple[tuple[str, str], ...]:
    from clinqa_synth.documents.readers import parse_where

    return tuple(values) if values and not isinstance(values[0], str) else tuple(parse_where(values or []))


@dataclass(frozen=True)
class GenerationOptions:
    """Which documents, how they are cut, where the rows go, and what the method may be told from outside."""

    # input
    kind: str = option(
        "auto",
        "document kind: the prompt family and summary schema (auto: from headings)",
        choices=("auto", "radiology", "clinical_record"),
    )
    text_column: str = option("text", "table column holding the note text")
    id_column: str | None = option("id", "table column holding the document id")
    split: str = option("train", "split of an HF dataset input")
    where: tuple[tuple[str, str], ...] = option(
        (),
        "keep only table rows whose COLUMN equals VALUE (repeatable), e.g. note_type=DS",
        action="append",
        metavar="COLUMN=VALUE",
        parse=_where,
    )
    credentialed: bool = option(
        False,
        "the notes are under a data-use agreement (PhysioNet, your IRB): marks the "
        "output folder for good — the card warns and a public push is refused. RadQA, "
        "MIMIC-QA and MIMIC-IV-Note files are recognised without it",
        action="store_true",
    )
    shard: tuple[int, int] | None = option(
        None, "i/n: process only the i-th of n deterministic slices (for clusters)", parse=parse_shard
    )
    limit: int | None = option(
        None,
        "a pilot run: only the first N documents (deterministic); the cost estimate still projects the whole input",
        type=int,
    )
    # method
    methods_dir: Path | None = option(None, "folder with your own method YAML files", type=Path)
    prompts_dir: Path | None = option(
        None, "folder overriding prompt files (<kind>/<step>.j2)", flag="--prompts", type=Path
    )
    max_tokens_per_step: dict[str, int] = option(
        None,
        "token limit of one step's calls over the method's max_tokens_per_step (repeatable; steps: summary, "
        "questions, answers, requote, verify, harden), e.g. verify=2048 for a thinking model",
        flag="--max-tokens",
        type=step_tokens,
        action="append",
        metavar="STEP=N",
        parse=dict,
        default_factory=dict,
    )
    max_section_chars: int = option(
        12000, "longer sections are split into chunks (recorded in the section name)", type=int
    )
    # output
    name: str | None = option(
        None,
        "config name in the folder (default: the method's name); {method} is replaced, "
        "e.g. '{method}@llama-3.1-70b' keeps runs of several generator models side by side",
    )
    validation_fraction: float = option(0.0, "share of documents in a validation split (by document)", type=float)
    license_id: str = option("other", "license id for the card (your sources decide)", flag="--license")
    fail_fast: bool = option(False, "stop at the first failed document", action="store_true")
    show_progress: bool = option(True, "no progress bar", flag="--quiet", action="store_false")

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ClinqaError("--validation-fraction must be in [0, 1)")
        if self.limit is not None and self.limit < 1:
            raise ClinqaError(f"--limit {self.limit}: give a number of documents >= 1")

    def reader_options(self) -> dict[str, Any]:
        """What the readers take (documents.readers.read_documents)."""
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "split": self.split,
            "where": list(self.where),
            "credentialed": True if self.credentialed else None,
        }


INPUT_OPTIONS = ("kind", "text_column", "id_column", "split", "shard", "limit", "where", "credentialed")
METHOD_OPTIONS = ("methods_dir", "prompts_dir", "max_tokens_per_step", "max_section_chars")
OUTPUT_OPTIONS = ("name", "validation_fraction", "license_id", "fail_fast", "show_progress")
