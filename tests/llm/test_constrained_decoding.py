"""Extractive constrained decoding on the real llama.cpp server: every answer is a span by construction."""

from __future__ import annotations

import asyncio
import json

import pytest

from clinqa_synth.llm.endpoint import EndpointChat
from clinqa_synth.llm.structured import grammar_fields
from clinqa_synth.pipeline.grammar import MAX_GRAMMAR_WORDS, answers_json_grammar, answers_list_grammar, span_grammar
from clinqa_synth.pipeline.parsing import is_yes_no
from clinqa_synth.pipeline.spans import is_whole_words

SECTION = (
    "FINDINGS: There is atelectasis at the left lung base. The right PICC tip is in the low SVC. "
    "No pneumothorax.  Heart size is normal (stable).\nEsophagectomy changes are again seen."
)
QUESTIONS = [
    "Where does the catheter end?",
    "Is the lung collapsed?",
    "What surgery did the patient have?",
    "What is the heart size?",
    "Is there a left pleural effusion?",
]


def _is_span(text: str) -> bool:
    at = SECTION.find(text)
    return text == "Unanswerable" or (at >= 0 and is_whole_words(SECTION, at, at + len(text)))


def test_grammars_parse_in_llama_cpp() -> None:
    import llama_cpp

    for grammar in (span_grammar(SECTION), answers_json_grammar(SECTION, 3), answers_list_grammar(SECTION, 3)):
        assert grammar is not None
        llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
    assert span_grammar("word " * (MAX_GRAMMAR_WORDS + 1)) is None, "very long sections fall back to the aligner"
    assert grammar_fields('root ::= "x"', "vllm")["structured_outputs"] == {"grammar": 'root ::= "x"'}
    with pytest.raises(ValueError, match="takes no grammar"):
        grammar_fields('root ::= "x"', "tgi")


@pytest.mark.llm
def test_every_answer_asked_one_question_per_call_is_a_whole_word_span(llm_server) -> None:
    """`answer_calls: question` through the pipeline's own step: the shipped `answer_one` prompt, the span grammar."""
    from clinqa_synth.documents.model import Section
    from clinqa_synth.llm.cache import CachedChat
    from clinqa_synth.llm.protocol import CallContext
    from clinqa_synth.methods import load_method
    from clinqa_synth.pipeline.prompts import PromptSet
    from clinqa_synth.pipeline.steps import DocumentResult, answer_section

    endpoint = EndpointChat(llm_server.base_url, api_key="local", structured="llama-cpp-python")
    client = CachedChat(endpoint, None)  # the wrapper every run uses: it says the server takes grammars
    method = load_method("direct").model_copy(update={"answer_calls": "question"})
    result = DocumentResult("cxr")

    async def ask_all() -> tuple[dict[int, str], str | None]:
        try:
            return await answer_section(
                client,
                PromptSet("radiology"),
                method,
                Section("report", SECTION),
                QUESTIONS,
                result,
                CallContext("cxr", "answers"),
            )
        finally:
            await endpoint.aclose()

    answers, grammar = asyncio.run(ask_all())
    assert grammar == span_grammar(SECTION)
    assert sorted(answers) == list(range(1, len(QUESTIONS) + 1)), answers
    assert all(_is_span(a) for a in answers.values()), answers
    assert result.costs.calls["answers"] == len(QUESTIONS), "one call per question"


@pytest.mark.llm
def test_a_yes_no_question_is_answered_with_its_evidence_not_a_bare_no(llm_server) -> None:
    client = EndpointChat(llm_server.base_url, api_key="local", structured="llama-cpp-python")
    grammar = span_grammar(SECTION)
    assert grammar is not None

    async def ask(question: str) -> str:
        prompt = f"{SECTION}\n\n---\nQuestion: {question}\nAnswer with one word: Yes or No."
        return (await client.chat([{"role": "user", "content": prompt}], max_tokens=48, seed=0, grammar=grammar)).text

    async def ask_all() -> list[str]:
        try:
            return [await ask(q) for q in ("Is there a pneumothorax?", "Is there any pneumothorax at all?")]
        finally:
            await client.aclose()

    answers = asyncio.run(ask_all())
    assert all(_is_span(a) and not is_yes_no(a) for a in answers), answers


@pytest.mark.llm
def test_the_json_answers_grammar_gives_one_span_per_question(llm_server) -> None:
    client = EndpointChat(llm_server.base_url, api_key="local", structured="llama-cpp-python")
    questions = "\n".join(f"{i}. {q}" for i, q in enumerate(QUESTIONS, 1))
    prompt = f"{SECTION}\n\n---\nAnswer each question by quoting the text, or Unanswerable.\n{questions}"

    async def ask() -> str:
        try:
            return (
                await client.chat(
                    [{"role": "user", "content": prompt}],
                    max_tokens=512,
                    seed=0,
                    grammar=answers_json_grammar(SECTION, len(QUESTIONS)),
                )
            ).text
        finally:
            await client.aclose()

    answers = json.loads(asyncio.run(ask()))["answers"]
    assert [a["number"] for a in answers] == list(range(1, len(QUESTIONS) + 1))
    assert all(_is_span(a["answer"]) for a in answers), answers


@pytest.mark.llm
def test_the_compact_list_grammar_gives_one_span_per_question(llm_server) -> None:
    client = EndpointChat(llm_server.base_url, api_key="local", structured="llama-cpp-python")
    questions = "\n".join(f"{i}. {q}" for i, q in enumerate(QUESTIONS, 1))
    prompt = (
        f"{SECTION}\n\n---\nAnswer each question by quoting the text, or Unanswerable.\n{questions}\n"
        'Reply with a JSON list of the answers, one string per question, in order: ["...", "..."].'
    )

    async def ask() -> tuple[str, int]:
        try:
            grammar = answers_list_grammar(SECTION, len(QUESTIONS))
            completion = await client.chat(
                [{"role": "user", "content": prompt}], max_tokens=512, seed=0, grammar=grammar
            )
            return completion.text, completion.usage.completion_tokens
        finally:
            await client.aclose()

    text, tokens = asyncio.run(ask())
    answers = json.loads(text)
    assert len(answers) == len(QUESTIONS) and all(_is_span(a) for a in answers), answers
