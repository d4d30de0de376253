"""The per-document steps as one coroutine: summary → questions → answers per section → spans → selection.

The calls for one document run back to back on purpose: every prompt starts with the document
(or its first section), so servers that keep the KV cache of the previous prompt prefix (llama.cpp,
vLLM/SGLang prefix caching) skip most of the prefill — measured here, 1–3 s instead of ~15 s.
All parsing/validation lives in pure functions; this module only sequences them.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from clinqa_synth.documents.model import Document, Section
from clinqa_synth.llm.protocol import (
    CallContext,
    ChatClient,
    Completion,
    ContextOverflowError,
    TransientLLMError,
    TruncatedCompletionError,
)
from clinqa_synth.methods import MethodConfig, Step
from clinqa_synth.pipeline.answer_checks import (
    SHARED_ANSWER_LIMIT,
    answer_problem,
    is_compound_question,
    is_identity_question,
    is_unasked_heading_value,
    is_vague_question,
    near_duplicates,
    unanswerable_problem,
    with_quantity_qualifier,
    without_layout,
)
from clinqa_synth.pipeline.costs import StepCosts
from clinqa_synth.pipeline.grammar import answers_json_grammar, answers_list_grammar, span_grammar
from clinqa_synth.pipeline.hardening import (
    Hardened,
    difficulty_text,
    parse_rewrite,
    reused_words,
    rewrite_problem,
    words_to_avoid,
)
from clinqa_synth.pipeline.parsing import (
    SummaryError,
    clean_quotation,
    is_unanswerable,
    is_yes_no,
    parse_answers,
    parse_questions,
    parse_summary,
    render_summary,
)
from clinqa_synth.pipeline.prompts import PromptSet
from clinqa_synth.pipeline.records import make_record, rewrite_question
from clinqa_synth.pipeline.selection import select
from clinqa_synth.pipeline.spans import Span, align_answer, place_answer
from clinqa_synth.pipeline.verification import Verdict, judge
from clinqa_synth.text import question_context_overlap

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"number": {"type": "integer"}, "answer": {"type": "string"}},
                "required": ["number", "answer"],
            },
        }
    },
    "required": ["answers"],
}
# answer_format: list — one string per question, in order
ANSWER_LIST_SCHEMA: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
FORMAT_RETRIES = 2
# The yield funnel, defined once for the run summary, generation.json, the card and the report. Per section: each
# parsed question is answered (or dropped before answering), placed, verified when the method verifies, kept.
FUNNEL_STEPS = ("asked", "parsed", "answered", "placed", "verified", "kept")


@dataclass(frozen=True)
class Placed:
    """A model answer placed in its section: the answer as written, its span (None: unanswerable), how it matched."""

    answer: str
    span: Span | None
    match: str


@dataclass(frozen=True)
class Failure:
    """Why a document produced nothing: a short `reason` (counted in summaries) and the `detail` (shown)."""

    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


class DocumentFailed(Exception):
    """A document whose steps could not produce usable output."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(str(Failure(reason, detail)))
        self.failure = Failure(reason, detail)


@dataclass
class DocumentResult:
    """What one document produced: kept records, the yield funnel, and the error if it failed."""

    document_id: str
    records: list[dict[str, Any]] = field(default_factory=list)
    funnel: Counter = field(default_factory=Counter)
    drops: Counter = field(default_factory=Counter)
    placements: Counter = field(
        default_factory=Counter
    )  # how placed answers matched: exact/normalized/fuzzy/unanswerable
    costs: StepCosts = field(default_factory=StepCosts)  # per step (summary/questions/answers/…), cached included
    # each answer as the model wrote it, before any check: span / unanswerable / aligned / not_a_span. With
    # extractive constrained decoding every answer is one of the first two (issue 17's answered → placed figure;
    # `placements` counts only answers that also passed the checks)
    answers_as_written: Counter = field(default_factory=Counter)
    hardening: Counter = field(default_factory=Counter)  # questions hardened, kept hardened, fallbacks, rounds
    # placed pairs a check or the verifier dropped, with `drop_reason` (and the verifier's answer): so a reviewer
    # can measure how many right pairs the checks throw away (`clinqa-synth audit OUT --dropped`)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    failure: Failure | None = None
    summary: dict[str, list[str]] | None = None

    @property
    def error(self) -> str | None:
        """The failure as one line ("reason: detail"), or None when the document succeeded."""
        return str(self.failure) if self.failure else None


