"""Documents shaped for the pipeline: any source as Document objects, a shard's slice, long ones split, samples.

Everything about *which* documents a run sees and in what pieces lives here, beside the readers; the driver only
runs them concurrently.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from clinqa_synth.documents.model import Document
from clinqa_synth.documents.readers import read_documents
from clinqa_synth.documents.sections import chunk_section, detect_kind, split_sections
from clinqa_synth.errors import ClinqaError

DocumentSource = str | Path | Iterable[Document] | Iterable[str]


def samples_dir(kind: str | None = None) -> Path:
    """The synthetic sample documents shipped with the package (radiology reports and visit notes)."""
    base = Path(str(resources.files("clinqa_synth") / "samples"))
    return base / kind if kind else base


def as_documents(source: DocumentSource, *, kind: str | None, reader_options: dict[str, Any]) -> Iterator[Document]:
    if isinstance(source, (str, Path)):
        yield from read_documents(source, kind=kind, **reader_options)
        return
    for index, item in enumerate(source):
        if isinstance(item, Document):
            yield item
        elif isinstance(item, str):
            resolved = kind if kind and kind != "auto" else detect_kind(item)
            if not item.strip():
                raise ClinqaError(f"document {index} is empty")
            yield Document(f"doc-{index}", resolved, split_sections(item, resolved))  # type: ignore[arg-type]
        else:
            raise ClinqaError(f"document {index} is a {type(item).__name__}; pass Document objects or strings")


def count_documents(
    source: DocumentSource, kind: str | None, reader_options: dict[str, Any]
) -> tuple[int, DocumentSource]:
    """Total documents (needed for temperature annealing); lists are materialised, files read twice."""
    if isinstance(source, (str, Path)):
        return sum(1 for _ in as_documents(source, kind=kind, reader_options=reader_options)), source
    items = source if isinstance(source, Sequence) else list(source)
    return len(items), items


def shard_filter(documents: Iterable[Document], shard: tuple[int, int] | None) -> Iterator[Document]:
    """`--shard i/n`: a deterministic slice of documents (by position), so n machines split the work."""
    if shard is None:
        for position, document in enumerate(documents):
            yield document if document.position is not None else replace(document, position=position)
        return
    index, count = shard
    for position, document in enumerate(documents):
        if position % count == index:
            yield document if document.position is not None else replace(document, position=position)


def split_long_documents(documents: Iterable[Document], max_chars: int) -> Iterator[Document]:
    """Sections longer than `max_chars` become numbered chunks; very long documents become several documents.

    The split is recorded in `Document.notes` and in the section names (`document#2`), so it is visible
    in the dataset rather than silently truncating text the model never saw.
    """
    for document in documents:
        sections = tuple(piece for section in document.sections for piece in chunk_section(section, max_chars))
        if len(sections) == len(document.sections):
            yield document
            continue
        note = f"split into {len(sections)} chunks of at most {max_chars} characters"
        groups: list[list] = [[]]
        size = 0
        for section in sections:
            if groups[-1] and size + len(section.text) > max_chars:
                groups.append([])
                size = 0
            groups[-1].append(section)
            size += len(section.text)
        if len(groups) == 1:
            yield replace(document, sections=tuple(groups[0]), notes=document.notes + (note,))
            continue
        for index, group in enumerate(groups, 1):
            yield replace(document, id=f"{document.id}#{index}", sections=tuple(group), notes=document.notes + (note,))


class DocumentStream:
    """The documents of one run — a shard's slice, at most `limit` — noting what the run must know about them.

    `kinds` (which prompt sets were used) and `credentialed` (whether any came under a data-use agreement) are
    filled in as documents are read; `on_credentialed` is called once, at the first credentialed document, so the
    output folder is marked before any of its rows is written.
    """

    def __init__(
        self,
        source: DocumentSource,
        *,
        kind: str | None,
        reader_options: dict[str, Any],
        shard: tuple[int, int] | None,
        limit: int | None,
        credentialed: bool = False,
        on_credentialed: Any = None,
    ) -> None:
        self.source, self.kind, self.reader_options = source, kind, reader_options
        self.shard, self.limit = shard, limit
        self.kinds: set[str] = set()
        self.credentialed = credentialed
        self._on_credentialed = on_credentialed

    def __iter__(self) -> Iterator[Document]:
        selected = shard_filter(
            as_documents(self.source, kind=self.kind, reader_options=self.reader_options), self.shard
        )
        for index, document in enumerate(selected):
            if self.limit is not None and index >= self.limit:
                return
            if document.credentialed and not self.credentialed:
                self.credentialed = True
                if self._on_credentialed is not None:
                    self._on_credentialed(f"credentialed source {document.source or document.id}")
            self.kinds.add(document.kind)
            yield document
