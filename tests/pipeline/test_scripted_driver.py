"""Selection, requote failure, document failure and --fail-fast on a scripted chat client (milliseconds each).

The client answers by what the prompt asks for, in the project's chat protocol; LLM errors are raised the way the
real endpoint client raises them, so the driver's handling is exercised exactly.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from clinqa_synth.documents.model import Document, Section
from clinqa_synth.errors import ClinqaError
from clinqa_synth.llm.protocol import Completion, TransientLLMError, Usage
from clinqa_synth.methods import load_method
from clinqa_synth.pipeline.driver import RunOptions, run_documents
from clinqa_synth.pipeline.prompts import PromptSet
from clinqa_synth.pipeline.steps import process_document

SECTION = Section("report", "FINDINGS: Small left pleural effusion. The heart is enlarged. No pneumothorax.")
QUESTIONS = ["Is there fluid around the left lung?", "Is there a fracture?", "What size is the heart?"]
ANSWERS = ["Small left pleural effusion", "Unanswerable", "The cardiac silhouette is large"]  # the 3rd: reworded


class Scripted:
    """Questions and answers by prompt; `fail_on` (a prompt substring) raises a transient LLM error instead."""

    model_id = "scripted"

    def __init__(self, *, questions: str | None = None, fail_on: str | None = None) -> None:
        self.questions = (
            questions if questions is not None else "\n".join(f"{i}. {q}" for i, q in enumerate(QUESTIONS, 1))
        )
        self.fail_on = fail_on
        self.calls = 0

    async def chat(self, messages: list, **params: Any) -> Completion:
        prompt = messages[0]["content"]
        self.calls += 1
        if self.fail_on and self.fail_on in prompt:
            raise TransientLLMError("injected: the server keeps failing")
        if "numbered list" in prompt:
            return Completion(self.questions, "stop", Usage(5, 5))
        answers = [{"number": i, "answer": a} for i, a in enumerate(ANSWERS, 1)]
        return Completion(json.dumps({"answers": answers}), "stop", Usage(5, 5))


def method(**update: Any):  # noqa: ANN201
    base = load_method("direct")
    radiology = base.radiology.model_copy(update={"num_questions": 3, "keep": 3})
    return base.model_copy(update={"verify": False, "radiology": radiology, **update})


def run_one(chat: Scripted, **update: Any):  # noqa: ANN201
    document = Document("cxr", "radiology", (SECTION,))
    coro = process_document(
        chat, document, method(**update), PromptSet("radiology"), question_temperature=0.0, model_id="scripted"
    )
    return asyncio.run(coro)


@pytest.mark.parametrize(
    "selection,first",
    [("first", QUESTIONS[0]), ("answerable_first", QUESTIONS[0]), ("shortest_question_overlap", QUESTIONS[1])],
)
def test_selection_orders_the_kept_pairs(selection: str, first: str) -> None:
    result = run_one(Scripted(), selection=selection, radiology=method().radiology.model_copy(update={"keep": 1}))
    assert [r["question"] for r in result.records] == [first]
    assert result.drops["over_k"] == 1  # two placed, one kept (the reworded answer is unplaceable)


def test_a_failing_requote_call_keeps_the_first_pass_pairs() -> None:
    result = run_one(Scripted(fail_on="word for word"), requote=True)
    assert result.error is None
    assert {r["question"] for r in result.records} == {QUESTIONS[0], QUESTIONS[1]}
    assert result.funnel["requoted"] == 1 and result.funnel["requote_failed"] == 1
    assert result.drops["unplaceable"] == 1


def test_unusable_questions_fail_the_document_with_a_reason() -> None:
    chat = Scripted(questions="I cannot help with that.")
    result = run_one(chat)
    assert result.failure is not None and result.failure.reason == "no_questions" and not result.records
    assert chat.calls == 3, "asked again twice before giving up"


def run_all(chat: Scripted, *, fail_fast: bool) -> list:
    documents = [Document(f"d{i}", "radiology", (SECTION,)) for i in range(3)]

    async def collect() -> list:
        return [
            r
            async for r in run_documents(
                documents, method(), chat, options=RunOptions(fail_fast=fail_fast), model_id="scripted"
            )
        ]

    return asyncio.run(collect())


def test_a_failed_document_is_recorded_and_the_run_goes_on() -> None:
    results = run_all(Scripted(fail_on="Questions:"), fail_fast=False)
    assert [r.failure.reason for r in results] == ["TransientLLMError"] * 3


def test_fail_fast_stops_at_the_first_failed_document() -> None:
    with pytest.raises(ClinqaError, match="document d0 failed .*--fail-fast"):
        run_all(Scripted(questions="nothing useful"), fail_fast=True)


class ListReplies(Scripted):
    """Replies to the answers call in the format its prompt asks for: the compact list, or the numbered object."""

    async def chat(self, messages: list, **params: Any) -> Completion:
        prompt = messages[0]["content"]
        if "JSON list of the answers" in prompt:
            self.calls += 1
            return Completion(json.dumps(ANSWERS), "stop", Usage(5, 5))
        return await super().chat(messages, **params)


def test_the_compact_answer_format_keeps_the_same_pairs() -> None:
    listed = run_one(ListReplies(), answer_format="list")
    numbered = run_one(Scripted())
    assert [r["question"] for r in listed.records] == [r["question"] for r in numbered.records]
    assert [r["answers"] for r in listed.records] == [r["answers"] for r in numbered.records]


class GrammarListReplies(ListReplies):
    """A server that takes grammars: records which answers format each call asked for, and whether it sent one."""

    supports_grammar = True

    def __init__(self) -> None:
        super().__init__()
        self.answers_calls: list[tuple[str, bool]] = []

    async def chat(self, messages: list, **params: Any) -> Completion:
        prompt = messages[0]["content"]
        if "Questions:" in prompt:
            asked = "list" if "JSON list of the answers" in prompt else "object"
            self.answers_calls.append((asked, params.get("grammar") is not None))
        return await super().chat(messages, **params)


class NoGrammarListReplies(GrammarListReplies):
    supports_grammar = False


def test_auto_answer_format_asks_for_the_list_only_where_a_grammar_fixes_its_length() -> None:
    """A positional list without a grammar would put every answer after a skipped one on the wrong question."""
    with_grammar, without = GrammarListReplies(), NoGrammarListReplies()
    constrained = run_one(with_grammar, answer_format="auto")
    free = run_one(without, answer_format="auto")
    assert with_grammar.answers_calls == [("list", True)]
    assert without.answers_calls == [("object", False)]
    assert [r["question"] for r in constrained.records] == [r["question"] for r in free.records]


class Reworded(Scripted):
    """Answers every question in words the report does not contain, so no pair can be placed."""

    async def chat(self, messages: list, **params: Any) -> Completion:
        if "numbered list" in messages[0]["content"]:
            return await super().chat(messages, **params)
        answers = [{"number": i, "answer": "The cardiac silhouette is large"} for i in range(1, 4)]
        return Completion(json.dumps({"answers": answers}), "stop", Usage(5, 5))


def test_a_config_that_kept_no_pair_says_so_instead_of_pointing_at_load_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`datasets` cannot load a split without rows, so the CLI must not tell the user to load such a config."""
    from clinqa_synth.cli import main
    from clinqa_synth.pipeline import api

    real = api.generate_to_folder

    def scripted(source: Any, **kwargs: Any) -> Any:
        kwargs.pop("llm")
        return real(source, chat=Reworded(), **kwargs)

    monkeypatch.setattr(api, "generate_to_folder", scripted)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "cxr.txt").write_text(f"FINDINGS: {SECTION.text.removeprefix('FINDINGS: ')}\n")
    args = ["generate", "--input", str(reports), "--config", "direct", "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*args, "--endpoint", "http://127.0.0.1:9/v1"]) == 0
    printed = capsys.readouterr().err
    assert "no pair of direct was kept" in printed and "load with" not in printed
    assert json.loads((tmp_path / "out" / "direct" / "generation.json").read_text())["splits"] == {"train": 0}


class OneByOne(Scripted):
    """Answers `answer_one` prompts (one question each, the question last) with that question's quotation alone."""

    supports_grammar = True

    def __init__(self) -> None:
        super().__init__()
        self.answer_prompts: list[str] = []
        self.grammars: list[str | None] = []

    async def chat(self, messages: list, **params: Any) -> Completion:
        prompt = messages[0]["content"]
        if "Question: " in prompt and "numbered list" not in prompt:
            self.answer_prompts.append(prompt)
            self.grammars.append(params.get("grammar"))
            asked = prompt.rsplit("Question: ", 1)[1].strip()
            return Completion(f'"{ANSWERS[QUESTIONS.index(asked)]}"', "stop", Usage(5, 5))
        return await super().chat(messages, **params)


def test_one_call_per_question_keeps_the_same_pairs_and_shares_the_prompt_up_to_the_question() -> None:
    """`answer_calls: question`: a prefix-caching server re-reads only the question, and the grammar is the plain
    span grammar (no JSON around the quotation)."""
    chat = OneByOne()
    each = run_one(chat, answer_calls="question")
    batched = run_one(Scripted())
    assert len(chat.answer_prompts) == len(QUESTIONS)
    assert all(p.endswith(f"Question: {q}") for p, q in zip(chat.answer_prompts, QUESTIONS, strict=True))
    shared = chat.answer_prompts[0].rsplit("Question: ", 1)[0]
    assert SECTION.text in shared and all(p.startswith(shared) for p in chat.answer_prompts)
    assert all(g is not None and g.startswith('root ::= "Unanswerable"') for g in chat.grammars)
    assert [(r["question"], r["answers"]) for r in each.records] == [
        (r["question"], r["answers"]) for r in batched.records
    ]
    assert {r["match"] for r in each.records if not r["is_impossible"]} == {"constrained"}
