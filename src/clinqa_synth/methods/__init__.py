"""Generation methods as plain YAML files (one per config name), validated with pydantic.

A method says which steps run (schema summary or not), which constraint the question prompt
carries (no overlap, interrogative prefixes) and the sampling schedule. Users add their own by
dropping a YAML file in a folder and passing `--methods-dir`; unknown keys are an error, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clinqa_synth.errors import ClinqaError

DEFAULT_PREFIXES = ("is", "does", "has", "which", "what", "how", "where")
# The LLM calls of a document, by step; each has a token limit (`max_tokens_per_step`).
Step = Literal["summary", "questions", "answers", "requote", "verify", "harden"]
# The limits of the short steps: a verification answer is one quotation, a hardened question one sentence.
SHORT_STEP_MAX_TOKENS = {"verify": 160, "harden": 96}


class MethodError(ClinqaError):
    """A method name or YAML file that is not valid."""


class KindDefaults(BaseModel):
    """N questions asked and K pairs kept per section, for one document kind."""

    model_config = ConfigDict(extra="forbid")
    num_questions: int = Field(ge=1, le=100)
    keep: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _keep_at_most_asked(self) -> KindDefaults:
        if self.keep > self.num_questions:
            raise ValueError(f"keep (K={self.keep}) cannot exceed num_questions (N={self.num_questions})")
        return self


class MethodConfig(BaseModel):
    """One generation method; see the shipped YAML files for the meaning of each field."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    description: str
    summarize: bool = False
    no_overlap: bool = False
    prefixes: list[str] | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    temperature_end: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=1024, ge=16)
    # Per-step limits over max_tokens (and over the short steps' own limits, verify 160 and harden 96). A thinking
    # model (Qwen3, R1 distills) spends hundreds of tokens before answering: give it room here or turn thinking off
    # with --chat-template-kwargs; a call that ends at its limit is a failed call, never data.
    max_tokens_per_step: dict[Step, int] = Field(default_factory=dict)
    # The lowest similarity (0-100) at which a paraphrased answer may be placed on the section's words
    # (pipeline.spans; the clinical guards apply at any value). Lower places more paraphrases, and more wrong ones.
    fuzzy_threshold: float = Field(default=90.0, ge=50.0, le=100.0)
    seed: int = 0
    # One follow-up call per section for answers that paraphrased instead of quoting (see pipeline.steps._requote).
    # Off by default (= the paper's pipeline): measured on the 1.5B model it added pairs per document but cost more
    # completion tokens than it recovered (docs/benchmarks.md §3); turn it on when documents, not tokens, are scarce.
    requote: bool = False
    selection: Literal["first", "answerable_first", "shortest_question_overlap"] = "first"
    # Deterministic quality checks before keeping a pair (pipeline.answer_checks): near-duplicate and identity/
    # logistics questions are dropped before the answer call; echo, blank, over-long and whole-section answers
    # after placement. `answer_checks: false` is the paper's pipeline.
    answer_checks: bool = True
    # Round-trip verification (pipeline.verification): each pair is asked again alone and kept only when the two
    # answers agree. `verify: false` with `answer_checks: false` is the paper's pipeline.
    verify: bool = True
    # Extractive constrained decoding (pipeline.grammar): on servers that accept a grammar, answers can only be
    # "Unanswerable" or a run of whole words of the section. `constrained: false` = free text + the aligner.
    constrained: bool = True
    max_answer_words: int = Field(default=30, ge=1)
    # How the answers call replies: `object` = {"answers": [{"number": 1, "answer": "…"}, …]} (numbered, robust to a
    # skipped answer), `list` = ["…", "…"] (positional; about a third of the structure tokens, for the cost goal),
    # `auto` = `list` where the span grammar fixes one string per question, `object` where no grammar applies.
    answer_format: Literal["object", "list", "auto"] = "object"
    # How many questions one answers call answers: `section` = all of a section's questions in one call (in
    # `answer_format`), `question` = one call per question (prompt `answer_one`: the section first and the question
    # last, so a server's prefix cache reads only the question; the reply is the quotation alone, no structure).
    answer_calls: Literal["section", "question"] = "section"
    # Difficulty targets, measured for every run (generation.json "difficulty", the card) and enforced where said.
    # max_overlap: the highest share of a question's content words that may be found in its document (or summary);
    # with `harden: true` a question above it is rewritten (pipeline.hardening) and kept only if it verifies.
    max_overlap: float | None = Field(default=None, ge=0.0, le=1.0)
    # The share of kept questions with no content word in their section that the method aims for (reported).
    target_zero_overlap_share: float | None = Field(default=None, ge=0.0, le=1.0)
    # At most this share of each section's K kept pairs may be unanswerable (enforced: hardness may not come
    # from making everything unanswerable); the rest are counted as `over_unanswerable_share` drops.
    max_unanswerable_share: float | None = Field(default=None, ge=0.0, le=1.0)
    harden: bool = False
    harden_rounds: int = Field(default=2, ge=1, le=5)
    # A soft bias (a negative logit bias, e.g. -5) against the tokens that start each content word of the document
    # (and summary) during the question step: the server-side way to questions that reuse fewer of its words
    # (llm.word_bias). Applied on servers that tokenize on request (both embedded runtimes, llama-server, vLLM);
    # elsewhere the questions are asked without it and a warning says so. None (default): no bias.
    question_word_bias: float | None = Field(default=None, ge=-100.0, lt=0.0)
    radiology: KindDefaults = KindDefaults(num_questions=10, keep=5)
    clinical_record: KindDefaults = KindDefaults(num_questions=20, keep=5)

    @model_validator(mode="after")
    def _hardening_is_checked(self) -> MethodConfig:
        if self.harden and not self.verify:
            raise ValueError(
                "harden: true needs verify: true — a rewritten question is kept only when an "
                "independent answer to it lands on the same span"
            )
        if self.harden and self.max_overlap is None:
            raise ValueError("harden: true needs max_overlap (the overlap above which a question is rewritten)")
        return self

    def question_temperature(self, index: int, total: int) -> float:
        """Temperature for the questions of document `index` of `total`: constant, or annealed linearly."""
        if self.temperature_end is None or total <= 1:
            return self.temperature
        fraction = min(1.0, max(0.0, index / (total - 1)))  # clamped: never past the end value
        return self.temperature + (self.temperature_end - self.temperature) * fraction

    def tokens_for(self, step: Step) -> int:
        """The token limit of one step's calls."""
        return self.max_tokens_per_step.get(step) or SHORT_STEP_MAX_TOKENS.get(step, self.max_tokens)

    def for_kind(self, kind: str) -> KindDefaults:
        return self.radiology if kind == "radiology" else self.clinical_record


