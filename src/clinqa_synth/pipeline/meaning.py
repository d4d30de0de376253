"""The clinical-safety guard for non-exact span placements: never change what the model's answer says.

A fuzzy or normalised placement is text the model did not write verbatim. Character similarity alone
happily maps "mild changes in the left knee" onto "...right knee" (score 92.8) or "no acute hemorrhage"
onto "Acute hemorrhage" (95.1). Those placements invert a finding. This guard compares the model's answer
with the placed text on the four things a clinician reads first and refuses the placement when any differs:

- negation: no, not, without, absent, negative, denies/denied, free of, none, never, neither/nor, -n't;
- laterality: left, right, bilateral/both;
- numbers, written in digits or words ("three" is 3), with the unit word that follows them: "5 mm" differs from
  "5 cm", "3 times a week" equals "three times a week";
- dates: month names and every digit group (a date is its digits).

The comparison is on multisets, so a placement may drop filler words but never add, drop or swap one of
these. It is deliberately strict: a refused placement is counted and dropped, which costs one pair; an
accepted wrong one teaches a QA model the opposite finding.
"""

from __future__ import annotations

import re
from collections import Counter

from clinqa_synth.text import DEID_TOKEN

NEGATION_CUES = {
    "no": "no",
    "not": "not",
    "without": "without",
    "absent": "absent",
    "absence": "absent",
    "negative": "negative",
    "denies": "deny",
    "denied": "deny",
    "deny": "deny",
    "none": "none",
    "never": "never",
    "neither": "neither",
    "nor": "nor",
    "cannot": "not",
    "free": "free",
    "nothing": "no",
    "unremarkable": "unremarkable",
    "ruled": "ruled",
    "excluded": "excluded",
}
LATERALITY = {
    "left": "left",
    "right": "right",
    "bilateral": "bilateral",
    "bilaterally": "bilateral",
    "both": "bilateral",
    "lt": "left",
    "rt": "right",
}
MONTHS = {
    m: i
    for i, names in enumerate(
        [
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ],
        1,
    )
    for m in names.split()
}
# Number words read as their value, so "three times a week" and "3 times a week" say the same thing (and "three cm"
# vs "four cm" differ, which as plain words they would not).
NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90"}
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+n't|[a-z]+")
UNITS = frozenset("mm cm ml cc mg mcg kg mmhg bpm hu".split())  # measurements keep their unit word
# The words that carry a pair's clinical meaning: a hardened rewrite keeps them, the question step's word bias spares
# them, and they anchor no question to a section (a question may need "left" or "no" to ask anything at all).
MEANING_WORDS = frozenset(LATERALITY) | frozenset(NEGATION_CUES) | frozenset(MONTHS) | UNITS


def is_number_token(token: str) -> bool:
    """A token that states a quantity: digits first ("5", "1.9", "15x10"), or a number word ("nine")."""
    return token[0].isdigit() or token in NUMBER_WORDS


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(DEID_TOKEN.sub(" ", text).lower().replace("\u2019", "'"))  # placeholders: no finding


def clinical_signature(text: str) -> dict[str, Counter]:
    """The negation cues, laterality words, numbers-with-units and dates of a text, as multisets."""
    tokens = _tokens(text)
    negation: Counter = Counter()
    laterality: Counter = Counter()
    numbers: Counter = Counter()
    dates: Counter = Counter()
    for index, token in enumerate(tokens):
        if token.endswith("n't"):
            negation["not"] += 1
        elif token in NEGATION_CUES:
            negation[NEGATION_CUES[token]] += 1
        if token in LATERALITY:
            laterality[LATERALITY[token]] += 1
        if is_number_token(token):
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            unit = following if following.isalpha() and len(following) <= 5 and following not in MONTHS else ""
            value = NUMBER_WORDS.get(token, token.replace(",", "."))
            numbers[(value, unit)] += 1
        elif token in MONTHS:
            dates[MONTHS[token]] += 1
    return {"negation": negation, "laterality": laterality, "number": numbers, "date": dates}


def meaning_change(answer: str, placed: str) -> str | None:
    """The first clinical property in which `placed` differs from the model's `answer`, or None when none does.

    Returns one of "negation", "laterality", "number", "date": the reason a placement is refused.
    """
    expected, got = clinical_signature(answer), clinical_signature(placed)
    for key in ("negation", "laterality", "number", "date"):
        if expected[key] != got[key]:
            return key
    return None
