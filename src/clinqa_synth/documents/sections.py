"""Finding the document kind and its sections in plain text, and splitting what is too long for the model.

Radiology reports are answered per section as in RadQA: the report body (indication, technique,
findings…) and the impression. Other clinical records are answered as a whole unless they are
longer than the model's context allows, in which case they are split at paragraph boundaries and
the split is recorded on the document.
"""

from __future__ import annotations

import re

from clinqa_synth.documents.model import DocumentKind, Section

_IMPRESSION = re.compile(r"(?im)^[ \t]*(IMPRESSION|CONCLUSION|CONCLUSIONS|OPINION)\s*:?")
_RADIOLOGY_MARKERS = re.compile(
    r"(?im)^[ \t]*(FINDINGS|IMPRESSION|TECHNIQUE|EXAMINATION|EXAM|COMPARISON|INDICATION)\s*:"
)
_RADIOLOGY_WORDS = re.compile(r"(?i)\b(radiograph|ct|mri|ultrasound|x-ray|contrast|axial|sagittal|pa and lateral)\b")


def detect_kind(text: str) -> DocumentKind:
    """Radiology when the text has a report's headings (or reads like one); otherwise a clinical record."""
    headings = {m.group(1).upper() for m in _RADIOLOGY_MARKERS.finditer(text)}
    if "FINDINGS" in headings or ("IMPRESSION" in headings and len(headings) >= 2):
        return "radiology"
    if len(text) < 4000 and len(_RADIOLOGY_WORDS.findall(text)) >= 3 and "IMPRESSION" in headings:
        return "radiology"
    return "clinical_record"


def split_sections(text: str, kind: DocumentKind) -> tuple[Section, ...]:
    """Radiology: (report, impression) when an impression heading exists; otherwise the whole text."""
    text = text.strip()
    if kind == "radiology":
        match = _IMPRESSION.search(text)
        if match and match.start() > 0:
            body, impression = text[: match.start()].strip(), text[match.start() :].strip()
            if body and impression:
                return (Section("report", body), Section("impression", impression))
    return (Section("document", text),)


def chunk_section(section: Section, max_chars: int) -> list[Section]:
    """Split a section longer than `max_chars` at paragraph (then line, then sentence) boundaries."""
    if len(section.text) <= max_chars:
        return [section]
    pieces: list[str] = []
    current = ""
    for separator_split in re.split(r"(\n\s*\n)", section.text):
        units = [separator_split] if len(separator_split) <= max_chars else re.split(r"(?<=[.\n])", separator_split)
        for unit in units:
            while len(unit) > max_chars:  # a single unbroken run longer than the limit
                pieces.append(current + unit[: max_chars - len(current)])
                unit = unit[max_chars - len(current) :]
                current = ""
            if len(current) + len(unit) > max_chars and current.strip():
                pieces.append(current)
                current = ""
            current += unit
    if current.strip():
        pieces.append(current)
    pieces = [p.strip() for p in pieces if p.strip()]
    return [Section(f"{section.name}#{i + 1}", piece) for i, piece in enumerate(pieces)]
