"""The dataset card (the folder's README.md): YAML metadata with the `configs:` block, then a card a reviewer trusts.

The card is always recomputed from what is on disk (parquet files and each config's
generation.json), so adding a config, merging shards or re-running a config keeps it true.
It never contains an endpoint URL or a credential: only the endpoint *kind* is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import jinja2
import pyarrow.parquet as pq
from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

from clinqa_synth import __version__
from clinqa_synth.dataset.folder import AUDIT_FILE, MARKER_TAG, SPLITS, DatasetFolder, atomic_write_text
from clinqa_synth.squad import qa_features
from clinqa_synth.templates_loader import load_template


def size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "n>1M"


def config_statistics(folder: Path, config: str) -> dict[str, Any]:
    """Row counts and difficulty numbers for one config, read from its parquet files."""
    counts = {split: 0 for split in SPLITS}
    answerable = 0
    overlaps: list[float] = []
    for path in sorted((folder / config).glob("*-*.parquet")):
        split = path.name.split("-", 1)[0]
        table = pq.read_table(path, columns=["is_impossible", "question_context_overlap"])
        counts[split] = counts.get(split, 0) + table.num_rows
        answerable += sum(1 for v in table.column("is_impossible").to_pylist() if not v)
        overlaps += [float(v) for v in table.column("question_context_overlap").to_pylist()]
    total = sum(counts.values())
    return {
        **counts,
        "total": total,
        "answerable_pct": round(100 * answerable / total, 1) if total else 0.0,
        "unanswerable_pct": round(100 * (total - answerable) / total, 1) if total else 0.0,
        "mean_overlap": round(sum(overlaps) / len(overlaps), 3) if overlaps else 0.0,
        "zero_overlap_pct": round(100 * sum(1 for o in overlaps if o == 0) / len(overlaps), 1) if overlaps else 0.0,
    }


def loadable_configs(stats: dict[str, dict[str, Any]]) -> list[str]:
    """The configs `load_dataset` can load: those with rows. `datasets` cannot load a split without rows (it fails
    deep in its parquet reader), so a config that kept no pair stays on disk, described, but out of `configs:`."""
    return [name for name, s in stats.items() if s["total"]]


def card_metadata(
    folder: DatasetFolder, generations: dict[str, dict[str, Any]], stats: dict[str, dict[str, Any]], license_id: str
) -> DatasetCardData:
    total = sum(s["total"] for s in stats.values())
    data = DatasetCardData(
        language=["en"],
        license=license_id,
        task_categories=["question-answering"],
        task_ids=["extractive-qa"],
        size_categories=[size_category(total)],
        tags=[MARKER_TAG, "clinical", "medical", "synthetic", "squad_v2"],
        pretty_name="clinqa-synth synthetic clinical QA",
    )
    features = qa_features()
    infos = {}
    configs = {}
    for name in loadable_configs(stats):
        splits = {s: stats[name][s] for s in SPLITS if stats[name].get(s) or s == "train"}
        sizes = {s: _split_bytes(folder, name, s) for s in splits}
        infos[name] = DatasetInfo(
            features=features,
            config_name=name,
            splits=datasets.SplitDict(
                {s: datasets.SplitInfo(s, num_bytes=sizes[s], num_examples=n) for s, n in splits.items()}
            ),
            download_size=sum(_split_bytes(folder, name, s, compressed=True) for s in splits),
            dataset_size=sum(sizes.values()),
        )
        files = folder.data_files(name)
        configs[name] = {"data_files": [{"split": s, "path": files.get(s, [f"{name}/{s}-*.parquet"])} for s in splits]}
    DatasetInfosDict(infos).to_dataset_card_data(data)
    MetadataConfigs(configs).to_dataset_card_data(data)
    return data


def _split_bytes(folder: DatasetFolder, config: str, split: str, *, compressed: bool = False) -> int:
    """A split's size as `dataset_info` means it: uncompressed Arrow bytes (or the parquet files' size on disk)."""
    total = 0
    for relative in folder.data_files(config).get(split, []):
        path = folder.root / relative
        if compressed:
            total += path.stat().st_size
        else:
            metadata = pq.ParquetFile(path).metadata
            total += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    return total


def _audits(root: Path, generations: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Config → its scored audit (audit.json, written by `clinqa-synth audit --score`), where one exists."""
    found = {}
    for name in generations:
        path = root / name / AUDIT_FILE
        if path.is_file():
            found[name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def render_card(folder: DatasetFolder, *, report_table: str = "", repo_hint: str | None = None) -> str:
    generations = folder.configs()
    stats = {
        name: {
            **config_statistics(folder.root, name),
            "description": g["method"]["description"],
            "generator": g.get("llm", {}).get("model", "?"),
        }
        for name, g in generations.items()
    }
    licenses = {g.get("license") for g in generations.values()} - {None}
    license_id = licenses.pop() if len(licenses) == 1 else "other"
    metadata = card_metadata(folder, generations, stats, license_id)
    loadable = loadable_configs(stats)
    template = jinja2.Template(load_template("dataset_card.md"), undefined=jinja2.StrictUndefined)
    return (
        template.render(
            yaml_header="---\n" + metadata.to_yaml() + "\n---",
            title=f"Synthetic clinical QA ({', '.join(generations) or 'no configs yet'})",
            package_version=__version__,
            credentialed=folder.credentialed,
            configs=loadable,
            empty_configs=[name for name in generations if name not in loadable],
            # never a local path (it can hold a user name): the Hub repo after `push`, the folder's own name before
            repo_hint=repo_hint or folder.root.resolve().name,
            stats=stats,
            generations=generations,
            report_table=report_table,
            audits=_audits(folder.root, generations),
            license=license_id
            if license_id != "other"
            else "Set by the data owner: inherits the licence of the source documents.",
        ).rstrip()
        + "\n"
    )


def write_card(folder: DatasetFolder, **kwargs: Any) -> Path:
    path = folder.root / "README.md"
    atomic_write_text(path, render_card(folder, **kwargs))
    return path
