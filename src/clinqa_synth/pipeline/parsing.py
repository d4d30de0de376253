"""Parsing what models actually write: numbered/bulleted/JSON question lists, answer lists, summary JSON.

Small models add preambles ("Sure! Here are…"), code fences, stray numbering styles and stop in
the middle of a list; structured output is not available on every server. These parsers accept
all of that and reject what cannot be trusted (a half-written last line, an answer without a
question number), so nothing malformed becomes data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clinqa_synth.llm.structured import JSONParseError, parse_json_loosely

UNANSWERABLE = "Unanswerable"
_UNANSWERABLE_FORMS = {
    "unanswerable",
    "not answerable",
    "n/a",
    "na",
    "none",
    "not mentioned",
    "not stated",
    "not found",
    "no answer",
    "cannot be answered",
    "not available",
    "unknown",
    "not specified",
    "not provided",
}

_LIST_ITEM = re.compile(
    r"^\s*(?:[-*•]\s*|(?:Q(?:uestion)?\s*)?\(?(\d{1,3})[.):\]]\s*|Q(\d{1,3})\s*[:.-]\s*)(.+?)\s*$", re.I
)
_PREAMBLE = re.compile(r"(?i)^(sure|certainly|here (are|is)|below (are|is)|okay|ok\b|the following)")


def _clean_question(text: str) -> str:
    text = text.strip().strip('"').strip("*").strip()
    text = re.sub(r"^(?:Question\s*\d*\s*[:.-]\s*)", "", text, flags=re.I)
    return re.sub(r"\s+", " ", text).strip()


def parse_questions(text: str, limit: int | None = None) -> list[str]:
    """Questions from a numbered/bulleted list, a JSON list/object, or one question per line.

    A last line without a question mark is taken as truncated and dropped.
    """
    questions: list[str] = []
    stripped = text.strip()
    if stripped.startswith(("[", "{", "```")):
        try:
            value = parse_json_loosely(stripped)
            if isinstance(value, dict):
                value = next((v for v in value.values() if isinstance(v, list)), [])
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        item = item.get("question") or next((v for v in item.values() if isinstance(v, str)), "")
                    if isinstance(item, str) and item.strip():
                        questions.append(_clean_question(item))
        except JSONParseError:
            pass
    if not questions:
        lines = [line for line in stripped.replace("```", "").splitlines() if line.strip()]
        for index, line in enumerate(lines):
            match = _LIST_ITEM.match(line)
            candidate = match.group(3) if match else line
            if not match and (_PREAMBLE.match(line.strip()) or line.rstrip().endswith(":")):
                continue
            candidate = _clean_question(candidate)
            if not candidate:
                continue
            if not match and not candidate.endswith("?"):
                continue  # free prose ("I am sorry, I cannot…") is not a question
            is_last = index == len(lines) - 1
            if is_last and not candidate.endswith("?") and len(questions) >= 1:
                continue  # probably cut off mid-sentence
            questions.append(candidate)
    unique: list[str] = []
    seen: set[str] = set()
    for question in questions:
        key = re.sub(r"\W+", " ", question.lower()).strip()
        if key and key not in seen and len(key) > 3:
            seen.add(key)
            unique.append(question)
    return unique[:limit] if limit else unique


_NOT_IN_TEXT = re.compile(
    r"^(?:the (?:report|text|note|document) (?:does not|doesn't|did not) (?:say|mention|specify|state|provide|include)"
    r"|(?:this |it )?(?:is |was )?(?:not|never) (?:specified|mentioned|provided|stated|documented|reported|available"
    r"|given|described|indicated|addressed)"
    r"|no (?:information|mention|data|details|answer)\b"
    r"|(?:cannot|can't|could not) be (?:determined|answered|found)"
    r"|there is no (?:information|mention)\b)"
)
_YES_NO = re.compile(r"^(?:yes|no|true|false)[.!]?$", re.I)


def is_unanswerable(answer: str) -> bool:
    """ "Unanswerable" and the ways small models say it ("Not specified in the report", "No information provided")."""
    normalized = re.sub(r"[\s.\"'`*]+", " ", answer.lower()).strip()
    if normalized in _UNANSWERABLE_FORMS or normalized.startswith("unanswerable"):
        return True
    return len(normalized.split()) <= 12 and bool(_NOT_IN_TEXT.match(normalized))


def is_yes_no(answer: str) -> bool:
    """A bare yes/no: not a span of the text, so it cannot become an extractive QA pair."""
    return bool(_YES_NO.match(answer.strip()))


def clean_quotation(answer: str) -> str:
    """A one-quotation reply (verify, `answer_one`) without the quotes and "Answer:" a small model wraps it in."""
    text = answer.strip().strip('"').strip()
    for prefix in ("answer:", "quote:", "quotation:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :].strip().strip('"').strip()
    return text


@dataclass(frozen=True)
class ParsedAnswer:
    number: int  # 1-based question number
    answer: str


_ANSWER_LINE = re.compile(r"^\s*(?:A(?:nswer)?\s*)?(\d{1,3})\s*[.):\]-]\s*(?:A(?:nswer)?\s*[:.-]\s*)?(.*)$", re.I)
_QA_BLOCK = re.compile(
    r"(?im)^\s*Q(?:uestion)?\s*(\d{1,3})?\s*[:.)-]\s*(.*?)\s*$\s*^\s*A(?:nswer)?\s*\d*\s*[:.)-]\s*(.*?)\s*$"
)


def parse_answers(text: str, num_questions: int) -> list[ParsedAnswer]:
    """Answers keyed by question number from JSON, `Q:/A:` blocks, or numbered lines."""
    answers: dict[int, str] = {}
    try:
        value: Any = parse_json_loosely(text)
    except JSONParseError:
        value = None
    if isinstance(value, dict):
        value = value.get("answers", value)
    if isinstance(value, list):
        for position, item in enumerate(value, 1):
            if isinstance(item, dict):
                number = item.get("number", item.get("id", item.get("question_number", position)))
                answer = item.get("answer")
            else:
                number, answer = position, item
            try:
                number = int(number)
            except (TypeError, ValueError):
                continue
            if isinstance(answer, str) and 1 <= number <= num_questions:
                answers.setdefault(number, answer.strip())
    elif isinstance(value, dict):
        for key, answer in value.items():
            digits = re.sub(r"\D", "", str(key))
            if digits and isinstance(answer, str) and 1 <= int(digits) <= num_questions:
                answers.setdefault(int(digits), answer.strip())
    if not answers:
        for position, match in enumerate(_QA_BLOCK.finditer(text), 1):
            number = int(match.group(1)) if match.group(1) else position
            if 1 <= number <= num_questions:
                answers.setdefault(number, match.group(3).strip())
    if not answers:
        for line in text.splitlines():
            match = _ANSWER_LINE.match(line)
            if match and 1 <= int(match.group(1)) <= num_questions:
                answers.setdefault(int(match.group(1)), match.group(2).strip())
    return [ParsedAnswer(n, _strip_quotes(a)) for n, a in sorted(answers.items())]


def _strip_quotes(answer: str) -> str:
    answer = answer.strip()
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'`":
        answer = answer[1:-1].strip()
    return answer


class SummaryError(ValueError):
    """The summary is not a JSON object with the schema's keys."""