async def _ask(
    chat: ChatClient,
    prompt: str,
    method: MethodConfig,
    *,
    temperature: float,
    seed: int,
    response_format: dict[str, Any] | None = None,
    call: CallContext | None = None,
    max_tokens: int | None = None,
    grammar: str | None = None,
    word_bias: dict[str, float] | None = None,
) -> Completion:
    extra: dict[str, Any] = {"grammar": grammar} if grammar is not None else {}  # only clients that support grammars
    if word_bias:  # only clients that say `supports_word_bias`
        extra["word_bias"] = word_bias
    if call is not None and getattr(chat, "takes_call_context", False):
        extra["call"] = call
    return await chat.chat(
        [{"role": "user", "content": prompt}],
        temperature=temperature,
        top_p=method.top_p,
        max_tokens=max_tokens or method.max_tokens,
        seed=seed,
        response_format=response_format,
        **extra,
    )


def _tidy(method: MethodConfig, span: Span, section_text: str) -> Span:
    """The span without headings and list numbers around it, and with the qualifier of its leading number ("up to
    5 mm", "nearly 40 %"), answer checks on; still a real whole-word substring."""
    if not method.answer_checks:
        return span
    start, end = with_quantity_qualifier(*without_layout(span.start, span.end, section_text), section_text)
    return span if (start, end) == (span.start, span.end) else Span(start, end, section_text[start:end], span.match)


def _check_answer(method: MethodConfig, question: str, span: Span, section_text: str, document_text: str) -> str | None:
    """The answer-check drop reason for a placed span (first pass or requote alike), or None."""
    if not method.answer_checks:
        return None
    return answer_problem(
        question,
        span.text,
        section_text,
        max_answer_words=method.max_answer_words,
        start=span.start,
        document_text=document_text,
    )


def uses_grammar(chat: ChatClient, method: MethodConfig) -> bool:
    """Extractive constrained decoding is on for this method and the server behind `chat` accepts grammars."""
    return method.constrained and bool(getattr(chat, "supports_grammar", False))


def answers_format_and_grammar(
    chat: ChatClient, method: MethodConfig, section_text: str, count: int
) -> tuple[Literal["object", "list"], str | None]:
    """The answers call's reply format for this section, and its grammar (None: the server takes none, or none fits).

    `answer_format: auto` asks for the compact list only where a grammar fixes one string per question: without
    one a skipped answer would shift every later answer onto the wrong question, so the numbered object is used.
    """
    constrained = uses_grammar(chat, method)
    if method.answer_format != "auto":
        build = answers_list_grammar if method.answer_format == "list" else answers_json_grammar
        return method.answer_format, build(section_text, count) if constrained else None
    grammar = answers_list_grammar(section_text, count) if constrained else None
    if grammar is not None:
        return "list", grammar
    return "object", None


async def _ask_until_parsed(
    chat: ChatClient,
    prompt: str,
    method: MethodConfig,
    step: Step,
    parse: Callable[[str], Any],
    *,
    temperature: float,
    call: CallContext,
    costs: StepCosts | None,
    response_format: dict[str, Any] | None = None,
    grammar: str | None = None,
    word_bias: dict[str, float] | None = None,
) -> Any:
    """Ask, parse, and ask again (a little sampling, another seed) while the reply is unusable.

    The one retry loop of the summary, questions, answers and requote steps. `parse` returns the value, or
    something falsy / raises ValueError when the text is unusable; after FORMAT_RETRIES more tries the last falsy
    value (or the last ValueError) is returned to the caller, which decides what failing means for its step.
    """
    last: Any = None
    for attempt in range(FORMAT_RETRIES + 1):
        completion = await _ask(
            chat,
            prompt,
            method,
            temperature=temperature if attempt == 0 else max(temperature, 0.3),
            seed=method.seed + attempt,
            response_format=response_format,
            call=call,
            grammar=grammar,
            word_bias=word_bias,
            max_tokens=method.tokens_for(step),
        )
        if costs is not None:
            costs.add(step, completion)
        try:
            last = parse(completion.text)
        except ValueError as exc:
            last = exc
            continue
        if last:
            return last
    return last


