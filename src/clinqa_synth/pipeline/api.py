"""The public entry points: generate a config into a dataset folder (CLI) or into a DatasetDict (Python).

This is the only place where documents, the LLM session, the async driver, the dataset folder
and the card meet; each of those stays independent of the others.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clinqa_synth import __version__
from clinqa_synth.documents.model import KINDS, Document
from clinqa_synth.documents.shaping import DocumentSource, DocumentStream, count_documents
from clinqa_synth.errors import ClinqaError
from clinqa_synth.llm.cache import CACHE_PROTOCOL_VERSION
from clinqa_synth.llm.protocol import ChatClient
from clinqa_synth.methods import MethodConfig, load_method
from clinqa_synth.pipeline.costs import StepCosts
from clinqa_synth.pipeline.driver import RunOptions, run_documents
from clinqa_synth.pipeline.estimate import ESTIMATE_AFTER_DOCUMENTS, describe, project
from clinqa_synth.pipeline.options import GenerationOptions
from clinqa_synth.pipeline.prompts import PromptSet
from clinqa_synth.pipeline.steps import FUNNEL_STEPS, DocumentResult
from clinqa_synth.text import words

CONFIG_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+\-]{0,99}$")


def check_config_name(name: str) -> str:
    """A config name is a folder name and a `load_dataset` config: letters, digits and _ . @ + - only."""
    if not CONFIG_NAME.match(name) or ".." in name:
        raise ClinqaError(
            f"config name {name!r}: use letters, digits and _ . @ + - (e.g. nooverlap_summary@llama-3.1-70b)"
        )
    return name


@dataclass
class RunSummary:
    """What a generation run did, for the terminal, generation.json and the card."""

    config: str
    documents: int = 0
    failed: Counter = field(default_factory=Counter)
    funnel: Counter = field(default_factory=Counter)
    drops: Counter = field(default_factory=Counter)
    placements: Counter = field(default_factory=Counter)
    answers_as_written: Counter = field(default_factory=Counter)  # span / unanswerable / aligned / not_a_span
    costs: StepCosts = field(default_factory=StepCosts)  # per step: calls, cache hits, tokens, latency
    answerable: int = 0
    unanswerable: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    llm_usage: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    out: str = ""
    section_overlaps: list[float] = field(default_factory=list)  # of kept pairs: the measured difficulty
    source_overlaps: list[float] = field(default_factory=list)
    answer_words: list[int] = field(default_factory=list)  # of kept answerable pairs
    hardening: Counter = field(default_factory=Counter)  # questions hardened, kept hardened, fallbacks, rounds
    method: MethodConfig | None = None  # whose difficulty targets the run is measured against
    notices: list[str] = field(default_factory=list)  # what the LLM session found out about the server
    whole_input: int = 0  # documents in the input (this shard), whatever --limit processed
    estimate: dict[str, Any] = field(default_factory=dict)  # projected cost of the whole input (pipeline.estimate)

    def difficulty(self) -> dict[str, float | None]:
        """Measured, not hoped for: overlap of kept questions with their section/source, kept answer lengths."""

        def mean(values: list[float]) -> float | None:
            return round(statistics.fmean(values), 3) if values else None

        return {
            "mean_question_section_overlap": mean(self.section_overlaps),
            "mean_question_source_overlap": mean(self.source_overlaps),
            "zero_overlap_share": mean([float(v == 0.0) for v in self.section_overlaps]),
            "median_answer_words": statistics.median(self.answer_words) if self.answer_words else None,
            "answers_over_30_words_share": mean([float(n > 30) for n in self.answer_words]),
        }

    def add(self, result: DocumentResult) -> None:
        self.documents += 1
        if result.failure:
            self.failed[result.failure.reason] += 1
            if len(self.failures) < 1000:  # bounded: a 100k-document run must not grow this without limit
                self.failures.append((result.document_id, str(result.failure)[:300]))
        self.funnel.update(result.funnel)
        self.drops.update(result.drops)
        self.placements.update(result.placements)
        self.answers_as_written.update(result.answers_as_written)
        self.costs.update(result.costs)
        self.hardening.update(result.hardening)
        for record in result.records:
            self.add_record(record)

    def add_record(self, record: dict[str, Any]) -> None:
        """A kept row's share of the measured difficulty (also how `merge` re-measures merged rows)."""
        section = record["question_context_overlap"]
        source = record.get("question_source_overlap")  # None in folders written before the column existed
        self.section_overlaps.append(section)
        self.source_overlaps.append(section if source is None else source)
        if record["is_impossible"]:
            self.unanswerable += 1
        else:
            self.answerable += 1
            self.answer_words.append(len(words(record["answers"]["text"][0])))

    @property
    def kept(self) -> int:
        return self.answerable + self.unanswerable

    def targets(self) -> dict[str, dict[str, Any]]:
        """Each difficulty target the method sets, with what this run measured and whether it was met."""
        found: dict[str, dict[str, Any]] = {}
        method = self.method
        if method is None:
            return found

        def add(name: str, target: float | None, measured: float | None, met: Callable[[float, float], bool]) -> None:
            if target is not None:
                found[name] = {
                    "target": target,
                    "measured": measured,
                    "met": None if measured is None else met(measured, target),
                }

        overlaps = [max(a, b) for a, b in zip(self.section_overlaps, self.source_overlaps)]
        above = (
            round(sum(o > method.max_overlap for o in overlaps) / len(overlaps), 3)
            if overlaps and method.max_overlap is not None
            else None
        )
        add("max_overlap: share of kept questions above it", method.max_overlap, above, lambda m, t: m == 0.0)
        add(
            "zero_overlap_share",
            method.target_zero_overlap_share,
            self.difficulty()["zero_overlap_share"],
            lambda m, t: m >= t,
        )
        add(
            "max_unanswerable_share",
            method.max_unanswerable_share,
            round(self.unanswerable / self.kept, 3) if self.kept else None,
            lambda m, t: m <= t,
        )
        return found


