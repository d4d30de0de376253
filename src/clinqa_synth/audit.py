"""The review loop: a sample of kept pairs for a person to label, and precision measured from their labels.

A green test suite says nothing about whether a synthetic answer is right, and the paper's own conclusion is
that answer quality is what separates synthetic from gold data. So every dataset can be audited:

- `clinqa-synth audit OUT --sample 50` writes a self-contained review sheet (HTML: each question with its
  answer highlighted in its section, a label menu per pair and a button that saves labels.csv; plus the same
  rows as CSV for a spreadsheet);
- `clinqa-synth audit OUT --score labels.csv` computes precision — the share labelled `correct` — for kept
  answerable and kept unanswerable pairs, with a 95 % Wilson interval, writes `OUT/<config>/audit.json` and
  rewrites the card, which then shows the measured precision beside the measured difficulty.

The labels and what each means are in docs/audit/guide.md (one page).
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pyarrow.parquet as pq

from clinqa_synth.dataset.folder import AUDIT_FILE, DROPS_AUDIT_FILE
from clinqa_synth.errors import ClinqaError
from clinqa_synth.templates_loader import load_template

LABELS = ("correct", "wrong_span", "should_be_unanswerable", "answerable_marked_unanswerable", "bad_question")
SHEET_COLUMNS = ("id", "config", "document_id", "section", "question", "answer", "is_impossible", "label", "note")


class AuditError(ClinqaError):
    """A dataset folder or a labels file that cannot be audited."""


def read_rows(out: Path, config: str) -> list[dict[str, Any]]:
    """Every kept row of one config (all splits), straight from its parquet files."""
    paths = sorted((Path(out) / config).glob("*-*.parquet"))
    if not paths:
        raise AuditError(
            f"{out}/{config} has no parquet files: generate it first (clinqa-synth generate "
            f"--config {config} --out {out})"
        )
    rows: list[dict[str, Any]] = []
    for path in paths:
        rows += pq.read_table(path).to_pylist()
    return rows


def read_dropped(out: Path, config: str) -> list[dict[str, Any]]:
    """The placed pairs a check or round-trip verification dropped for one config (its dropped_pairs.jsonl)."""
    from clinqa_synth.dataset.folder import DROPPED_PAIRS_FILE

    path = Path(out) / config / DROPPED_PAIRS_FILE
    if not path.is_file():
        raise AuditError(
            f"{out}/{config} has no {DROPPED_PAIRS_FILE}: no placed pair was dropped there, or the config "
            "ran without checks or before clinqa-synth recorded drops (re-run it: the cache makes that cheap)"
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def configs_in(out: Path) -> list[str]:
    found = sorted(p.parent.name for p in Path(out).glob("*/generation.json"))
    if not found:
        raise AuditError(f"{out} holds no generated config (no */generation.json): is it a clinqa-synth folder?")
    return found


def sample_rows(rows: list[dict[str, Any]], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` rows drawn at random (seeded, so a sheet can be drawn again), in document order for reading."""
    chosen = random.Random(seed).sample(rows, min(n, len(rows)))
    return sorted(chosen, key=lambda r: (r["document_id"], r["section"], r["id"]))


def _answer(row: dict[str, Any]) -> str:
    return "" if row["is_impossible"] else row["answers"]["text"][0]


def _highlighted(row: dict[str, Any]) -> tuple[str, str, str]:
    """The section as (before, answer, after), so the sheet can mark the span without touching the text."""
    context = row["context"]
    if row["is_impossible"]:
        return context, "", ""
    start = row["answers"]["answer_start"][0]
    end = start + len(row["answers"]["text"][0])
    return context[:start], context[start:end], context[end:]


def write_sheet(out: Path, rows_by_config: dict[str, list[dict[str, Any]]], dest: Path) -> tuple[Path, Path]:
    """review.html and review.csv in `dest`, one item per sampled row, labels empty."""
    dest.mkdir(parents=True, exist_ok=True)
    items = []
    for config, rows in rows_by_config.items():
        for row in rows:
            before, span, after = _highlighted(row)
            items.append(
                {"config": config, "row": row, "answer": _answer(row), "before": before, "span": span, "after": after}
            )
    template = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
        load_template("audit_sheet.html")
    )
    html_path = dest / "review.html"
    html_path.write_text(
        template.render(items=items, labels=LABELS, columns=SHEET_COLUMNS, folder=str(out)), encoding="utf-8"
    )
    csv_path = dest / "review.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        for item in items:
            row = item["row"]
            writer.writerow(
                {
                    "id": row["id"],
                    "config": item["config"],
                    "document_id": row["document_id"],
                    "section": row["section"],
                    "question": row["question"],
                    "answer": item["answer"],
                    "is_impossible": row["is_impossible"],
                    "label": "",
                    "note": "",
                }
            )
    return html_path, csv_path


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion: sensible at small n and at 0 % or 100 %, unlike p ± 2·se."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Precision:
    labelled: int
    correct: int

    def as_dict(self) -> dict[str, Any]:
        low, high = wilson_interval(self.correct, self.labelled)
        return {
            "labelled": self.labelled,
            "correct": self.correct,
            "precision": round(self.correct / self.labelled, 3) if self.labelled else None,
            "ci95": [round(low, 3), round(high, 3)],
        }