async def summarize(
    chat: ChatClient, document: Document, prompts: PromptSet, method: MethodConfig, costs: StepCosts | None = None
) -> dict[str, list[str]]:
    """Schema summary, validated and repaired; retried with a little sampling when the JSON is unusable."""
    prompt = prompts.render("summary", document=document.text)
    summary = await _ask_until_parsed(
        chat,
        prompt,
        method,
        "summary",
        lambda text: parse_summary(text, prompts.schema),
        temperature=method.temperature,
        call=CallContext(document.id, "summary"),
        costs=costs,
        response_format=prompts.schema,
    )
    if isinstance(summary, SummaryError):
        raise DocumentFailed("summary_unparseable", str(summary))
    return summary


def _question_word_bias(chat: ChatClient, method: MethodConfig, text: str) -> dict[str, float] | None:
    """{word: bias} for the question step, or None (no bias asked for, or a server that cannot apply one)."""
    if method.question_word_bias is None:
        return None
    if not getattr(chat, "supports_word_bias", False):
        # shown once per run (Python's default warning filter): the method is valid, this server cannot apply it
        warnings.warn(
            "question_word_bias is set but this server cannot tokenize on request (llama-cpp-python, llama-server "
            "and vLLM can): questions are asked without the bias",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return {word: method.question_word_bias for word in words_to_avoid(text)}


async def ask_questions(
    chat: ChatClient,
    source_text: str,
    from_summary: bool,
    prompts: PromptSet,
    method: MethodConfig,
    num_questions: int,
    temperature: float,
    call: CallContext,
    costs: StepCosts | None = None,
    avoid_text: str | None = None,
) -> list[str]:
    """The question list for one document; with the method's `question_word_bias`, the server is biased against
    the content words of `avoid_text` (the document and its summary) while it writes them."""
    prefixes = [method.prefixes[i % len(method.prefixes)] for i in range(num_questions)] if method.prefixes else []
    prompt = prompts.render(
        "questions",
        source_text=source_text,
        from_summary=from_summary,
        num_questions=num_questions,
        no_overlap=method.no_overlap,
        prefixes=prefixes,
    )
    questions = await _ask_until_parsed(
        chat,
        prompt,
        method,
        "questions",
        lambda text: parse_questions(text, limit=num_questions),
        temperature=temperature,
        call=call,
        costs=costs,
        word_bias=_question_word_bias(chat, method, avoid_text or source_text),
    )
    if not questions:
        raise DocumentFailed("no_questions", "the model returned no parseable question list")
    return questions


async def _answer_call(
    chat: ChatClient,
    prompt: str,
    method: MethodConfig,
    count: int,
    result: DocumentResult,
    step: Step,
    call: CallContext,
    grammar: str | None = None,
    schema: dict[str, Any] | None = None,
) -> list:
    """One answers call (JSON schema, or the span grammar, where supported), retried when nothing parses."""
    return (
        await _ask_until_parsed(
            chat,
            prompt,
            method,
            step,
            lambda text: parse_answers(text, count),
            temperature=0.0,
            call=call,
            costs=result.costs,
            response_format=schema or ANSWER_SCHEMA,
            grammar=grammar,
        )
        or []
    )


async def answer_section(
    chat: ChatClient,
    prompts: PromptSet,
    method: MethodConfig,
    section: Section,
    questions: list[str],
    result: DocumentResult,
    call: CallContext,
) -> tuple[dict[int, str], str | None]:
    """The first answer to each question of a section, by question number, and the grammar they were asked under.

    `answer_calls: section` asks them all in one call; `answer_calls: question` asks one per call (prompt
    `answer_one`), the section first and the question last so a prefix-caching server reads only the question,
    and the reply is the quotation alone under the plain span grammar — no JSON structure to generate, and no
    neighbouring question to shift an answer onto.
    """
    if method.answer_calls == "question":
        grammar = span_grammar(section.text) if uses_grammar(chat, method) else None
        by_number: dict[int, str] = {}
        for number, question in enumerate(questions, 1):
            prompt = prompts.render(
                "answer_one", section_text=section.text, section_name=section.name, question=question
            )
            answer = await _ask_until_parsed(
                chat,
                prompt,
                method,
                "answers",
                clean_quotation,
                temperature=0.0,
                call=call,
                costs=result.costs,
                grammar=grammar,
            )
            if answer:
                by_number[number] = answer
        return by_number, grammar
    answer_format, grammar = answers_format_and_grammar(chat, method, section.text, len(questions))
    prompt = prompts.render(
        "answers",
        section_text=section.text,
        section_name=section.name,
        questions=questions,
        answer_format=answer_format,
    )
    answers = await _answer_call(
        chat,
        prompt,
        method,
        len(questions),
        result,
        "answers",
        call,
        grammar=grammar,
        schema=ANSWER_LIST_SCHEMA if answer_format == "list" else ANSWER_SCHEMA,
    )
    return {a.number: a.answer for a in answers}, grammar


async def _requote(
    chat: ChatClient,
    prompts: PromptSet,
    method: MethodConfig,
    section: Any,
    questions: list[str],
    unplaceable: list[tuple[int, str]],
    result: DocumentResult,
    call: CallContext,
    document_text: str,
) -> dict[int, Placed]:
    """Ask once more, for the answers that paraphrased instead of quoting: the exact words, or Unanswerable.

    Small models often answer in their own words; the paper's exact-match rule drops those pairs and the
    tokens spent on them. One follow-up call per section (its prompt starts with the same section text, so
    servers with prefix caching skip that prefill) recovers some — measured with the 1.5B model: 9 of 168,
    for +38 % completion tokens, hence off by default. Each recovered answer still has to pass the same
    alignment, and its `match` is prefixed with `requote_` so it can be audited or filtered.
    """
    items = [{"question": questions[number - 1], "answer": answer[:300]} for number, answer in unplaceable]
    prompt = prompts.render("requote", section_text=section.text, section_name=section.name, items=items)
    result.funnel["requoted"] += len(items)
    try:
        answers = await _answer_call(chat, prompt, method, len(items), result, "requote", call)
    except (TransientLLMError, TruncatedCompletionError, ContextOverflowError):
        # optional step: its failure (a rambling answer past max_tokens, a server that keeps failing) must not
        # cost the document its first-pass pairs; bad credentials and the like still stop the run
        result.funnel["requote_failed"] += 1
        return {}
    recovered: dict[int, Placed] = {}
    for item in answers:
        if not 1 <= item.number <= len(unplaceable) or not item.answer.strip():
            continue
        number = unplaceable[item.number - 1][0]
        if is_unanswerable(item.answer):
            recovered[number] = Placed(item.answer, None, "requote_unanswerable")
        elif not is_yes_no(item.answer):
            span = align_answer(
                item.answer, section.text, questions[number - 1], fuzzy_threshold=method.fuzzy_threshold
            )
            span = _tidy(method, span, section.text) if span is not None else None
            if span is not None and _check_answer(method, questions[number - 1], span, section.text, document_text):
                continue  # stays unplaceable: the recovered quote fails the same checks as a first answer
            if span is not None:
                recovered[number] = Placed(item.answer, span, f"requote_{span.match}")
    return recovered


async def _harden(
    chat: ChatClient,
    prompts: PromptSet,
    method: MethodConfig,
    question: str,
    text: str,
    result: DocumentResult,
    call: CallContext,
) -> Hardened:
    """Rewrite `question` without the words it reused from `text`, up to `harden_rounds` times (see hardening)."""
    target = method.max_overlap if method.max_overlap is not None else 1.0
    best, best_overlap, rounds = question, question_context_overlap(question, text), 0
    while rounds < method.harden_rounds and best_overlap > target and (avoid := reused_words(best, text)):
        prompt = prompts.render("harden", question=best, avoid_words=avoid)
        try:  # a later round samples a little: the same prompt at temperature 0 would repeat itself
            completion = await _ask(
                chat,
                prompt,
                method,
                temperature=0.0 if rounds == 0 else 0.7,
                seed=method.seed + rounds,
                call=call,
                max_tokens=method.tokens_for("harden"),
            )
        except (TransientLLMError, TruncatedCompletionError):
            break  # optional step: the easy question stays
        rounds += 1
        result.costs.add("harden", completion)
        rewrite = parse_rewrite(completion.text)
        if rewrite is not None and (problem := rewrite_problem(rewrite, question, text)):
            result.hardening[problem] += 1  # asks something else, or nothing in particular: not used
        elif rewrite is not None and (overlap := question_context_overlap(rewrite, text)) < best_overlap:
            best, best_overlap = rewrite, overlap
    return Hardened(best, question, best_overlap, rounds)


async def _verify(
    chat: ChatClient,
    prompts: PromptSet,
    method: MethodConfig,
    section: Any,
    record: dict[str, Any],
    question: str,
    grammar: str | None,
    result: DocumentResult,
    call: CallContext,
) -> Verdict | None:
    """The verifier's verdict on `record`'s answer for `question` (None: the call itself failed)."""
    prompt = prompts.render("verify", section_text=section.text, question=question)
    try:
        completion = await _ask(
            chat,
            prompt,
            method,
            temperature=0.0,
            seed=method.seed,
            call=call,
            max_tokens=method.tokens_for("verify"),
            grammar=grammar,
        )
    except (TransientLLMError, TruncatedCompletionError):
        return None
    result.costs.add("verify", completion)
    span = _answer_span(record)
    first = None if span is None else Span(*span, section.text[span[0] : span[1]], "exact")
    return judge(first, completion.text, section.text, question, fuzzy_threshold=method.fuzzy_threshold)


async def _keep(
    chat: ChatClient,
    prompts: PromptSet,
    method: MethodConfig,
    section: Any,
    ordered: list[dict[str, Any]],
    keep: int,
    result: DocumentResult,
    call: CallContext,
    harden: Callable[[str], Awaitable[Hardened]] | None,
    source_text: str,
) -> list[dict[str, Any]]:
    """Take candidates in selection order until K are kept: harden, verify, cap the unanswerable share.

    Without verification this is the paper's first-K selection (plus the cap). With it, each disagreement is a
    counted drop; a hardened question is verified first and, if the verifier does not land on the same span,
    the original question is verified instead (counted as a hardening fallback).
    """
    kept: list[dict[str, Any]] = []
    checked = 0
    cap = keep if method.max_unanswerable_share is None else math.floor(method.max_unanswerable_share * keep)
    grammar = span_grammar(section.text) if method.verify and uses_grammar(chat, method) and ordered else None
    shared: set[tuple[int, int]] = set()  # spans kept for SHARED_ANSWER_LIMIT questions: no longer an answer here

    async def harden_ahead(upcoming: list[dict[str, Any]]) -> None:
        """Rewrite the candidates the next verifications need before verifying any of them (memoised per question).

        Why: llama.cpp reuses only the previous call's prompt prefix, and a harden call (its prompt has no section)
        between two verify calls of a section makes the second read the whole section again (docs/benchmarks.md
        §10). The window is the slots still to fill. Entries the loop will skip without a call (the unanswerable
        cap, a burnt span) are skipped here as if every earlier entry of the window were kept, which overcounts
        both: so no question is rewritten that the one-by-one order would not have rewritten. A candidate the
        verifier then drops widens the window by one, whose rewrite comes between verifications again.
        """
        unanswerable = sum(r["is_impossible"] for r in kept)
        spans = Counter(_answer_span(r) for r in kept if not r["is_impossible"])
        burnt = set(shared)
        for entry in upcoming:
            if entry["is_impossible"]:
                if unanswerable >= cap:
                    continue
                unanswerable += 1
            elif method.answer_checks:
                span = _answer_span(entry)
                if span in burnt:
                    continue
                spans[span] += 1
                if spans[span] >= SHARED_ANSWER_LIMIT:
                    burnt.add(span)  # this entry is still verified; it burns the span for the ones after it
            await harden(entry["question"])

    def drop_shared(record: dict[str, Any]) -> None:
        result.drops["shared_answer"] += 1
        result.rejected.append({**record, "drop_reason": "shared_answer"})

    def take(entry: dict[str, Any]) -> None:
        """Keep `entry`, unless its span is now kept for SHARED_ANSWER_LIMIT questions: then drop them all."""
        kept.append(entry)
        span = _answer_span(entry)
        if span is None or not method.answer_checks:
            return
        same = [r for r in kept if _answer_span(r) == span]
        if len(same) >= SHARED_ANSWER_LIMIT:
            shared.add(span)
            kept[:] = [r for r in kept if _answer_span(r) != span]
            for dropped in same:
                drop_shared(dropped)

    for index, record in enumerate(ordered):
        if len(kept) >= keep:
            break
        checked += 1
        if harden is not None and method.verify:
            await harden_ahead(ordered[index : index + keep - len(kept)])
        if record["is_impossible"] and sum(r["is_impossible"] for r in kept) >= cap:
            result.drops["over_unanswerable_share"] += 1
            continue
        if method.answer_checks and _answer_span(record) in shared:
            drop_shared(record)  # costs no verification call
            continue
        if not method.verify:
            take(record)
            continue
        hardened = await harden(record["question"]) if harden is not None else None
        if hardened is not None and hardened.changed:
            verdict = await _verify(chat, prompts, method, section, record, hardened.question, grammar, result, call)
            if verdict is not None and verdict.agrees:
                take(
                    {
                        **rewrite_question(record, hardened.question, source_text),
                        "verified": True,
                        "verifier_answer": verdict.answer,
                        "original_question": hardened.original,
                        "harden_rounds": hardened.rounds,
                    }
                )
                continue
            result.hardening["fell_back"] += 1
        verdict = await _verify(chat, prompts, method, section, record, record["question"], grammar, result, call)
        if verdict is None:
            result.drops["verify_failed"] += 1  # a rambling or failing check keeps nothing, costs no other pair
        elif verdict.agrees:
            take(
                {
                    **record,
                    "verified": True,
                    "verifier_answer": verdict.answer,
                    "harden_rounds": hardened.rounds if hardened is not None else 0,
                }
            )
        else:
            reason = verdict.reason or "verify_disagree"
            result.drops[reason] += 1
            result.rejected.append(
                {**record, "verified": False, "verifier_answer": verdict.answer, "drop_reason": reason}
            )
    if method.verify:
        result.funnel["verified"] += len(kept)
    if harden is not None:  # counted here, not when taken: a kept rewrite can still go as a shared answer
        result.hardening["kept_hardened"] += sum(bool(r.get("original_question")) for r in kept)
    result.drops["over_k"] += len(ordered) - checked
    return kept


def _answer_span(record: dict[str, Any]) -> tuple[int, int] | None:
    """(start, end) of a record's answer in its section; None for an unanswerable record."""
    if record["is_impossible"]:
        return None
    (text,), (start,) = record["answers"]["text"], record["answers"]["answer_start"]
    return start, start + len(text)


async def process_document(
    chat: ChatClient,
    document: Document,
    method: MethodConfig,
    prompts: PromptSet,
    *,
    question_temperature: float,
    model_id: str,
) -> DocumentResult:
    """Run every step for one document; a step's failure fails only this document."""
    result = DocumentResult(document.id)
    calls = CallContext(document.id)
    defaults = method.for_kind(document.kind)
    try:
        if method.summarize:
            result.summary = await summarize(chat, document, prompts, method, result.costs)
            source_text = render_summary(result.summary)
        else:
            source_text = document.text
        questions = await ask_questions(
            chat,
            source_text,
            method.summarize,
            prompts,
            method,
            defaults.num_questions,
            question_temperature,
            call=calls.at("questions"),
            costs=result.costs,
            avoid_text=difficulty_text(document.text, source_text),
        )
    except DocumentFailed as exc:
        result.failure = exc.failure
        return result
    harden = None
    if method.harden:  # one rewrite per question per document, shared by its sections
        hardened: dict[str, Hardened] = {}
        measured_on = difficulty_text(document.text, source_text)

        async def harden(question: str) -> Hardened:
            if question not in hardened:
                hardened[question] = await _harden(
                    chat, prompts, method, question, measured_on, result, calls.at("harden")
                )
                result.hardening["hardened"] += hardened[question].changed
                result.hardening["rounds"] += hardened[question].rounds
            return hardened[question]

    parsed = questions
    removed: dict[str, int] = {}
    if method.answer_checks:  # before the answer call: what no answer can make useful costs no tokens
        dropped = set(near_duplicates(questions))
        removed = {"near_duplicate": len(dropped)}
        for reason, check in (
            ("identity_question", is_identity_question),
            ("compound_question", is_compound_question),
            ("vague_question", is_vague_question),
        ):
            hits = {i for i, q in enumerate(questions) if i not in dropped and check(q)}  # first reason counts
            removed[reason] = len(hits)
            dropped |= hits
        questions = [q for i, q in enumerate(questions) if i not in dropped]
    for section in document.sections:
        result.funnel["asked"] += defaults.num_questions
        result.funnel["parsed"] += len(parsed)
        result.drops["not_parsed"] += defaults.num_questions - len(parsed)
        for reason, count in removed.items():
            result.drops[reason] += count
        if not questions:
            continue
        by_number, grammar = await answer_section(
            chat, prompts, method, section, questions, result, calls.at(f"answers/{section.name}")
        )
        placed: dict[int, Placed] = {}  # by question number; absent: not placed
        checked_out: dict[int, tuple[Placed, str]] = {}  # placed, then dropped by a check: kept for review
        unplaceable: list[tuple[int, str]] = []
        refusals: dict[int, str | None] = {}
        for number, question in enumerate(questions, 1):
            answer = by_number.get(number)
            if answer is None or not answer.strip():
                result.drops["no_answer"] += 1
                continue
            result.funnel["answered"] += 1
            if is_unanswerable(answer):
                # "None" or "Unknown" can be a real quote ("Comparison: None."): a verbatim occurrence wins
                verbatim = place_answer(answer, section.text, question, allow_fuzzy=False).span
                result.answers_as_written["unanswerable" if verbatim is None else "span"] += 1
                if verbatim is None and method.answer_checks:
                    one_region = document.kind == "radiology"  # a report images one region; a note, the patient
                    if problem := unanswerable_problem(question, section.text, document.text, one_region=one_region):
                        result.drops[problem] += 1
                        checked_out[number] = (Placed(answer, None, "unanswerable"), problem)
                        continue
                if (
                    verbatim is not None
                    and method.answer_checks
                    and is_unasked_heading_value(question, verbatim.start, section.text)
                ):
                    result.drops["heading_value_answer"] += 1
                    checked_out[number] = (Placed(answer, verbatim, verbatim.match), "heading_value_answer")
                    continue
                placed[number] = Placed(answer, verbatim, verbatim.match if verbatim else "unanswerable")
            elif is_yes_no(answer):
                result.drops["yes_no"] += 1
                result.answers_as_written["not_a_span"] += 1
            elif (
                placement := place_answer(answer, section.text, question, fuzzy_threshold=method.fuzzy_threshold)
            ).span is not None:
                result.answers_as_written["span" if placement.span.match == "exact" else "aligned"] += 1
                span = _tidy(method, placement.span, section.text)
                if problem := _check_answer(method, question, span, section.text, document.text):
                    result.drops[problem] += 1
                    checked_out[number] = (Placed(answer, span, span.match), problem)
                else:  # "constrained": the grammar admitted only spans of this section
                    how = "constrained" if grammar is not None and span.match == "exact" else span.match
                    placed[number] = Placed(answer, span, how)
            else:
                result.answers_as_written["not_a_span"] += 1  # whatever a requote call recovers later
                unplaceable.append((number, answer))
                refusals[number] = placement.refused
        if unplaceable and method.requote:
            placed.update(
                await _requote(
                    chat,
                    prompts,
                    method,
                    section,
                    questions,
                    unplaceable,
                    result,
                    call=calls.at(f"requote/{section.name}"),
                    document_text=document.text,
                )
            )
        for number, _ in unplaceable:
            if number not in placed:  # refused by a safety guard, or nothing in the section resembles it
                reason = refusals.get(number)
                result.drops[f"refused_{reason}" if reason else "unplaceable"] += 1

        def record(number: int, pair: Placed, section: Section = section) -> dict[str, Any]:
            return make_record(
                method=method.name,
                document_id=document.id,
                title=document.title,
                section=section.name,
                context=section.text,
                question=questions[number - 1],
                span=pair.span,
                model=model_id,
                prompt_version=prompts.version,
                model_answer=pair.answer,
                match=pair.match,
                source_text=source_text,
            )

        candidates: list[dict[str, Any]] = []
        for number in sorted(placed):
            result.funnel["placed"] += 1
            result.placements[placed[number].match] += 1
            candidates.append(record(number, placed[number]))
        for number, (pair, problem) in sorted(checked_out.items()):
            result.rejected.append({**record(number, pair), "drop_reason": problem})
        kept = await _keep(
            chat,
            prompts,
            method,
            section,
            select(candidates, len(candidates), method.selection),
            defaults.keep,
            result,
            calls.at(f"verify/{section.name}"),
            harden,
            source_text,
        )
        result.funnel["kept"] += len(kept)
        result.records.extend(kept)
    return result