async def _drive(
    documents: Iterable[Document],
    method: MethodConfig,
    chat: ChatClient,
    *,
    total: int | None,
    options: RunOptions,
    model_id: str,
    summary: RunSummary,
    stage: Any,
    validation_fraction: float,
    prompt_sets: dict[str, PromptSet],
    progress: Any,
) -> None:
    from clinqa_synth.dataset.folder import split_for

    task = progress.add_task(f"[bold]{method.name}", total=total) if progress else None
    async for result in run_documents(
        documents, method, chat, total=total, options=options, model_id=model_id, prompt_sets=prompt_sets
    ):
        summary.add(result)
        usage = getattr(chat, "accounting", None)
        if summary.documents == min(ESTIMATE_AFTER_DOCUMENTS, total or 1) and usage is not None:
            summary.estimate = project(
                summary.documents, summary.whole_input or total or summary.documents, usage.summary(), usage.elapsed_s
            )
            if progress is not None:
                progress.console.print(describe(summary.estimate))
        if stage is not None and result.records:
            stage.add(result.records, split_for(result.document_id, validation_fraction))
        if stage is not None and result.rejected:
            stage.add_rejected(result.rejected)
        if progress is not None:
            usage = getattr(chat, "accounting", None)
            rate = f"{usage.completion_tokens_per_s:.1f} tok/s, {usage.cache_hits} cached" if usage else ""
            progress.update(task, advance=1, description=f"[bold]{method.name}[/bold] {summary.kept} pairs · {rate}")


