"""Extractive constrained decoding: GBNF grammars whose strings are exactly the spans of one section.

A small model asked to "copy the exact words" rewords, re-capitalises or explains; the aligner can recover
some of that only at the risk of placing a span the model did not mean. A server that accepts a grammar
(llama.cpp's `grammar` field, vLLM/SGLang through xgrammar) can make a non-quote impossible instead: every
string the grammar admits is "Unanswerable" or a contiguous run of whole words of the section.

Construction (one rule per word position, so the grammar grows linearly with the section):

    root ::= "Unanswerable" | e0 | e1 | … | e(n-1)         # start at any word
    s_i  ::= "<word i>" c_i                                # word i reached from word i-1
    e_i  ::= "<word i without leading punctuation>" c_i     # entry into word i (s_i when it has none)
    c_i  ::= ("<trailing punctuation of word i>" ("<separator i>" s_(i+1))?)?

Words are the section's whitespace-separated tokens; each separator is the section's own whitespace, kept
as it is, so every admitted string is a real substring; a word's trailing punctuation (".", ",", ";" …) may be
left off, but only at the end of the answer. An answer may not *be* a bare yes/no word: entering the section at
"No"/"Yes" requires the next word too ("No pneumothorax"), so a yes/no question is answered by its evidence.
For the answers call, the same spans sit inside the JSON list
format (`answers_json_grammar`), with the section's text JSON-escaped inside the string literals.

Limits: a section of more than `max_words` words (default 1500) gets no grammar (the answers fall back to the
aligner), because grammar sampling cost grows with the number of entry points; servers without grammar support
(TGI, OpenAI, `--structured none`) also fall back. Both are recorded per row in the `match` column.
"""

from __future__ import annotations

import json
import re

UNANSWERABLE = "Unanswerable"
MAX_GRAMMAR_WORDS = 1500
_TOKEN = re.compile(r"\S+")
_LEADING = re.compile(r"^[\"'(\[{«“‘*•-]+")
_YES_NO_WORDS = frozenset({"yes", "no", "true", "false"})  # never a whole answer (parsing.is_yes_no)
_TRAILING = re.compile(r"[.,;:!?\"')\]}»”’*]+$")


def _gbnf_literal(text: str) -> str:
    """A GBNF string literal for `text` (backslash, quote and control characters escaped)."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _json_inner(text: str) -> str:
    """How `text` appears inside a JSON string literal (what the model must emit in the JSON format)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _span_rules(section_text: str, *, in_json: bool, prefix: str = "w") -> tuple[list[str], list[str]] | None:
    """The word-position rules of a section and the names of its entry rules, or None when too long/empty."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(section_text)]
    if not tokens or len(tokens) > MAX_GRAMMAR_WORDS:
        return None
    lit = (lambda t: _gbnf_literal(_json_inner(t))) if in_json else _gbnf_literal
    rules: list[str] = []
    entries: list[str] = []
    for i, (start, end) in enumerate(tokens):
        word = section_text[start:end]
        trailing = _TRAILING.search(word)
        core = word[: trailing.start()] if trailing and trailing.start() > 0 else word
        tail = word[len(core) :]
        if i + 1 < len(tokens):
            sep = section_text[end : tokens[i + 1][0]]
            onward = f"({lit(sep)} {prefix}s{i + 1})?"
            cont = f"({lit(tail)} {onward})?" if tail else onward
        else:
            cont = f"({lit(tail)})?" if tail else ""
        rules.append(f"{prefix}c{i} ::= {cont}" if cont else f'{prefix}c{i} ::= ""')
        rules.append(f"{prefix}s{i} ::= {lit(core)} {prefix}c{i}")
        lead = _LEADING.match(core)
        entry_core = core[lead.end() :] if lead else core
        if entry_core.lower() in _YES_NO_WORDS:
            # a bare "No" is not an extractive answer: entering here, the answer must go on to the next word
            # ("No pneumothorax"), as RadQA's annotators answer yes/no questions with their evidence
            if i + 1 < len(tokens):
                tail_part = f"({lit(tail)})? " if tail else ""
                rules.append(f"{prefix}e{i} ::= {lit(entry_core)} {tail_part}{lit(sep)} {prefix}s{i + 1}")
                entries.append(f"{prefix}e{i}")
        elif entry_core and entry_core[0].isalnum():
            if entry_core == core:  # no leading punctuation: enter through the position rule itself
                entries.append(f"{prefix}s{i}")
            else:
                rules.append(f"{prefix}e{i} ::= {lit(entry_core)} {prefix}c{i}")
                entries.append(f"{prefix}e{i}")
    return rules, entries


def span_grammar(section_text: str) -> str | None:
    """GBNF for a plain-text answer: "Unanswerable" or a run of whole words of the section (None: no grammar)."""
    built = _span_rules(section_text, in_json=False)
    if built is None or not built[1]:
        return None
    rules, entries = built
    return "\n".join([f'root ::= "{UNANSWERABLE}" | ' + " | ".join(entries), *rules]) + "\n"


def answers_list_grammar(section_text: str, count: int) -> str | None:
    """GBNF for the compact answers format: a JSON list of `count` strings, ["<span or Unanswerable>", …].

    The same spans as `answers_json_grammar` without the per-answer keys: about 3 tokens of structure per answer
    instead of about 11 (method key `answer_format: list`).
    """
    built = _span_rules(section_text, in_json=True)
    if built is None or not built[1] or count < 1:
        return None
    rules, entries = built
    items = ' ", " '.join(['"\\"" answer "\\""'] * count)
    return (
        "\n".join([f'root ::= "[" {items} "]"', f'answer ::= "{UNANSWERABLE}" | ' + " | ".join(entries), *rules]) + "\n"
    )


def answers_json_grammar(section_text: str, count: int) -> str | None:
    """GBNF for the answers call: {"answers": [{"number": i, "answer": "<span or Unanswerable>"}, …]} for i=1..count."""
    built = _span_rules(section_text, in_json=True)
    if built is None or not built[1] or count < 1:
        return None
    rules, entries = built
    items = [f'"{{\\"number\\": {i}, \\"answer\\": \\"" answer "\\"}}"' for i in range(1, count + 1)]
    return (
        "\n".join(
            [
                'root ::= "{\\"answers\\": [" ' + ' ", " '.join(items) + ' "]}"',
                f'answer ::= "{UNANSWERABLE}" | ' + " | ".join(entries),
                *rules,
            ]
        )
        + "\n"
    )