def read_labels(path: Path) -> list[dict[str, str]]:
    """Labelled rows (id, config, is_impossible, label…); one clear error for a wrong column or label."""
    if not Path(path).is_file():
        raise AuditError(f"labels file {path} does not exist: fill in the review sheet's label column first")
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"id", "label", "is_impossible"} - set(rows[0] if rows else {})
    if missing:
        raise AuditError(
            f"{path} lacks the column(s) {', '.join(sorted(missing))}: use the review.csv that "
            "`clinqa-synth audit OUT --sample N` wrote (or the HTML sheet's saved labels.csv)"
        )
    labelled = [r for r in rows if r["label"].strip()]
    for number, row in enumerate(labelled, 2):
        if row["label"].strip() not in LABELS:
            raise AuditError(f"{path} line {number}: unknown label {row['label']!r}; use one of {', '.join(LABELS)}")
    if not labelled:
        raise AuditError(f"{path} has no labels yet: fill the label column ({', '.join(LABELS)})")
    return labelled


def score(labelled: list[dict[str, str]]) -> dict[str, Any]:
    """Precision of kept answerable and kept unanswerable pairs, and how the wrong ones were wrong."""

    def precision(rows: list[dict[str, str]]) -> dict[str, Any]:
        return Precision(len(rows), sum(r["label"].strip() == "correct" for r in rows)).as_dict()

    unanswerable = [r for r in labelled if r["is_impossible"].strip().lower() in ("true", "1", "yes")]
    answerable = [r for r in labelled if r not in unanswerable]
    counts = {label: sum(r["label"].strip() == label for r in labelled) for label in LABELS}
    return {
        "answerable": precision(answerable),
        "unanswerable": precision(unanswerable),
        "all": precision(labelled),
        "labels": counts,
    }


def _labelled_per_config(
    labelled: list[dict[str, str]], ids_of: Callable[[str], set[str]], stale_fix: str
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The labelled rows of each config, after checking every labelled id still names a row (`ids_of(config)`)."""
    for config in sorted({r.get("config") or "" for r in labelled}):
        rows = [r for r in labelled if (r.get("config") or "") == config]
        known = ids_of(config)
        stale = [r["id"] for r in rows if r["id"] not in known]
        if stale:
            raise AuditError(f"{len(stale)} labelled id(s) of {config} (e.g. {stale[0]}) {stale_fix}")
        yield config, rows


def score_dropped(out: Path, labels_path: Path) -> dict[str, dict[str, Any]]:
    """Label a sample of dropped pairs, learn how many right pairs the checks and verification threw away.

    Here `correct` means the dropped pair was right — a loss, not a catch — so the share labelled correct is the
    rate of wrongful drops, per drop reason too. Writes OUT/<config>/audit_dropped.json.
    """
    from clinqa_synth.dataset.folder import atomic_write_text

    reasons: dict[str, str] = {}  # dropped pair id → why a check or verification dropped it

    def dropped_ids(config: str) -> set[str]:
        found = {row["id"]: row["drop_reason"] for row in read_dropped(out, config)}
        reasons.update(found)
        return set(found)

    results: dict[str, dict[str, Any]] = {}
    for config, rows in _labelled_per_config(
        read_labels(labels_path),
        dropped_ids,
        "are not among its dropped pairs; label a sheet drawn with `clinqa-synth audit OUT --dropped`",
    ):
        by_reason: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            by_reason.setdefault(reasons[row["id"]], []).append(row)
        results[config] = {
            "wrongly_dropped": Precision(len(rows), sum(r["label"].strip() == "correct" for r in rows)).as_dict(),
            "by_reason": {
                reason: Precision(len(group), sum(r["label"].strip() == "correct" for r in group)).as_dict()
                for reason, group in sorted(by_reason.items())
            },
            "labels": score(rows)["labels"],
            "labels_file": Path(labels_path).name,
        }
        atomic_write_text(Path(out) / config / DROPS_AUDIT_FILE, json.dumps(results[config], indent=2) + "\n")
    return results


def score_folder(out: Path, labels_path: Path) -> dict[str, dict[str, Any]]:
    """Score each config found in the labels; write OUT/<config>/audit.json and refresh the card."""
    from clinqa_synth.dataset.card import write_card
    from clinqa_synth.dataset.folder import DatasetFolder, atomic_write_text

    known = set(configs_in(out))

    def kept_ids(config: str) -> set[str]:
        if config not in known:
            raise AuditError(f"labels name config {config!r}, which {out} does not hold ({', '.join(sorted(known))})")
        return {row["id"] for row in read_rows(out, config)}

    results: dict[str, dict[str, Any]] = {}
    for config, rows in _labelled_per_config(
        read_labels(labels_path),
        kept_ids,
        f"are not in {out}: the config was regenerated after the sheet was drawn; draw a new sheet",
    ):
        results[config] = {**score(rows), "labels_file": Path(labels_path).name}
        atomic_write_text(Path(out) / config / AUDIT_FILE, json.dumps(results[config], indent=2) + "\n")
    write_card(DatasetFolder(out))
    return results