def generate_to_folder(
    source: DocumentSource,
    *,
    config: str = "nooverlap_summary",
    out: str | Path,
    llm: Any = None,
    chat: ChatClient | None = None,
    options: GenerationOptions | None = None,
    llm_description: dict[str, Any] | None = None,
    reader_options: dict[str, Any] | None = None,
    **overrides: Any,
) -> RunSummary:
    """Generate one config from `source` into the dataset folder `out` (atomically) and rewrite its card.

    `options` (:class:`GenerationOptions`; fields may also be given as keyword arguments, e.g. `limit=20`) say
    which documents and how: `name` is the config's name in the folder (default: the method's), so runs of one
    method with several generator models sit side by side; `limit` keeps the first N documents (a pilot run; the
    cost estimate still projects the whole input); `credentialed` marks the folder, for good, as holding notes under
    a data-use agreement; `max_tokens_per_step` overrides the method's token limits. `reader_options` (text_column,
    id_column, split, where, credentialed) is the older spelling of the reader fields.
    """
    from clinqa_synth.dataset.card import write_card
    from clinqa_synth.dataset.folder import DatasetFolder
    from clinqa_synth.dataset.recipe import write_recipe
    from clinqa_synth.llm.session import LLMSettings, open_llm

    if reader_options:
        overrides.update({k: v for k, v in reader_options.items() if k in ("text_column", "id_column", "split")})
        overrides["where"] = tuple(reader_options.get("where") or ())
        overrides["credentialed"] = bool(reader_options.get("credentialed")) or overrides.get("credentialed", False)
    if overrides.get("kind") is None:
        overrides.pop("kind", None)
    try:
        options = replace(options or GenerationOptions(), **overrides)
    except TypeError as exc:
        raise ClinqaError(f"generate: {exc}; the options are the fields of GenerationOptions") from None
    opts = options
    method = load_method(config, opts.methods_dir)
    name = check_config_name(opts.name or method.name)
    if opts.max_tokens_per_step:
        method = method.model_copy(
            update={"max_tokens_per_step": {**method.max_tokens_per_step, **opts.max_tokens_per_step}}
        )
    folder = DatasetFolder(out)
    # Everything that can be checked without the LLM is checked first: every document is read once
    # (encoding, columns, empty texts) and every prompt is rendered, before a server is started.
    total, source = count_documents(source, opts.kind, opts.reader_options())
    corpus_size = total
    shard = opts.shard
    if shard is not None:
        total = len(range(shard[0], total, shard[1]))
    if total == 0:
        raise ClinqaError("no documents to process" + (f" in shard {shard[0]}/{shard[1]}" if shard else ""))
    whole_input = total  # what the cost estimate projects to, also in a --limit pilot run
    total = min(total, opts.limit) if opts.limit else total
    prompt_sets: dict[str, PromptSet] = {k: PromptSet(k, opts.prompts_dir) for k in KINDS}
    for prompts in prompt_sets.values():
        prompts.validate()
    summary = RunSummary(config=name, out=str(folder.root), method=method, whole_input=whole_input)
    if opts.credentialed:
        folder.mark_credentialed("--credentialed")  # a no-op when the folder is already marked
    credentialed = opts.credentialed or folder.credentialed
    documents = DocumentStream(
        source,
        kind=opts.kind,
        reader_options=opts.reader_options(),
        shard=shard,
        limit=total,
        credentialed=credentialed,
        on_credentialed=folder.mark_credentialed,
    )
    validation_fraction, prompts_dir = opts.validation_fraction, opts.prompts_dir

    started = time.perf_counter()
    stage = folder.stage(name)
    try:
        progress = _progress() if opts.show_progress else None

        def run(chat_client: ChatClient, concurrency: int, model_id: str) -> None:
            run_options = RunOptions(
                concurrency=concurrency,
                max_section_chars=opts.max_section_chars,
                fail_fast=opts.fail_fast,
                prompts_dir=str(prompts_dir) if prompts_dir else None,
                corpus_size=corpus_size,
            )
            coro = _drive(
                documents,
                method,
                chat_client,
                total=total,
                options=run_options,
                model_id=model_id,
                summary=summary,
                stage=stage,
                validation_fraction=validation_fraction,
                prompt_sets=prompt_sets,
                progress=progress,
            )
            if progress is not None:
                with progress:
                    asyncio.run(_closing(coro, chat_client))
            else:
                asyncio.run(_closing(coro, chat_client))

        if chat is not None:
            run(chat, 1, getattr(chat, "model_id", "custom"))
            description = llm_description or {
                "endpoint_kind": "custom ChatClient",
                "model": getattr(chat, "model_id", "custom"),
                "structured_output": "n/a",
                "allow_remote_endpoint": False,
            }
            usage = getattr(getattr(chat, "accounting", None), "summary", dict)()
        else:
            settings = llm or LLMSettings()
            with open_llm(settings, prompt_version=CACHE_PROTOCOL_VERSION) as session:
                run(session.chat, session.endpoint.concurrency, session.model_id)
                description = session.describe()
                usage = session.accounting.summary()
                summary.notices = list(session.notices)
        summary.llm_usage = usage
        if summary.documents and sum(summary.failed.values()) == summary.documents:
            reasons = "; ".join(f"{reason}: {n}" for reason, n in summary.failed.items())
            first = summary.failures[0][1] if summary.failures else ""
            raise ClinqaError(
                f"every document failed ({reasons}); nothing was written. First failure: {first[:300]}. "
                "Completed LLM calls are cached: fix the cause and re-run the same command."
            )
        summary.wall_s = round(time.perf_counter() - started, 2)
        summary.estimate = project(summary.documents, whole_input, summary.llm_usage, summary.wall_s)
        generation = generation_record(
            method,
            summary,
            description,
            {k: prompt_sets[k] for k in sorted(documents.kinds)},
            documents.credentialed,
            opts.license_id,
            validation_fraction,
            shard,
            previous=folder.configs().get(name),
        )
        write_recipe(stage.dir, method, prompts_dir)
        stage.commit(generation)
        summary.splits = dict(stage.counts)
    except BaseException:
        stage.abort()
        raise
    write_card(folder)
    return summary


async def _closing(coro: Any, chat: ChatClient) -> None:
    try:
        await coro
    finally:
        inner = getattr(chat, "inner", chat)
        if hasattr(inner, "aclose"):
            await inner.aclose()


