"""Readers that turn files in every format clinical NLP users hold into :class:`Document` objects with sections."""

from clinqa_synth.documents.model import Document, DocumentKind, Section
from clinqa_synth.documents.readers import read_documents

__all__ = ["Document", "DocumentKind", "Section", "read_documents"]