def parse_summary(text: str, schema: dict[str, Any]) -> dict[str, list[str]]:
    """Validate and repair a schema summary: known keys only, lists of ≤ maxItems strings, missing keys empty."""
    try:
        value = parse_json_loosely(text)
    except JSONParseError as exc:
        raise SummaryError(str(exc)) from None
    if not isinstance(value, dict):
        raise SummaryError("summary is not a JSON object")
    properties: dict[str, Any] = schema["properties"]
    lowered = {str(k).lower().replace(" ", "_"): v for k, v in value.items()}
    if not set(lowered) & set(properties):
        raise SummaryError(f"summary has none of the keys {', '.join(properties)}")
    summary: dict[str, list[str]] = {}
    for key, spec in properties.items():
        raw = lowered.get(key, [])
        if isinstance(raw, str):
            raw = [raw] if raw.strip() else []
        if not isinstance(raw, list):
            raw = []
        items = [str(item).strip() for item in raw if isinstance(item, (str, int, float)) and str(item).strip()]
        summary[key] = items[: int(spec.get("maxItems", 5))]
    return summary


def render_summary(summary: dict[str, list[str]]) -> str:
    """The summary as the questions prompt shows it: one key per line."""
    return "\n".join(
        f"{key.replace('_', ' ')}: {'; '.join(values) if values else 'none'}" for key, values in summary.items()
    )
