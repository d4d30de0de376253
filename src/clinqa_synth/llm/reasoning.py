"""Reasoning ("thinking") output: separate it from the answer before anything parses the answer.

Current open models think before they answer, in one of three shapes depending on model and server:

* inline tags in the content — Qwen3, QwQ, DeepSeek-R1 distills: ``<think> … </think> answer``; when the chat
  template itself opens the tag (DeepSeek-R1), the content starts inside it and only ``</think>`` appears;
* a separate message field — vLLM/SGLang with a reasoning parser, llama.cpp's ``--reasoning-format``:
  ``reasoning_content`` (or ``reasoning``) beside a clean ``content``;
* gpt-oss's harmony channels when a server passes them through raw:
  ``<|channel|>analysis<|message|> … <|end|><|start|>assistant<|channel|>final<|message|> answer``.

The pipeline parses JSON, question lists and quotations: a reasoning block in front of them is noise at best and a
"quotation" at worst, so it is cut off here, once, for every server. What it cost is kept: the server's
``completion_tokens_details.reasoning_tokens`` where reported, else an estimate by the share of characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_THINK_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_HARMONY_FINAL = "<|channel|>final<|message|>"
_HARMONY_TOKENS = re.compile(r"<\|(?:start|end|return|channel|message|call)\|>")


@dataclass(frozen=True)
class SplitOutput:
    """A completion's answer text and the reasoning that came before it (empty when the model did not think)."""

    answer: str
    reasoning: str
    unfinished: bool = False  # the model was still reasoning when the output ended: there is no answer


def split_reasoning(content: str, reasoning_field: str | None = None) -> SplitOutput:
    """Separate reasoning from the answer in one completion (content plus the server's reasoning field, if any)."""
    reasoning_parts = [reasoning_field.strip()] if reasoning_field and reasoning_field.strip() else []
    text = content
    if _HARMONY_FINAL in text:
        head, _, tail = text.rpartition(_HARMONY_FINAL)
        reasoning_parts.append(_HARMONY_TOKENS.sub(" ", head).strip())
        text = _HARMONY_TOKENS.sub("", tail)
    elif "<|channel|>analysis" in text:  # harmony, cut off before the final channel began
        return SplitOutput("", "\n".join(reasoning_parts + [_HARMONY_TOKENS.sub(" ", text).strip()]), True)

    def keep(match: re.Match[str]) -> str:
        reasoning_parts.append(match.group(2).strip())
        return ""

    text = _THINK_BLOCK.sub(keep, text)
    close = _THINK_CLOSE.search(text)
    if close is not None and not _THINK_OPEN.search(text[: close.start()]):
        # the template opened the block in the prompt (DeepSeek-R1): everything before the close tag was reasoning
        reasoning_parts.append(text[: close.start()].strip())
        text = text[close.end() :]
    opened = _THINK_OPEN.search(text)
    if opened is not None:  # opened and never closed: the output ended mid-thought
        reasoning_parts.append(text[opened.end() :].strip())
        answer = text[: opened.start()].strip()
        return SplitOutput(answer, "\n".join(p for p in reasoning_parts if p), not answer)
    if not reasoning_parts:
        return SplitOutput(content, "")  # no reasoning: the text exactly as the server sent it
    return SplitOutput(text.strip(), "\n".join(p for p in reasoning_parts if p))


def reasoning_token_share(completion_tokens: int, split: SplitOutput, reported: int | None) -> int:
    """Tokens spent on reasoning: the server's own count when it reports one, else a share by characters."""
    if reported is not None:
        return max(0, min(int(reported), completion_tokens))
    if not split.reasoning:
        return 0
    total_chars = len(split.reasoning) + len(split.answer)
    return round(completion_tokens * len(split.reasoning) / total_chars) if total_chars else 0