def builtin_dir() -> Path:
    return Path(str(resources.files("clinqa_synth") / "methods"))


def available_methods(extra_dir: Path | None = None) -> dict[str, Path]:
    """Config name → YAML file; a user's folder overrides built-ins of the same name."""
    found = {p.stem: p for p in sorted(builtin_dir().glob("*.yaml"))}
    if extra_dir is not None:
        if not Path(extra_dir).is_dir():
            raise MethodError(f"--methods-dir {extra_dir} is not a folder")
        found.update({p.stem: p for p in sorted(Path(extra_dir).glob("*.yaml"))})
    return found


def load_method_file(path: Path) -> MethodConfig:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MethodError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MethodError(f"{path} must hold a YAML mapping of method settings")
    data.setdefault("name", Path(path).stem)
    try:
        return MethodConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors())
        raise MethodError(f"{path} is not a valid method config: {problems}") from None


def load_method(name_or_path: str, extra_dir: Path | None = None) -> MethodConfig:
    """A method by config name (built-in or user folder) or by YAML path."""
    if name_or_path.endswith((".yaml", ".yml")) and Path(name_or_path).is_file():
        return load_method_file(Path(name_or_path))
    methods = available_methods(extra_dir)
    if name_or_path not in methods:
        raise MethodError(f"unknown config {name_or_path!r}; valid configs: {', '.join(sorted(methods))}")
    return load_method_file(methods[name_or_path])
