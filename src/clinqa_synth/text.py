"""Shared word-level helpers: the English stopword list and content words.

One definition serves span alignment, the overlap statistics of the card and report, and the
RO-by-overlap split of the metrics, so "question–context overlap" means the same thing everywhere.
"""

from __future__ import annotations

import re

# A standard English stopword list (function words only: no clinical terms).
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not of off
    on once only or other our ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves s t don""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
# MIMIC-style de-identification placeholders ("[**Hospital1 18**]"): one pattern for alignment and the guards
DEID_TOKEN = re.compile(r"\[\*\*.*?\*\*\]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    """Lower-cased alphanumeric tokens that are not stopwords (single letters dropped)."""
    return {w for w in words(text) if w not in STOPWORDS and len(w) > 1}


def question_context_overlap(question: str, context: str) -> float:
    """Share of the question's content words that also occur in the context (0 = no lexical shortcut)."""
    wanted = content_words(question)
    if not wanted:
        return 0.0
    return len(wanted & content_words(context)) / len(wanted)


def question_overlaps_context(question: str, context: str) -> bool:
    """True when the question shares at least one content word with its context."""
    return bool(content_words(question) & content_words(context))
