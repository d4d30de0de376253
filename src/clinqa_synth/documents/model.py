"""What a document is once read: an id, a kind (which prompt family and summary schema to use) and sections.

Questions are asked about the whole document and answered against each section separately
(RadQA: report body and impression), so sections are first-class rather than an afterthought.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DocumentKind = Literal["radiology", "clinical_record"]
KINDS: tuple[str, ...] = ("radiology", "clinical_record")


@dataclass(frozen=True)
class Section:
    """A part of a document that answers are extracted from; `text` is the exact context string."""

    name: str
    text: str


@dataclass(frozen=True)
class Document:
    """One clinical document. `credentialed` marks text under a data-use agreement (RadQA, MIMIC)."""

    id: str
    kind: DocumentKind
    sections: tuple[Section, ...]
    title: str = ""
    source: str = ""
    credentialed: bool = False
    notes: tuple[str, ...] = field(default=())
    position: int | None = None  # place in the whole corpus (before sharding/splitting): drives temp_anneal

    @property
    def text(self) -> str:
        """The whole document: sections joined by blank lines, in order."""
        return "\n\n".join(section.text for section in self.sections)
