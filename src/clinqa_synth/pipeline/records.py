"""Turning placed answers into SQuAD v2 records with deterministic ids and provenance.

The record layout is the Hugging Face `squad_v2` schema (id, title, context, question,
answers{text, answer_start}) so stock QA scripts accept it, plus the columns a researcher needs
to audit where each pair came from.
"""

from __future__ import annotations

import hashlib
from typing import Any

from clinqa_synth.pipeline.spans import Span
from clinqa_synth.squad import answer_at
from clinqa_synth.text import question_context_overlap


def record_id(method: str, document_id: str, section: str, question: str) -> str:
    """Stable across runs and machines: the same question on the same section always gets the same id."""
    return hashlib.sha1(f"{method}\x1f{document_id}\x1f{section}\x1f{question}".encode()).hexdigest()[:20]


def make_record(
    *,
    method: str,
    document_id: str,
    title: str,
    section: str,
    context: str,
    question: str,
    span: Span | None,
    model: str,
    prompt_version: str,
    model_answer: str = "",
    match: str | None = None,
    source_text: str | None = None,
) -> dict[str, Any]:
    """One SQuAD v2 row; `span=None` means the model judged the question unanswerable from this section.

    `model_answer` keeps the answer exactly as the model wrote it, so normalised and fuzzy placements
    can be audited against the span that was kept; `match` overrides how the placement is labelled
    (e.g. `requote_exact` for an answer recovered by the requote step). Difficulty is measured twice: the
    question's content-word overlap with the section it is answered on, and with the text it was asked from
    (`source_text`: the document, or the summary for the summary methods; the section when not given).
    """
    if span is not None and not answer_at(context, span.start, span.text):
        raise AssertionError("span does not match its context")  # guarded by align_answer; never silently wrong
    return {
        "id": record_id(method, document_id, section, question),
        "title": title,
        "context": context,
        "question": question,
        "answers": {"text": [span.text], "answer_start": [span.start]} if span else {"text": [], "answer_start": []},
        "document_id": document_id,
        "section": section,
        "method": method,
        "is_impossible": span is None,
        "match": match or (span.match if span else "unanswerable"),
        "question_context_overlap": round(question_context_overlap(question, context), 4),
        "question_source_overlap": round(question_context_overlap(question, source_text or context), 4),
        "model_answer": model_answer,
        "verified": False,  # set by the verification step when the pair passes it
        "verifier_answer": "",
        "original_question": "",  # set when the question kept is a hardened rewrite of this one
        "harden_rounds": 0,
        "model": model,
        "prompt_version": prompt_version,
    }


def rewrite_question(record: dict[str, Any], question: str, source_text: str) -> dict[str, Any]:
    """The same pair asked with another question (a hardened rewrite): new id, difficulty measured again."""
    return {
        **record,
        "id": record_id(record["method"], record["document_id"], record["section"], question),
        "question": question,
        "question_context_overlap": round(question_context_overlap(question, record["context"]), 4),
        "question_source_overlap": round(question_context_overlap(question, source_text), 4),
    }
