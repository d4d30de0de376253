"""The word lists the checks use, read from plain files in `clinqa_synth/lexicons/` that a clinician can edit.

Keeping them out of the code means a reviewer who finds a missed hedge ("indeterminate") or body part adds a line
to a text file, not a regular expression.
"""

from __future__ import annotations

import functools
from importlib import resources

from clinqa_synth.text import words


def _lines(name: str) -> list[str]:
    text = (resources.files("clinqa_synth") / "lexicons" / name).read_text(encoding="utf-8")
    return [line.strip().lower() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@functools.cache
def anatomy_terms() -> frozenset[str]:
    """The body-part lexicon (lexicons/anatomy.txt), lower-cased."""
    return frozenset(_lines("anatomy.txt"))


def _named(text: str, terms: frozenset[str]) -> set[str]:
    """The lexicon terms named in `text`, plurals folded ("lungs" → "lung", "viruses" → "virus")."""
    found = set()
    for word in words(text):
        for form in (word, word[:-1] if word.endswith("s") else word, word[:-2] if word.endswith("es") else word):
            if form in terms:
                found.add(form)
    return found


def body_parts(text: str) -> set[str]:
    """The lexicon's body parts named in `text`, plurals folded ("lungs" → "lung")."""
    return _named(text, anatomy_terms())


@functools.cache
def document_words() -> frozenset[str]:
    """Words that name the document, not its content (lexicons/document_words.txt): "clinical", "note", "discuss"."""
    return frozenset(_lines("document_words.txt"))


@functools.cache
def generic_words() -> frozenset[str]:
    """Words that name no topic (every group of lexicons/generic_words.txt) with the document's words and the
    modalities: a question made only of these asks about nothing in particular ("What are the findings of the
    study?")."""
    words_of_groups = {word for group in _groups("generic_words.txt").values() for word in group}
    return frozenset(words_of_groups) | document_words() | modality_terms()


@functools.cache
def general_findings() -> frozenset[str]:
    """lexicons/generic_words.txt's [findings in general]: "abnormality", "condition", "finding", "issue"…"""
    return frozenset(_groups("generic_words.txt")["findings in general"])


@functools.cache
def organism_terms() -> frozenset[str]:
    """The organism lexicon (lexicons/organisms.txt), lower-cased."""
    return frozenset(_lines("organisms.txt"))


def organisms(text: str) -> set[str]:
    """The lexicon's organisms named in `text`, regular plurals folded ("bats" → "bat"; "mice" is its own line)."""
    return _named(text, organism_terms())


@functools.cache
def modality_groups() -> dict[str, str]:
    """lexicons/modalities.txt as word → modality: each line's words name one modality, its first word."""
    return {word: line.split()[0] for line in _lines("modalities.txt") for word in line.split()}


@functools.cache
def modality_terms() -> frozenset[str]:
    """Every word of lexicons/modalities.txt, the set `_named` matches against (built once, not per question)."""
    return frozenset(modality_groups())


def modalities(text: str) -> set[str]:
    """The imaging or test modalities named in `text`, synonyms folded ("X-ray", "film" → "radiograph")."""
    groups = modality_groups()
    return {groups[term] for term in _named(text, modality_terms())}


def _groups(name: str) -> dict[str, tuple[str, ...]]:
    """A lexicon whose lines sit under `[group]` headings, by group."""
    groups: dict[str, list[str]] = {}
    current = None
    for line in _lines(name):
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1], [])
        elif current is not None:
            current.append(line)
    return {group: tuple(entries) for group, entries in groups.items()}


@functools.cache
def mention_cues() -> dict[str, tuple[str, ...]]:
    """lexicons/mention_cues.txt by group: `before` / `after` cues of negation and hedging, `not findings`."""
    return _groups("mention_cues.txt")


@functools.cache
def body_regions() -> dict[str, frozenset[str]]:
    """lexicons/body_regions.txt: body part → the imaged regions it appears on (parts found anywhere are absent)."""
    regions: dict[str, frozenset[str]] = {}
    for line in _lines("body_regions.txt"):
        part, _, names = line.partition(":")
        regions[part.strip()] = frozenset(names.split())
    return regions


def regions_named(text: str) -> tuple[set[str], bool]:
    """The imaged regions of the body parts `text` names, and whether every part it names has a region."""
    table = body_regions()
    parts = body_parts(text)
    found: set[str] = set()
    for part in parts:
        found |= table.get(part, frozenset())
    return found, all(part in table for part in parts)
