"""Readers for every input format: text folders, JSONL/CSV/parquet tables, SQuAD JSON, RadQA, MIMIC-QA, HF datasets.

Readers are generators, so 100k documents stream from disk instead of sitting in memory, and each
bad input raises one :class:`InputError` naming the file, the record and the fix.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from clinqa_synth.documents.model import KINDS, Document, DocumentKind, Section
from clinqa_synth.documents.sections import detect_kind, split_sections
from clinqa_synth.errors import ClinqaError
from clinqa_synth.squad import squad_paragraphs

TEXT_SUFFIXES = {".txt", ".md", ".text"}
TABLE_SUFFIXES = {".jsonl", ".csv", ".parquet", ".tsv"}
GZIP_TABLE_SUFFIXES = {".jsonl", ".csv", ".tsv"}  # read as FILE.gz too (MIMIC-IV-Note ships discharge.csv.gz)
# MIMIC-IV-Note (PhysioNet, credentialed): discharge.csv / radiology.csv and their detail tables share these columns
MIMIC_IV_NOTE_COLUMNS = {"note_id", "subject_id", "note_type", "text"}
# MIMIC-IV-Note note_type → document kind: DS discharge summary, AD its addendum, RR radiology report, AR addendum
MIMIC_IV_NOTE_KINDS = {"DS": "clinical_record", "AD": "clinical_record", "RR": "radiology", "AR": "radiology"}


class InputError(ClinqaError):
    """An input file or folder that cannot be read as documents."""


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise InputError(
            f"{path} looks like a binary file, not text. Pass .txt/.md notes, JSONL, CSV, parquet or SQuAD JSON."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not valid UTF-8 (byte {exc.start}). Convert it, e.g. `iconv -f latin1 -t utf-8 {path.name}`."
        ) from None


def _make(
    doc_id: str, text: str, kind: str | None, source: str, *, title: str = "", credentialed: bool = False
) -> Document:
    text = text.strip()
    if not text:
        raise InputError(f"document {doc_id!r} in {source} is empty. Remove it or fix the text column.")
    resolved: DocumentKind = _check_kind(kind) if kind and kind != "auto" else detect_kind(text)
    return Document(
        id=doc_id,
        kind=resolved,
        sections=split_sections(text, resolved),
        title=title or doc_id,
        source=source,
        credentialed=credentialed,
    )


def _check_kind(kind: str) -> DocumentKind:
    if kind not in KINDS:
        raise InputError(f"unknown document kind {kind!r}; use one of {', '.join(KINDS)} or auto")
    return kind  # type: ignore[return-value]


def read_text_folder(path: Path, kind: str | None = None) -> Iterator[Document]:
    """A folder of .txt/.md files, one document each; ids are paths relative to the folder."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise InputError(f"{path} holds no .txt or .md files. Point --input at a folder of notes or a data file.")
    for file in files:
        text = _read_text(file)
        if not text.strip():
            raise InputError(f"{file} is empty. Remove it or add the note's text.")
        yield _make(str(file.relative_to(path).with_suffix("")), text, kind, str(file))


def table_suffix(path: Path) -> str:
    """`.csv` for notes.csv and for notes.csv.gz: the format, whatever the compression."""
    suffixes = [x.lower() for x in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] == ".gz" and suffixes[-2] in GZIP_TABLE_SUFFIXES:
        return suffixes[-2]
    return path.suffix.lower()


def _open_text(path: Path) -> Any:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by the caller's with


def _table_rows(path: Path) -> Iterator[dict[str, Any]]:
    suffix = table_suffix(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for damaged files
            raise InputError(f"{path} is not a readable parquet file ({exc}).") from None
        for batch in parquet.iter_batches(batch_size=256):
            yield from batch.to_pylist()
        return
    try:
        with _open_text(path) as handle:
            if suffix in (".csv", ".tsv"):
                csv.field_size_limit(1 << 30)
                yield from csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
                return
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path} line {number} is not valid JSON ({exc.msg}).") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path} line {number} is not a JSON object.")
                yield row
    except (OSError, EOFError) as exc:  # gzip: not gzipped, or cut short
        raise InputError(f"{path} cannot be read ({exc}); is it a complete .gz file?") from None