def _progress() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from clinqa_synth.console import console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def generation_record(
    method: MethodConfig,
    summary: RunSummary,
    llm: dict[str, Any],
    prompt_sets: dict[str, PromptSet],
    credentialed: bool,
    license_id: str,
    validation_fraction: float,
    shard: tuple[int, int] | None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The config's generation.json: everything about how its rows were made (the card is rendered from it)."""
    kinds = sorted(prompt_sets) or ["radiology", "clinical_record"]
    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return {
        "config": summary.config,
        "method": method.model_dump(mode="json"),
        "llm": llm,
        "prompt_version": "+".join(prompt_sets[k].version for k in sorted(prompt_sets)) or "none",
        "prompt_files": {
            f"{k}/{name}": digest for k in sorted(prompt_sets) for name, digest in prompt_sets[k].file_hashes().items()
        },
        "per_kind": {k: method.for_kind(k).model_dump() for k in kinds},
        "documents": {
            "total": summary.documents,
            "failed": sum(summary.failed.values()),
            "failures": dict(summary.failed),
            "failed_ids": summary.failures[:200],
        },
        "funnel": {step: summary.funnel.get(step, 0) for step in FUNNEL_STEPS},
        "requoted": summary.funnel.get("requoted", 0),
        "requote_failed_calls": summary.funnel.get("requote_failed", 0),
        "drops": dict(summary.drops),
        "placement": dict(summary.placements),
        "answers_as_written": dict(summary.answers_as_written),
        "answerable": summary.answerable,
        "difficulty": summary.difficulty(),
        "difficulty_targets": summary.targets(),
        "hardening": dict(summary.hardening),
        "unanswerable": summary.unanswerable,
        "llm_usage": summary.llm_usage,
        "production": production_cost(summary, previous, created),
        "estimate": summary.estimate,
        "input_documents": summary.whole_input,
        **summary.costs.as_json(),  # the *_by_step costs (pipeline.costs.COST_KEYS)
        "wall_s": summary.wall_s,
        "credentialed": credentialed,
        "license": license_id,
        "validation_fraction": validation_fraction,
        "shard": list(shard) if shard else None,
        "package_version": __version__,
        "created": created,
    }


def production_cost(summary: RunSummary, previous: dict[str, Any] | None, created: str) -> dict[str, Any]:
    """What producing these rows cost, which a re-run served from the cache must not overwrite with zeros.

    A run that reached the server is the producing run. A run served wholly from the cache keeps the producing run
    of the same config in this folder when there is one; otherwise (a cache filled elsewhere) the tokens the cached
    completions cost when they were generated, without a wall time (unknown here). A run served partly from the
    cache (a method or check changed, so a few calls are new) produced its rows with the earlier run's calls and its
    own: its wall time is added to the earlier producing run's (with `--refresh` nothing is cached, so nothing
    is added).
    """
    usage = summary.llm_usage
    if usage.get("calls", 0) > 0:
        earlier = (previous or {}).get("production") or {}
        # the first producing run's time, not an earlier re-run's sum: a second partly cached re-run adds once
        base = earlier.get("base_wall_s", earlier.get("wall_s"))
        earlier_wall = base if usage.get("cache_hits", 0) > 0 else None
        return {
            "calls": usage.get("calls", 0) + usage.get("cache_hits", 0),
            "cache_hits": usage.get("cache_hits", 0),
            "prompt_tokens": usage.get("prompt_tokens", 0) + usage.get("cached_prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0) + usage.get("cached_completion_tokens", 0),
            "reasoning_tokens": usage.get("reasoning_tokens", 0),
            "wall_s": summary.wall_s + earlier_wall if earlier_wall else summary.wall_s,
            "created": created,
            **(
                {
                    "base_wall_s": earlier_wall,
                    "note": "partly served from the cache: wall time includes the earlier run's",
                }
                if earlier_wall
                else {}
            ),
        }
    if previous and previous.get("production"):
        return previous["production"]
    return {
        "calls": usage.get("cache_hits", 0),
        "cache_hits": usage.get("cache_hits", 0),
        "prompt_tokens": usage.get("cached_prompt_tokens", 0),
        "completion_tokens": usage.get("cached_completion_tokens", 0),
        "reasoning_tokens": 0,
        "wall_s": None,
        "created": None,
        "note": "every completion came from a cache filled by an earlier run",
    }


def generate(
    documents: DocumentSource,
    config: str = "nooverlap_summary",
    chat: ChatClient | None = None,
    *,
    out: str | Path | None = None,
    **kwargs: Any,
) -> Any:
    """Python API: generate `config` from documents and return it as a `datasets.DatasetDict`.

    `documents` is a path (folder/file/HF dataset), Document objects or plain strings; `chat` is any
    :class:`ChatClient` (default: the embedded server, or `llm=LLMSettings(endpoint=...)`).
    Without `out` the folder is a temporary directory.
    """
    import tempfile

    import datasets

    kwargs.setdefault("show_progress", False)
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="clinqa-synth-"))
    summary = generate_to_folder(documents, config=config, out=out, chat=chat, **kwargs)
    if summary.kept == 0:  # `datasets` cannot load a parquet split without rows: say so with an empty, typed split
        from clinqa_synth.squad import qa_features

        features = qa_features()
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict({k: [] for k in features}, features=features)})
    return datasets.load_dataset(str(out), config)
