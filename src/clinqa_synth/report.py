"""`clinqa-synth report OUT`: how hard, varied and efficient each generated config is, side by side.

Markdown plus PNG plots (matplotlib): question–context word overlap (content words, stopwords
removed), share of zero-overlap questions, interrogative distribution, question length,
answerable/unanswerable share, the yield funnel with drop reasons, tokens per kept pair, duplicate
rate, and — when experiment results exist — the QA score table (EM/F1/RO mean ± sd).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from clinqa_synth.dataset.folder import AUDIT_FILE, DatasetFolder
from clinqa_synth.errors import ClinqaError
from clinqa_synth.pipeline.steps import FUNNEL_STEPS
from clinqa_synth.text import words

INTERROGATIVES = (
    "is",
    "are",
    "does",
    "do",
    "has",
    "have",
    "was",
    "were",
    "can",
    "which",
    "what",
    "how",
    "where",
    "when",
    "why",
    "who",
)
FUNNEL = FUNNEL_STEPS


@dataclass
class ConfigReport:
    name: str
    rows: int = 0
    answerable: int = 0
    overlaps: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    interrogatives: Counter = field(default_factory=Counter)
    duplicates: int = 0
    funnel: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    completion_tokens: int = 0
    method: str = ""
    generator: str = ""  # the model that wrote the questions and answers
    precision: str = "–"  # answerable precision from a scored audit, where one exists

    @property
    def zero_overlap_pct(self) -> float:
        return 100 * sum(1 for o in self.overlaps if o == 0) / len(self.overlaps) if self.overlaps else 0.0

    @property
    def mean_overlap(self) -> float:
        return sum(self.overlaps) / len(self.overlaps) if self.overlaps else 0.0

    @property
    def answerable_pct(self) -> float:
        return 100 * self.answerable / self.rows if self.rows else 0.0

    @property
    def duplicate_pct(self) -> float:
        return 100 * self.duplicates / self.rows if self.rows else 0.0

    @property
    def tokens_per_pair(self) -> float | None:
        return self.completion_tokens / self.rows if self.rows and self.completion_tokens else None

    @property
    def mean_length(self) -> float:
        return sum(self.lengths) / len(self.lengths) if self.lengths else 0.0


def interrogative(question: str) -> str:
    tokens = words(question)
    return tokens[0] if tokens and tokens[0] in INTERROGATIVES else "other"


def analyse_config(root: Path, name: str, generation: dict[str, Any]) -> ConfigReport:
    report = ConfigReport(name)
    seen: dict[str, set[str]] = {}
    for path in sorted((root / name).glob("*-*.parquet")):
        table = pq.read_table(
            path, columns=["question", "is_impossible", "question_context_overlap", "section", "document_id"]
        )
        for question, impossible, overlap, document in zip(
            table.column("question").to_pylist(),
            table.column("is_impossible").to_pylist(),
            table.column("question_context_overlap").to_pylist(),
            table.column("document_id").to_pylist(),
        ):
            report.rows += 1
            report.answerable += 0 if impossible else 1
            report.overlaps.append(float(overlap))
            report.lengths.append(len(words(question)))
            report.interrogatives[interrogative(question)] += 1
            seen.setdefault(re.sub(r"\W+", " ", question.lower()).strip(), set()).add(document)
    # The same question on the sections of one report is by design (one pair per section); a duplicate is
    # the same question asked of different documents: a generic, template-like question.
    report.duplicates = sum(len(documents) - 1 for documents in seen.values() if len(documents) > 1)
    report.funnel = {k: int(generation.get("funnel", {}).get(k, 0)) for k in FUNNEL}
    report.drops = {k: int(v) for k, v in generation.get("drops", {}).items() if v}
    usage = generation.get("llm_usage", {})
    report.completion_tokens = int(usage.get("completion_tokens", 0)) + int(usage.get("cached_completion_tokens", 0))
    report.method = str(generation.get("method", {}).get("name", name))
    report.generator = str(generation.get("llm", {}).get("model", "?"))
    audit = root / name / AUDIT_FILE
    if audit.is_file():
        answerable = json.loads(audit.read_text(encoding="utf-8")).get("answerable", {})
        if answerable.get("labelled"):
            report.precision = f"{answerable['precision']:.2f} (n={answerable['labelled']})"
    return report


def find_experiment_tables(root: Path, extra: list[Path] | None = None) -> list[Path]:
    found = sorted(root.glob("experiments/*/results.json")) + [p for p in (extra or []) if p.exists()]
    return found


def _plots(reports: list[ConfigReport], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in reports]
    files: list[str] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)

    fig, ax = plt.subplots(figsize=(7, 4))
    bins = [i / 10 for i in range(11)]
    for r in reports:
        ax.hist(r.overlaps, bins=bins, alpha=0.5, label=r.name, density=True)
    ax.set(xlabel="question–context overlap (share of content words)", ylabel="density", title="Lexical overlap")
    ax.legend()
    save(fig, "overlap.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [w for w in INTERROGATIVES + ("other",) if any(r.interrogatives.get(w) for r in reports)]
    width = 0.8 / max(len(reports), 1)
    for i, r in enumerate(reports):
        total = max(r.rows, 1)
        ax.bar(
            [x + i * width for x in range(len(labels))],
            [100 * r.interrogatives.get(w, 0) / total for w in labels],
            width=width,
            label=r.name,
        )
    ax.set_xticks([x + width * (len(reports) - 1) / 2 for x in range(len(labels))], labels)
    ax.set(ylabel="% of questions", title="First word of the question")
    ax.legend()
    save(fig, "interrogatives.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot([r.lengths or [0] for r in reports], tick_labels=names)
    ax.set(ylabel="words", title="Question length")
    save(fig, "question_length.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(names, [r.answerable_pct for r in reports], label="answerable")
    ax.bar(
        names,
        [100 - r.answerable_pct for r in reports],
        bottom=[r.answerable_pct for r in reports],
        label="unanswerable",
    )
    ax.set(ylabel="% of kept pairs", title="Answerable vs unanswerable")
    ax.legend()
    save(fig, "answerable.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in reports:
        ax.plot(list(FUNNEL), [r.funnel.get(k, 0) for k in FUNNEL], marker="o", label=r.name)
    ax.set(ylabel="QA pairs", title="Yield funnel")
    ax.legend()
    save(fig, "funnel.png")
    return files


def _table(reports: list[ConfigReport]) -> str:
    lines = [
        "| config | generator model | pairs | answerable | mean overlap | zero-overlap | question words "
        "| repeated across documents | tokens / kept pair |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        tokens = f"{r.tokens_per_pair:.0f}" if r.tokens_per_pair is not None else "–"
        lines.append(
            f"| `{r.name}` | `{r.generator}` | {r.rows} | {r.answerable_pct:.1f}% | {r.mean_overlap:.3f} "
            f"| {r.zero_overlap_pct:.1f}% | "
            f"{r.mean_length:.1f} | {r.duplicate_pct:.1f}% | {tokens} |"
        )
    return "\n".join(lines)


def _generator_table(reports: list[ConfigReport]) -> str:
    """Methods run with more than one generator model, side by side (empty when there are none)."""
    by_method: dict[str, list[ConfigReport]] = {}
    for r in reports:
        by_method.setdefault(r.method, []).append(r)
    compared = {m: rs for m, rs in by_method.items() if len({r.generator for r in rs}) > 1}
    if not compared:
        return ""
    lines = [
        "| method | generator model | config | pairs | answerable | mean overlap | zero-overlap | "
        "precision (audit) | tokens / kept pair |",
        "|---|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for method, rs in sorted(compared.items()):
        for r in sorted(rs, key=lambda r: r.generator):
            tokens = f"{r.tokens_per_pair:.0f}" if r.tokens_per_pair is not None else "–"
            lines.append(
                f"| {method} | `{r.generator}` | `{r.name}` | {r.rows} | {r.answerable_pct:.1f}% | "
                f"{r.mean_overlap:.3f} | {r.zero_overlap_pct:.1f}% | {r.precision} | {tokens} |"
            )
    return "\n".join(lines)


def _funnel_table(reports: list[ConfigReport]) -> str:
    lines = ["| config | " + " | ".join(FUNNEL) + " | drops |", "|---|" + "---:|" * len(FUNNEL) + "---|"]
    for r in reports:
        drops = ", ".join(f"{k} {v}" for k, v in sorted(r.drops.items())) or "none"
        lines.append(f"| `{r.name}` | " + " | ".join(str(r.funnel.get(k, 0)) for k in FUNNEL) + f" | {drops} |")
    return "\n".join(lines)


def experiment_table(folder: DatasetFolder, data: dict[str, Any]) -> str:
    """An experiment's scores beside what each training set cost to make — the paper's table, with its price.

    Training sets that are configs of this folder (their `dataset_name` is the folder) get the generation facts
    from its generation.json (pairs, mean question overlap, completion tokens and wall time of producing the rows,
    audit precision where scored); others (gold files) show scores only.
    """
    from clinqa_synth.qa.experiment import REPORTED, SPLITS, score_cell

    generations = folder.configs()
    root = folder.root.resolve()
    table = data.get("table", {})
    splits = [(key, label) for key, label in SPLITS if any(key in m for m in table.values())]
    lines = [
        "| training set | EM | F1 | RO | " + " | ".join(label for _, label in splits) + " | pairs | mean overlap "
        "| completion tokens | generation time | precision (audit) |",
        "|---|" + "---:|" * (3 + len(splits)) + "---:|---:|---:|---:|---|",
    ]
    seeds = data.get("config", {}).get("seeds", [])  # a table without its runs: one run per seed, as it says
    for training in data.get("config", {}).get("training_sets", []):
        name = training["name"]
        metrics = table.get(name, {})
        runs = len(data["runs"][name]) if name in data.get("runs", {}) else len(seeds)
        cells = [score_cell(metrics[m], runs) if m in metrics else "–" for m in REPORTED]
        cells += [score_cell(metrics[k], runs) if k in metrics else "–" for k, _ in splits]
        config = training.get("dataset_config_name")
        source = training.get("dataset_name")
        generation = generations.get(config) if config and source and Path(source).resolve() == root else None
        if generation is not None:
            report = analyse_config(folder.root, config, generation)
            production = generation.get("production") or {}
            tokens = production.get("completion_tokens", generation.get("llm_usage", {}).get("completion_tokens"))
            wall = production.get("wall_s", generation.get("wall_s"))
            cells += [
                str(report.rows),
                f"{report.mean_overlap:.3f}",
                str(tokens or "–"),
                f"{wall / 60:.0f} min" if wall else "–",
                report.precision,
            ]
        else:
            cells += ["–"] * 5
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _experiment_plot(name: str, data: dict[str, Any], out: Path) -> str:
    """F1 and RO (mean ± sd over seeds) per training set, as bars: the result at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = data.get("table", {})
    sets = [t["name"] for t in data.get("config", {}).get("training_sets", []) if t["name"] in table]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.38
    for offset, metric in ((-width / 2, "f1"), (width / 2, "ro")):
        means = [table[s].get(metric, [0, 0])[0] for s in sets]
        sds = [table[s].get(metric, [0, 0])[1] for s in sets]
        ax.bar([i + offset for i in range(len(sets))], means, width, yerr=sds, capsize=3, label=metric.upper())
    ax.set_xticks(range(len(sets)), sets, rotation=15)
    ax.set(ylabel="score (mean ± sd over seeds)", title=f"QA model trained on each set: {name}")
    ax.legend()
    fig.tight_layout()
    file = f"experiment-{re.sub(r'[^A-Za-z0-9_-]+', '_', name)}.png"
    fig.savefig(out / file, dpi=110)
    plt.close(fig)
    return file


