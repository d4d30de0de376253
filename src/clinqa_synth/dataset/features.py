"""The column schema of a generated config: the HF `squad_v2` features plus provenance columns."""

from __future__ import annotations

import datasets


def qa_features() -> datasets.Features:
    """`squad_v2`'s id/title/context/question/answers, then the audit columns clinqa-synth adds."""
    string = datasets.Value("string")
    return datasets.Features(
        {
            "id": string,
            "title": string,
            "context": string,
            "question": string,
            "answers": {"text": datasets.List(string), "answer_start": datasets.List(datasets.Value("int32"))},
            "document_id": string,
            "section": string,
            "method": string,
            "is_impossible": datasets.Value("bool"),
            "match": string,
            "question_context_overlap": datasets.Value("float32"),
            "question_source_overlap": datasets.Value("float32"),
            "model_answer": string,
            "verified": datasets.Value("bool"),
            "verifier_answer": string,
            "original_question": string,
            "harden_rounds": datasets.Value("int32"),
            "model": string,
            "prompt_version": string,
        }
    )