def is_mimic_iv_note(columns: Iterable[str]) -> bool:
    """MIMIC-IV-Note's discharge/radiology tables, recognised by their columns (they are credentialed data)."""
    return MIMIC_IV_NOTE_COLUMNS <= set(columns)


def parse_where(conditions: Iterable[str]) -> list[tuple[str, str]]:
    """`--where COLUMN=VALUE` (repeatable; all must hold) → pairs, or one clear error."""
    pairs = []
    for condition in conditions:
        column, sep, value = condition.partition("=")
        if not sep or not column.strip():
            raise InputError(f"--where {condition!r}: write COLUMN=VALUE, e.g. --where note_type=DS")
        pairs.append((column.strip(), value.strip()))
    return pairs


def read_table(
    path: Path,
    *,
    text_column: str = "text",
    id_column: str | None = "id",
    kind: str | None = None,
    where: Iterable[tuple[str, str]] = (),
    credentialed: bool | None = None,
) -> Iterator[Document]:
    """JSONL/CSV/TSV/parquet (CSV/TSV/JSONL also gzipped) with one document per row.

    MIMIC-IV-Note tables are recognised by their columns: they are marked credentialed, `note_id` is the id, and
    `note_type` picks the kind (DS/AD discharge → clinical_record, RR/AR → radiology) unless --kind says otherwise.
    `where` keeps only rows whose columns equal the given values (e.g. note_type=DS).
    """
    conditions = list(where)
    count = matched = 0
    mimic: bool | None = None
    for index, row in enumerate(_table_rows(path)):
        if mimic is None:
            mimic = is_mimic_iv_note(row)
            missing = [c for c, _ in conditions if c not in row]
            if missing:
                raise InputError(
                    f"{path} has no column {missing[0]!r} for --where (columns: {', '.join(map(str, row))})."
                )
        count += 1
        if any(str(row[column]) != value for column, value in conditions):
            continue
        if text_column not in row:
            raise InputError(
                f"{path} has no column {text_column!r} (columns: {', '.join(map(str, row))}). Pass --text-column NAME."
            )
        id_key = "note_id" if mimic and id_column == "id" and "id" not in row else id_column
        doc_id = str(row[id_key]) if id_key and row.get(id_key) not in (None, "") else f"{path.stem}-{index}"
        row_kind = kind
        if mimic and (not kind or kind == "auto"):
            row_kind = MIMIC_IV_NOTE_KINDS.get(str(row.get("note_type", "")).upper(), kind)
        matched += 1
        yield _make(
            doc_id,
            str(row[text_column] or ""),
            row_kind,
            str(path),
            credentialed=bool(mimic) if credentialed is None else credentialed,
        )
    if count == 0:
        raise InputError(f"{path} holds no rows.")
    if matched == 0:
        what = " and ".join(f"{c}={v}" for c, v in conditions)
        raise InputError(f"{path}: no row has {what} (of {count} rows). Check the --where value.")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None


def _squad_articles(path: Path, data: Any) -> list[dict[str, Any]]:
    for _ in squad_paragraphs(data, str(path), InputError):  # checks the whole shape before any document is made
        pass
    return data["data"]


def is_radqa(articles: list[dict[str, Any]]) -> bool:
    """RadQA: each report's paragraphs carry document ids ending in _O (report body) and _I (impression)."""
    ids = [str(p.get("document_id", "")) for a in articles[:20] for p in a["paragraphs"]]
    return bool(ids) and all(i.endswith(("_O", "_I")) for i in ids)


def read_squad(path: Path, *, kind: str | None = None, credentialed: bool | None = None) -> Iterator[Document]:
    """SQuAD v1/v2, RadQA and MIMIC-QA JSON: one document per report/article, gold questions ignored."""
    articles = _squad_articles(path, _load_json(path))
    if not articles:
        raise InputError(f"{path} holds no articles.")
    if is_radqa(articles):
        for article in articles:
            sections = []
            for paragraph in article["paragraphs"]:
                name = "impression" if str(paragraph["document_id"]).endswith("_I") else "report"
                if paragraph["context"].strip():
                    sections.append(Section(name, paragraph["context"]))
            report_id = str(article.get("title") or str(article["paragraphs"][0]["document_id"])[:-2])
            yield Document(
                id=report_id,
                kind=_check_kind(kind) if kind and kind != "auto" else "radiology",
                sections=tuple(sections),
                title=report_id,
                source=str(path),
                credentialed=True if credentialed is None else credentialed,
            )
        return
    mimic_like = all(
        c.islower() or not c.isalpha() for a in articles[:3] for p in a["paragraphs"][:1] for c in p["context"][:2000]
    )
    seen: set[str] = set()
    for a_index, article in enumerate(articles):
        for p_index, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            if context in seen:
                continue
            seen.add(context)
            doc_id = str(
                paragraph.get("document_id")
                or (article.get("title") or f"doc{a_index}") + (f"-{p_index}" if p_index else "")
            )
            yield _make(
                doc_id,
                context,
                kind or ("clinical_record" if mimic_like else None),
                str(path),
                title=str(article.get("title") or doc_id),
                credentialed=mimic_like if credentialed is None else credentialed,
            )