def build_report(out: str | Path, *, experiments: list[Path] | None = None) -> Path:
    """Write `<out>/report/report.md` and plots, and refresh the card with the headline table."""
    from clinqa_synth.dataset.card import write_card

    folder = DatasetFolder(out)
    generations = folder.configs()
    if not generations:
        raise ClinqaError(f"{out} holds no generated configs; run `clinqa-synth generate` first")
    reports = [analyse_config(folder.root, name, generation) for name, generation in generations.items()]
    report_dir = folder.root / "report"
    report_dir.mkdir(exist_ok=True)
    plots = _plots(reports, report_dir)
    headline = _table(reports)
    sections = [
        "# clinqa-synth report",
        "",
        "## Difficulty and yield per config",
        "",
        headline,
        "",
        "Overlap: share of a question's content words (stopwords removed) found in its context. "
        "Zero-overlap questions cannot be answered by string matching.",
        "",
        "## Yield funnel",
        "",
        _funnel_table(reports),
        "",
    ]
    generators = _generator_table(reports)
    if generators:
        sections += [
            "## Generator models compared",
            "",
            generators,
            "",
            "Configs of one method made by different models (`generate --name '{method}@MODEL'`).",
            "",
        ]
    score_tables = []
    for path in find_experiment_tables(folder.root, experiments):
        from clinqa_synth.qa.experiment import markdown_table

        data = json.loads(path.read_text())
        table = {name: {m: tuple(v) for m, v in metrics.items()} for name, metrics in data.get("table", {}).items()}
        plot = _experiment_plot(path.parent.name, data, report_dir)
        plots.append(plot)
        score_tables.append(
            f"### {path.parent.name}\n\n"
            + experiment_table(folder, data)
            + "\n\n"
            + markdown_table(
                table, data["config"]["seeds"], scored_on_dev=data["config"].get("test_file") is None
            ).splitlines()[-1]
            + f"\n\n![{plot}]({plot})\n"
        )
    if score_tables:
        sections += ["## QA scores (EM / F1 / RO, mean ± sd)", "", *score_tables]
    sections += ["## Plots", ""] + [f"![{p}]({p})" for p in plots]
    (report_dir / "report.md").write_text("\n".join(sections) + "\n", encoding="utf-8")
    card_table = (
        headline
        + "\n\nPlots: "
        + ", ".join(f"[{p}](report/{p})" for p in plots)
        + " · full report: [report/report.md](report/report.md)"
    )
    if score_tables:
        card_table += "\n\n" + "\n".join(score_tables)
    write_card(folder, report_table=card_table)
    return report_dir / "report.md"
