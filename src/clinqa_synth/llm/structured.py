"""Structured (JSON-schema constrained) output: the request dialects servers understand, and tolerant parsing.

Servers disagree on how a JSON schema is requested, and `huggingface_hub` rewrites a standard
`{"type": "json_schema"}` response format into TGI's `{"type": "json_object", "value": …}` form
for every URL endpoint. So each dialect below is built to survive that rewrite:

* ``tgi``              – the standard form; the client's rewrite produces exactly what TGI wants.
* ``llama-cpp-python`` – ``{"type": "json_object", "schema": …}`` (not rewritten; measured to constrain output).
* ``llama-server``     – llama.cpp's native server: a top-level ``json_schema`` field.
* ``vllm``             – vLLM's top-level ``structured_outputs: {"json": …}`` (and the older ``guided_json``).
* ``none``             – no constraint; the prompt asks for JSON and :func:`parse_json_loosely` copes.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

Dialect = Literal["none", "tgi", "llama-cpp-python", "llama-server", "vllm"]
DIALECTS: tuple[str, ...] = ("none", "tgi", "llama-cpp-python", "llama-server", "vllm")


def request_fields(schema: dict[str, Any] | None, dialect: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Return (response_format, extra_body) that ask `dialect` for output matching `schema`."""
    if schema is None or dialect == "none":
        return None, {}
    if dialect == "tgi":
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}, {}
    if dialect == "llama-cpp-python":
        return {"type": "json_object", "schema": schema}, {}
    if dialect == "llama-server":
        return None, {"json_schema": schema}
    if dialect == "vllm":
        return None, {"structured_outputs": {"json": schema}, "guided_json": schema}
    raise ValueError(f"Unknown structured-output dialect {dialect!r}; choose one of {', '.join(DIALECTS)}.")


# Servers that accept a GBNF grammar (extractive constrained decoding, pipeline.grammar).
GRAMMAR_DIALECTS: tuple[str, ...] = ("llama-cpp-python", "llama-server", "vllm")


def grammar_fields(grammar: str, dialect: str) -> dict[str, Any]:
    """The extra request body that asks `dialect` to sample only strings of the GBNF `grammar`.

    llama.cpp (llama-cpp-python's and llama-server's chat completions) take a top-level `grammar`; vLLM takes
    `structured_outputs: {"grammar": …}` (xgrammar; older versions `guided_grammar`). Others have no grammar.
    """
    if dialect in ("llama-cpp-python", "llama-server"):
        return {"grammar": grammar}
    if dialect == "vllm":
        return {"structured_outputs": {"grammar": grammar}, "guided_grammar": grammar}
    raise ValueError(f"the {dialect!r} dialect takes no grammar; use one of {', '.join(GRAMMAR_DIALECTS)}")


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


class JSONParseError(ValueError):
    """The model's text holds no parseable JSON value."""


def parse_json_loosely(text: str) -> Any:
    """Extract the first JSON object/array from model text: plain, inside code fences, or after a preamble.

    Small models wrap JSON in prose and fences, add trailing commas or stop early; this
    recovers what can be recovered and raises :class:`JSONParseError` otherwise, never guessing.
    """
    candidates: list[str] = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    for opener, closer in (("{", "}"), ("[", "]")):
        start = text.find(opener)
        end = text.rfind(closer)
        if start != -1 and end > start:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        for variant in (candidate, re.sub(r",\s*([}\]])", r"\1", candidate)):
            try:
                return json.loads(variant)
            except (json.JSONDecodeError, ValueError):
                continue
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text[index:])
                return value
            except json.JSONDecodeError:
                continue
    raise JSONParseError(f"no JSON value found in model output starting {text[:80]!r}")