def read_hf_dataset(
    name: str, *, split: str = "train", text_column: str = "text", id_column: str | None = "id", kind: str | None = None
) -> Iterator[Document]:
    """A Hugging Face dataset (saved folder or Hub name), streamed."""
    import datasets

    try:
        if Path(name).is_dir() and (Path(name) / "dataset_info.json").exists():
            dataset: Iterable[dict[str, Any]] = datasets.load_from_disk(name)
            if isinstance(dataset, datasets.DatasetDict):
                dataset = dataset[split]
        else:
            dataset = datasets.load_dataset(name, split=split, streaming=True)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; all mean "cannot load"
        raise InputError(f"could not load the dataset {name!r} split {split!r}: {exc}") from None
    for index, row in enumerate(dataset):
        if text_column not in row:
            raise InputError(f"dataset {name!r} has no column {text_column!r}; pass --text-column.")
        doc_id = str(row[id_column]) if id_column and row.get(id_column) is not None else f"{index}"
        yield _make(doc_id, str(row[text_column] or ""), kind, name)


def read_documents(
    source: str | Path,
    *,
    kind: str | None = None,
    text_column: str = "text",
    id_column: str | None = "id",
    split: str = "train",
    credentialed: bool | None = None,
    where: Iterable[tuple[str, str]] = (),
) -> Iterator[Document]:
    """Dispatch on what `source` is: folder, table, SQuAD-style JSON or an HF dataset name.

    `credentialed=True` marks every document as under a data-use agreement (`--credentialed`); None lets the
    reader decide (RadQA, MIMIC-QA and MIMIC-IV-Note are recognised).
    """
    for document in _read_any(
        source,
        kind=kind,
        text_column=text_column,
        id_column=id_column,
        split=split,
        credentialed=credentialed,
        where=where,
    ):
        yield replace(document, credentialed=True) if credentialed and not document.credentialed else document


def _read_any(
    source: str | Path,
    *,
    kind: str | None,
    text_column: str,
    id_column: str | None,
    split: str,
    credentialed: bool | None,
    where: Iterable[tuple[str, str]],
) -> Iterator[Document]:
    path = Path(source)
    if path.is_dir():
        if (path / "dataset_info.json").exists():
            yield from read_hf_dataset(str(path), split=split, text_column=text_column, id_column=id_column, kind=kind)
        else:
            yield from read_text_folder(path, kind)
        return
    if path.is_file():
        if path.stat().st_size == 0:
            raise InputError(f"{path} is empty.")
        suffix = table_suffix(path)
        if where and suffix not in TABLE_SUFFIXES:
            raise InputError(f"--where filters the rows of a table (.csv/.tsv/.jsonl/.parquet); {path} is not one.")
        if suffix == ".json":
            yield from read_squad(path, kind=kind, credentialed=credentialed)
        elif suffix in TABLE_SUFFIXES:
            yield from read_table(
                path, text_column=text_column, id_column=id_column, kind=kind, where=where, credentialed=credentialed
            )
        elif suffix in TEXT_SUFFIXES:
            yield _make(path.stem, _read_text(path), kind, str(path), credentialed=bool(credentialed))
        else:
            raise InputError(
                f"{path}: unsupported file type {suffix!r}; use .txt/.md, .jsonl, .csv(.gz), .parquet or .json."
            )
        return
    if "/" in str(source) and not str(source).startswith((".", "/")):
        yield from read_hf_dataset(str(source), split=split, text_column=text_column, id_column=id_column, kind=kind)
        return
    raise InputError(f"{source} does not exist. Pass a folder of notes, a data file or an HF dataset name.")
