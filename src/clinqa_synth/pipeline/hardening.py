"""Question hardening: rewrite a question that reuses the document's words, and keep it only if it still works.

A small model told "do not reuse the report's words" mostly reuses them anyway (measured: the 1.5B model's
`nooverlap` questions overlap their section *more* than `direct`'s), so the instruction alone does not make
questions hard. Hardening enforces it after the fact, in the order that keeps answers right:

1. the *easy* question is answered first (easy questions quote well, so its span is placed reliably);
2. a question whose content words overlap its document (or summary) by more than the method's `max_overlap`
   is rewritten in a short follow-up call that lists the exact words it reused and asks for the same
   question without them (no report text in that prompt, so there is nothing to copy from); up to
   `harden_rounds` rounds, each on the lowest-overlap version so far, stopping once under the target; a
   rewrite that names a body part neither the question nor the document mentions is not used
   (`drifted_anatomy`, lexicon in lexicons/anatomy.txt), nor one naming another organism (`drifted_organism`,
   lexicons/organisms.txt) or another imaging/test modality (`drifted_modality`, lexicons/modalities.txt),
   nor one that changes a side, negation, number or date (`drifted_meaning`) or the kind of question (a fact
   asked for becoming a "why", two questions or an identity question), nor one that keeps no topic word
   ("…findings of the CT pulmonary angiogram?" → "…findings of the imaging?": `answer_checks.is_vague_question`);
3. the rewritten question is then put to the independent verifier (section + question only): it is kept only
   when the verifier's answer lands on the same span as the easy question's (or both are Unanswerable);
   otherwise the original question is verified and kept instead, and the fallback is counted.

So a hardened question never carries an answer nobody checked for it. Rows record `original_question` and
`harden_rounds`; the run summary counts questions hardened, kept hardened, and fallbacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinqa_synth.pipeline.answer_checks import (
    is_compound_question,
    is_identity_question,
    is_interpretive_question,
    is_vague_question,
    names_general_finding_instead,
)
from clinqa_synth.pipeline.lexicons import body_parts, modalities, organisms
from clinqa_synth.pipeline.meaning import MEANING_WORDS, clinical_signature
from clinqa_synth.text import content_words, words

_NUMBERING = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)]|(?:rewritten\s+)?question\s*:)\s*", re.I)
MIN_QUESTION_WORDS = 3


@dataclass(frozen=True)
class Hardened:
    """The lowest-overlap version of a question found, with the rounds it took (0: none needed/possible)."""

    question: str
    original: str
    overlap: float
    rounds: int

    @property
    def changed(self) -> bool:
        return self.question != self.original


def difficulty_text(document_text: str, source_text: str) -> str:
    """What a question is measured against for hardening: the document and, for summary methods, the summary."""
    return document_text if source_text == document_text else f"{document_text}\n{source_text}"


def reused_words(question: str, text: str) -> list[str]:
    """The question's content words found in `text`, in the question's order, each once (what to avoid).

    Laterality, negation, numbers, units and months are never listed: a rewrite without "left" or "5 mm" asks
    something else, and the answer's meaning guard (pipeline.meaning) treats exactly these as the meaning.
    """
    found = content_words(text)
    seen: list[str] = []
    for word in words(question):
        keep_as_is = word in MEANING_WORDS or any(c.isdigit() for c in word)
        if word in found and not keep_as_is and word not in seen:  # `found` holds content words only
            seen.append(word)
    return seen


def words_to_avoid(text: str) -> list[str]:
    """The words of `text` a question made from it should not reuse (the question step's soft bias), each once, as
    the text writes them ("CT", "PICC", "effusion"): its content words, less side, negation, numbers, units and
    months, which a question may need to ask anything (as `reused_words` leaves them out of a rewrite's words)."""
    forms: dict[str, str] = {}
    for form in re.findall(r"\b[A-Za-z]+\b", text):  # "L4", "T2" are numbers: never biased
        word = form.lower()
        if word not in forms and word in content_words(form) and word not in MEANING_WORDS:
            forms[word] = form
    return list(forms.values())


def drifted_anatomy(rewrite: str, original: str, document_text: str) -> set[str]:
    """Body parts the rewrite names that neither the original question nor the document mentions.

    Measured on the 1.5B model: rewrites turned "the right thyroid lobe" into "the lung" and "joint effusion"
    into "fluid around the lungs" — and the verifier, the same model, still found a span for them. A rewrite
    may change words, never what it is about, so such a rewrite is not used.
    """
    return body_parts(rewrite) - body_parts(original) - body_parts(document_text)


def drifted_organism(rewrite: str, original: str, document_text: str) -> set[str]:
    """Organisms the rewrite names that neither the original question nor the document mentions ("bats" → "mice").

    The side/negation/number/date signature cannot see a changed subject, and on research passages the subject is
    often an organism (lexicons/organisms.txt); such a rewrite asks about something else and is not used.
    """
    return organisms(rewrite) - organisms(original) - organisms(document_text)


def drifted_modality(rewrite: str, original: str, document_text: str) -> set[str]:
    """Imaging or test modalities the rewrite names that neither the original question nor the document names.

    Read on the benchmark reports (sitting 11): "the main findings of the CT pulmonary angiogram" was rewritten
    into "…of the X-ray imaging" and kept, the verifier (the same model) finding the same span. A question about
    another modality is another question (lexicons/modalities.txt folds synonyms: "X-ray" on a radiograph is fine).
    """
    return modalities(rewrite) - modalities(original) - modalities(document_text)


def drifted_meaning(rewrite: str, original: str) -> str | None:
    """The clinical property (negation, laterality, number, date) in which the rewrite differs from the original.

    Measured on COVID-QA passages: the 1.5B model rewrote "the percentage of cases who reported no exposure" into
    "the percentage of the left side of the body…" and "the flow cytometry method used on hepatocytes" into "the
    technique applied to the tissue on the left side". A rewrite may change words, never the side, a negation, a
    number or a date, so such a rewrite is not used.
    """
    before, after = clinical_signature(original), clinical_signature(rewrite)
    for key in before:
        # a negation may change its word ("reported no" → "did not report"); side, numbers and dates may not
        same = bool(before[key]) == bool(after[key]) if key == "negation" else set(before[key]) == set(after[key])
        if not same:
            return key
    return None


# Why a rewrite is not used, in the order tried; each name is a `hardening` counter of the run summary, with the
# phrase the CLI prints for it.
REWRITE_PROBLEMS: dict[str, str] = {
    "anatomy_drift": "named another body part",
    "organism_drift": "named another organism",
    "modality_drift": "named another modality",
    "meaning_drift": "changed a side, negation, number or date",
    "vague_rewrite": "asked about nothing in particular",
    "kind_drift": "asked for a reason, two things or the record's identity instead of a fact",
}


# What the answer checks drop for the question alone. The easy question passed them before it was answered; a rewrite
# that fails one ("What are the symptoms that led to the fall?" → "Why was the body part affected?", read in sitting
# 12) would be kept with an answer given to another kind of question, which no check would see again.
_KIND_CHECKS = (is_interpretive_question, is_compound_question, is_identity_question)


def rewrite_problem(rewrite: str, original: str, document_text: str) -> str | None:
    """Why a rewrite of `original` may not replace it (a `REWRITE_PROBLEMS` key), or None when it may.

    A rewrite may change words, never what is asked: not the body part, organism or modality (it names one that
    neither the question nor the document names), not a side, negation, number or date, not the kind of question
    (a fact asked for may not become a why, two questions, or the record's identity), and it may not lose the
    question's topic — "What are the main findings of the CT pulmonary angiogram?" → "What are the significant
    findings of the imaging?" keeps no word the lexicons call a topic (answer_checks.is_vague_question).
    """
    if drifted_anatomy(rewrite, original, document_text):
        return "anatomy_drift"
    if drifted_organism(rewrite, original, document_text):
        return "organism_drift"
    if drifted_modality(rewrite, original, document_text):
        return "modality_drift"
    if drifted_meaning(rewrite, original):
        return "meaning_drift"
    if is_vague_question(rewrite) and not is_vague_question(original):
        return "vague_rewrite"
    if names_general_finding_instead(rewrite, original):
        return "vague_rewrite"
    if any(check(rewrite) and not check(original) for check in _KIND_CHECKS):
        return "kind_drift"
    return None


def parse_rewrite(reply: str) -> str | None:
    """The rewritten question from the model's reply: its first line that is a question, else None."""
    for line in reply.strip().splitlines():
        text = _NUMBERING.sub("", line.strip()).strip().strip("\"“”'").strip()
        if not text:
            continue
        if text.endswith("?") and len(words(text)) >= MIN_QUESTION_WORDS:
            return text
        return None  # the first non-empty line is not a question: an explanation or a refusal
    return None
