"""Cheap, deterministic checks that catch QA pairs a QA model cannot learn from, before any further LLM call.

Reading what a small model keeps on real-looking reports shows the same mechanical failures again and again:
answers that only echo the question ("reason for the chest tube removal?" → "chest tube removal"), answers
that are a whole findings paragraph, blank answers, and "unanswerable" questions that are unanswerable
only because the text is de-identified ("What is the patient's name?", "When was the study performed?").
RadQA's answers are short spans and its unanswerables are clinically sensible questions the section does
not answer. Each check here returns a drop reason (counted in the funnel and the card) or None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz

from clinqa_synth.pipeline.meaning import clinical_signature
from clinqa_synth.text import content_words, words

# Questions about who/when/where of the record itself: de-identified away in RadQA/MIMIC, so they are
# "unanswerable" for a trivial reason, and a QA model learns nothing clinical from them.
_IDENTITY = re.compile(
    r"\b(?:(?:patient|patient's|his|her|their)\s+(?:full\s+)?name|name\s+of\s+the\s+(?:patient|physician|doctor|"
    r"radiologist|hospital|clinic)|date\s+of\s+birth|\bdob\b|birth\s?date|medical\s+record\s+number|\bmrn\b|"
    r"social\s+security|insurance|home\s+address|(?:phone|telephone)\s+number|e-?mail|occupation|employer|"
    r"(?:referring|ordering|attending|reading|dictating)\s+(?:physician|doctor|provider|radiologist)|"
    r"who\s+(?:performed|dictated|signed|read|interpreted|ordered|referred)|"
    r"(?:when|what\s+(?:date|time|day))\s+(?:was|is|were)\s+(?:the\s+)?(?:study|exam|examination|scan|report|"
    r"imaging|procedure|visit)\s+(?:performed|done|dictated|signed|obtained|conducted|scheduled|acquired)|"
    r"(?:date|time)\s+of\s+(?:the\s+)?(?:study|exam|examination|scan|report|visit|dictation))",
    re.I,
)
# Layout, not content: a span that starts with the section's heading ("IMPRESSION: 1. PICC line tip…") or a list
# number, or ends with the next item's number ("…low SVC. 2."), teaches a QA model to copy layout.
_LEADING_LAYOUT = re.compile(r"^(?:[A-Z][A-Z /&()-]{2,}:\s*|\d{1,2}[.)]\s+)+")
_TRAILING_LAYOUT = re.compile(r"(?<=[.;:])\s+\d{1,2}[.)]?$")
_YES_NO_QUESTION = re.compile(r"^\s*(?:is|are|was|were|does|do|did|has|have|had|can|could|any|will)\b", re.I)


def is_identity_question(question: str) -> bool:
    """A question about the record's identity/logistics (name, DOB, MRN, dates of the study, who signed it)."""
    return bool(_IDENTITY.search(question))


# Two questions in one ("What is the RV/LV ratio and what does it mean?", "…, and if so, what is the cause?",
# "… and their preservation status?"): one span cannot answer both, so the pair is wrong whichever half it answers.
_COMPOUND = re.compile(
    r"(?:,?\s+and\s+(?:what|how|why|where|which|when|whether|is|are|does|do|did|can|their|its)\b|"
    r",?\s+and\s+if\s+so\b|\?.+\?)",
    re.I,
)


# Questions that ask for reasoning — significance, cause, effect, relation, comparison, how a finding was reached.
# Reports state findings, rarely reasons; a small model answers such questions by quoting the finding itself.
# In the labelled audit set (docs/audit), 4 of 27 such pairs with a span were right (the rest: should be
# unanswerable, wrong span, bad question), so a span answer to one is dropped; "Unanswerable" stays possible.
# Spatial wording is not reasoning: "in relation to the SVC" and "compared to surrounding tissue" do not match.
_INTERPRETIVE = re.compile(
    r"\b(?:significance|significant|signify|implications?|relat(?:e|es|ed|ionship)|(?<!in\s)relation|"
    r"affect(?:s|ed)?|influenc(?:e|es|ed)|why|causes?|caused|compares?|comparison|"
    r"how\s+(?:did|does|do|was|were|is|are)\s+(?:the\s+)?(?:radiologist|doctor|physician|study|visit|position|"
    r"presence|diagnosis))\b|\bwhat\s+does\b.{0,60}\b(?:mean|indicate|suggest|imply|reveal)\b",
    re.I,
)


def is_interpretive_question(question: str) -> bool:
    """A question asking why/how-come/what-it-means rather than what the text states."""
    return bool(_INTERPRETIVE.search(question))


def is_compound_question(question: str) -> bool:
    """Two questions joined into one ("… and what does it mean?"), which no single span answers."""
    return bool(_COMPOUND.search(question.strip()))


def is_echo_answer(question: str, answer: str) -> bool:
    """The answer adds no content word to the question: it restates what was asked.

    Yes/no questions are exempt — their evidence span legitimately repeats the finding asked about
    ("Is there a left effusion?" → "No left pleural effusion") — and so is any answer that carries a
    negation, laterality, number or date the question lacks.
    """
    answer_words = content_words(answer)
    if not answer_words or _YES_NO_QUESTION.match(question):
        return False
    if not answer_words <= content_words(question):
        return False
    asked, said = clinical_signature(question), clinical_signature(answer)
    return all(not (said[key] - asked[key]) for key in said)


def answer_problem(question: str, answer: str, section_text: str, *, max_answer_words: int) -> str | None:
    """The drop reason for an answerable pair, or None when it passes the cheap checks."""
    if not words(answer):
        return "blank_answer"
    if not content_words(answer) and not any(char.isdigit() for char in answer):
        # "The", "of the": a span of function words answers nothing (seen on COVID-QA passages, where a verifier
        # quoting the sentence that starts with "The" even agreed with it); "5" or "2 x" still pass
        return "stopword_answer"
    if is_echo_answer(question, answer):
        return "echo_answer"
    if is_interpretive_question(question):
        return "interpretive_answer"
    n_words = len(words(answer))
    if n_words > max_answer_words:
        return "long_answer"
    section_words = len(words(section_text))
    if section_words >= 20 and n_words >= 0.8 * section_words:
        return "whole_section"
    return None


def without_layout(start: int, end: int, context: str) -> tuple[int, int]:
    """The span without a leading heading label / list number or a trailing list number (unchanged if nothing
    would remain). Only whole tokens followed by whitespace are removed, so "1.9 cm" or "grade 2" stay whole."""
    text = context[start:end]
    lead = _LEADING_LAYOUT.match(text)
    if lead and lead.end() < len(text):
        start += lead.end()
    trail = _TRAILING_LAYOUT.search(context[start:end])
    if trail and trail.start() > 0:
        end = start + trail.start()
    return start, end


def near_duplicates(questions: Sequence[str], threshold: float = 90.0) -> list[int]:
    """Indexes of questions that repeat an earlier one of the same list (same words in another order, a typo)."""
    seen: list[str] = []
    duplicates: list[int] = []
    for index, question in enumerate(questions):
        key = " ".join(words(question))
        if any(fuzz.token_sort_ratio(key, earlier) >= threshold for earlier in seen):
            duplicates.append(index)
        else:
            seen.append(key)
    return duplicates
