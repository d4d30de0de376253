"""Rendering the Jinja2 prompt files, and a version hash of them for cache keys and provenance.

Prompts are plain files a clinician can read and edit (`--prompts DIR` overrides the shipped
ones, file by file). `StrictUndefined` turns a typo'd variable into an error instead of an empty
string silently sent to the model; the hash makes an edited prompt miss the cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from clinqa_synth.errors import ClinqaError

# Prompt files per kind; `answer_one` is the answers step asked one question per call (`answer_calls: question`).
STEPS = ("summary", "questions", "answers", "answer_one", "requote", "verify", "harden")


class PromptError(ClinqaError):
    """A prompt template or schema file that cannot be used."""


def builtin_prompts_dir() -> Path:
    return Path(str(resources.files("clinqa_synth") / "prompts"))


@dataclass(frozen=True)
class SchemaField:
    name: str
    description: str


class PromptSet:
    """The templates and summary schema for one document kind, with user overrides applied."""

    def __init__(self, kind: str, override_dir: Path | None = None) -> None:
        self.kind = kind
        self.override_dir = Path(override_dir) if override_dir else None
        if self.override_dir is not None and not self.override_dir.is_dir():
            raise PromptError(f"--prompts {self.override_dir} is not a folder")
        search = [builtin_prompts_dir()]
        if self.override_dir is not None:
            search.insert(0, self.override_dir)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(p) for p in search]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self.files: dict[str, Path] = {}
        for step in STEPS:
            self.files[step] = self._locate(f"{kind}/{step}.j2")
        self.files["schema"] = self._locate(f"schemas/{kind}.json")
        try:
            self.schema: dict[str, Any] = json.loads(self.files["schema"].read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PromptError(f"summary schema {self.files['schema']} is not valid JSON: {exc}") from None
        props = self.schema.get("properties")
        if not isinstance(props, dict) or not props:
            raise PromptError(f"summary schema {self.files['schema']} has no 'properties'")
        self.fields = [SchemaField(name, str(spec.get("description", ""))) for name, spec in props.items()]
        self.max_values = min(int(spec.get("maxItems", 5)) for spec in props.values())
        self._templates: dict[str, jinja2.Template] = {}

    def _locate(self, relative: str) -> Path:
        for base in ([self.override_dir] if self.override_dir else []) + [builtin_prompts_dir()]:
            candidate = base / relative
            if candidate.is_file():
                return candidate
        raise PromptError(f"no prompt file {relative} for document kind {self.kind!r}")

    @property
    def version(self) -> str:
        """A short hash of every file in the set: changes whenever a clinician edits a prompt."""
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode())
            digest.update(self.files[name].read_bytes())
        return digest.hexdigest()[:12]

    def file_hashes(self) -> dict[str, str]:
        return {name: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for name, p in sorted(self.files.items())}

    def validate(self) -> None:
        """Render every step with sample values, so a typo in a user's template fails before any LLM call."""
        self.render("summary", document="sample")
        self.render(
            "questions",
            source_text="sample",
            from_summary=False,
            num_questions=2,
            no_overlap=True,
            prefixes=["is", "what"],
        )
        for answer_format in ("object", "list"):
            self.render(
                "answers",
                section_text="sample",
                section_name="report",
                questions=["q1?", "q2?"],
                answer_format=answer_format,
            )
        self.render("answer_one", section_text="sample", section_name="report", question="q1?")
        self.render("requote", section_text="sample", section_name="report", items=[{"question": "q1?", "answer": "a"}])
        self.render("verify", section_text="sample", question="q1?")
        self.render("harden", question="q1?", avoid_words=["sample"])

    def render(self, step: str, **variables: Any) -> str:
        if step not in self._templates:
            try:
                self._templates[step] = self._env.get_template(f"{self.kind}/{step}.j2")
            except jinja2.TemplateSyntaxError as exc:
                raise PromptError(f"prompt {self.files[step]} line {exc.lineno}: {exc.message}") from None
        try:
            return self._templates[step].render(fields=self.fields, max_values=self.max_values, **variables).strip()
        except jinja2.UndefinedError as exc:
            raise PromptError(
                f"prompt {self.files[step]} uses an unknown variable ({exc.message}). "
                f"Variables available to the {step} step: {', '.join(sorted(variables))}, fields, max_values."
            ) from None
