"""The `clinqa-synth` command line: thin wrappers around the library, one sub-command per job.

Every error the library raises for a user mistake is an `LLMError`/`ClinqaError` whose message
names the problem and the fix; the CLI prints that one message (never a traceback) and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.text import Text

from clinqa_synth import __version__
from clinqa_synth.console import console
from clinqa_synth.documents.shaping import samples_dir
from clinqa_synth.errors import ClinqaError
from clinqa_synth.llm.protocol import LLMError
from clinqa_synth.options import add_arguments, from_args


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that talks to an LLM: the fields of LLMSettings."""
    from clinqa_synth.llm.session import LLMSettings

    add_arguments(parser.add_argument_group("LLM"), LLMSettings)


def llm_settings(args: argparse.Namespace) -> Any:
    from clinqa_synth.llm.session import LLMSettings

    return from_args(LLMSettings, args)


def cmd_chat(args: argparse.Namespace) -> int:
    """One-shot smoke test: send a prompt, print the answer and what it cost."""
    from clinqa_synth.llm.session import open_llm

    with open_llm(llm_settings(args)) as session:

        async def run() -> Any:
            try:
                return await session.chat.chat(
                    [{"role": "user", "content": args.prompt}],
                    temperature=args.temperature,
                    max_tokens=args.max_tokens,
                    seed=args.seed,
                )
            finally:
                await session.endpoint.aclose()

        completion = asyncio.run(run())
        print(completion.text)
        console.print(
            f"[dim]{session.endpoint_kind} · {session.model_id} · {json.dumps(session.accounting.summary())}[/dim]"
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the embedded server in the foreground for other tools to use."""
    from clinqa_synth.llm.models import resolve_model
    from clinqa_synth.llm.server import EmbeddedServer, ServerCrashedError
    from clinqa_synth.llm.session import default_server_log

    server = EmbeddedServer(
        resolve_model(args.model),
        runtime=args.runtime,
        n_ctx=args.n_ctx,
        parallel=args.parallel,
        port=args.port,
        log_path=args.server_log or default_server_log(),
    )
    restarted = False
    with server:
        console.print(
            f"[bold green]Serving[/bold green] {server.model_path.name} ({server.runtime}) at "
            f"{server.base_url}/v1 — Ctrl-C to stop (log: {server.log_path})"
        )
        try:
            while True:
                assert server.process is not None
                server.process.wait()
                status = server.exit_status()
                if status is None or status.returncode == 0:
                    return 0
                if status.is_build_problem or restarted:
                    raise ServerCrashedError(
                        status.message("again after a restart" if restarted else "while serving"), status
                    )
                console.print(Text(status.message(), style="yellow"), soft_wrap=True)  # a log tail is no markup
                console.print("restarting once…")
                server.stop()
                server.start()
                restarted = True
        except KeyboardInterrupt:
            console.print("stopping…")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check runtime, model, one completion and the cache; print a verdict with the fix for each failure."""
    from clinqa_synth.doctor import Check, run_doctor

    def report(check: Check) -> None:
        mark = ("ok  ", "green") if check.ok else ("FAIL", "red")
        console.print(Text.assemble(mark, f" {check.name:<10} {check.detail}"), soft_wrap=True)
        if check.fix:
            console.print(Text(f"     {'':<10} fix: {check.fix}"), soft_wrap=True)

    checks = run_doctor(args.model, args.cache_dir, report)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        console.print(f"[bold red]not ready[/bold red]: {', '.join(failed)} failed — see the fixes above")
        return 1
    console.print("[bold green]ready[/bold green]: clinqa-synth can generate on this machine")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List packaged models and whether they are installed/assembled; optionally assemble one."""
    from clinqa_synth.llm.models import DEFAULT_MODEL, PACKAGED_MODELS, ModelUnavailableError, assemble, packaged_parts

    for name, model in PACKAGED_MODELS.items():
        try:
            packaged_parts(model)
            state = "installed"
        except ModelUnavailableError:
            state = f"not installed (pip install 'clinqa-synth[{model.extra}]')"
        default = " [default]" if name == DEFAULT_MODEL else ""
        print(f"{name}{default}: {model.description} — {state}")
        if args.assemble and state == "installed":
            print(f"  -> {assemble(model)}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from clinqa_synth.llm.cache import CACHE_FILE, CompletionCache, default_cache_dir

    directory = args.cache_dir or default_cache_dir()
    if args.action == "clear":
        for suffix in ("", "-wal", "-shm"):
            (directory / (CACHE_FILE + suffix)).unlink(missing_ok=True)
        print(f"cleared {directory / CACHE_FILE}")
        return 0
    cache = CompletionCache(directory)
    print(f"{cache.path}: {len(cache)} completions")
    cache.close()
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Generate one or more configs into a dataset folder and print the run summary."""
    from clinqa_synth.pipeline.api import generate_to_folder

    if args.sample:
        source: Any = samples_dir(None if args.sample == "all" else args.sample)
        if args.sample == "all":
            source = [d for k in ("radiology", "clinical_record") for d in _read_samples(k)]
    elif args.input:
        source = args.input
    else:
        raise ClinqaError("pass --input PATH (folder, .jsonl/.csv/.parquet, SQuAD/RadQA JSON, HF dataset) or --sample")
    from clinqa_synth.pipeline.options import GenerationOptions

    configs = [c.strip() for c in ",".join(args.config or ["nooverlap_summary"]).split(",") if c.strip()]
    recipe_method = ""
    if args.recipe:
        from clinqa_synth.dataset.recipe import read_recipe
        from clinqa_synth.methods import load_method_file

        if args.config or args.prompts_dir or args.methods_dir:
            raise ClinqaError(
                "--recipe fixes the method and the prompts; leave out --config, --prompts and --methods-dir"
            )
        method_file, args.prompts_dir, recipe_name = read_recipe(args.recipe)
        configs = [str(method_file)]
        recipe_method = load_method_file(method_file).name
        args.name = args.name or recipe_name
    settings = llm_settings(args)
    options = from_args(GenerationOptions, args)
    if args.name and "{method}" not in args.name and len(configs) > 1:
        raise ClinqaError(
            f"--name {args.name!r} would give {len(configs)} configs one name; put {{method}} in it, "
            "e.g. --name '{method}@llama-3.1-70b'"
        )
    loadable = []
    for config in configs:
        name = args.name.replace("{method}", recipe_method or Path(config).stem) if args.name else None
        summary = generate_to_folder(source, config=config, out=args.out, llm=settings, options=options, name=name)
        print_summary(summary)
        if summary.kept:
            loadable.append(summary.config)
        else:
            console.print(
                f"[yellow]no pair of {config} was kept[/yellow]: the drops above say why; the config is "
                "recorded (generation.json, card) but `datasets` cannot load a split without rows"
            )
    if loadable:
        console.print(f"[green]done[/green] → load with datasets.load_dataset({str(args.out)!r}, {loadable[0]!r})")
    return 0


def _read_samples(kind: str) -> list[Any]:
    from clinqa_synth.documents.readers import read_documents

    return list(read_documents(samples_dir(kind), kind=kind))


def print_summary(summary: Any) -> None:
    from rich.table import Table

    table = Table(title=f"clinqa-synth generate · {summary.config}", show_header=False)
    limited = f" of {summary.whole_input} (--limit)" if summary.whole_input > summary.documents else ""
    table.add_row("documents", f"{summary.documents}{limited} ({sum(summary.failed.values())} failed)")
    from clinqa_synth.pipeline.hardening import REWRITE_PROBLEMS
    from clinqa_synth.pipeline.steps import FUNNEL_STEPS

    steps = [k for k in FUNNEL_STEPS if k != "verified" or summary.funnel.get(k)]
    funnel = " → ".join(f"{k} {summary.funnel.get(k, 0)}" for k in steps)
    if summary.funnel.get("requoted"):
        recovered = sum(n for k, n in summary.placements.items() if k.startswith("requote_"))
        funnel += f" (requoted {summary.funnel['requoted']}, recovered {recovered})"
    table.add_row("yield", funnel)
    table.add_row(
        "kept pairs", f"{summary.kept} ({summary.answerable} answerable, {summary.unanswerable} unanswerable)"
    )
    difficulty = summary.difficulty()
    if difficulty["mean_question_section_overlap"] is not None:
        median = difficulty["median_answer_words"]
        table.add_row(
            "difficulty",
            f"question overlap with section {difficulty['mean_question_section_overlap']:.2f}"
            f" (zero-overlap {difficulty['zero_overlap_share']:.0%}), with source "
            f"{difficulty['mean_question_source_overlap']:.2f}; median answer "
            f"{'–' if median is None else median} words",
        )
    if summary.hardening.get("hardened") or summary.hardening.get("rounds"):
        h = summary.hardening
        table.add_row(
            "hardening",
            f"{h.get('hardened', 0)} questions rewritten in {h.get('rounds', 0)} rounds; "
            f"{h.get('kept_hardened', 0)} kept hardened, {h.get('fell_back', 0)} fell back to the original "
            "(the verifier did not land on the same span)"
            + "".join(
                f"; {h[problem]} rewrites {phrase} and were not used"
                for problem, phrase in REWRITE_PROBLEMS.items()
                if h.get(problem)
            ),
        )
    for name, target in summary.targets().items():
        measured = "–" if target["measured"] is None else f"{target['measured']:.2f}"
        verdict = {True: "[green]met[/green]", False: "[yellow]missed[/yellow]", None: "not measured"}[target["met"]]
        table.add_row("target", f"{name} {target['target']}: measured {measured}, {verdict}")
    table.add_row("drops", ", ".join(f"{k} {v}" for k, v in summary.drops.items() if v) or "none")
    if summary.failed:
        table.add_row("failures", ", ".join(f"{k} {v}" for k, v in summary.failed.items()))
    usage = summary.llm_usage
    table.add_row(
        "LLM",
        f"{usage.get('calls', 0)} calls, {usage.get('cache_hits', 0)} cache hits, "
        f"{usage.get('retries', 0)} retries, {usage.get('prompt_tokens', 0)} prompt + "
        f"{usage.get('completion_tokens', 0)} completion tokens",
    )
    if usage.get("reasoning_tokens"):
        table.add_row(
            "reasoning",
            f"{usage['reasoning_tokens']} of the completion tokens were the model thinking "
            "before its answer (removed before parsing)",
        )
    for notice in summary.notices:
        table.add_row("server", notice)
    if usage.get("server_restarts"):
        table.add_row(
            "server",
            f"the embedded server crashed and was restarted {usage['server_restarts']} time(s); "
            "its log is in the cache directory (embedded-server.log)",
        )
    if summary.estimate and summary.whole_input > summary.documents:
        from clinqa_synth.pipeline.estimate import describe

        table.add_row("estimate", describe(summary.estimate))
    table.add_row("splits", ", ".join(f"{k} {v}" for k, v in summary.splits.items()))
    table.add_row("wall time", f"{summary.wall_s:.1f} s")
    console.print(table)


def cmd_train(args: argparse.Namespace) -> int:
    """`clinqa-synth train <run_qa.py flags>`: the same trainer as scripts/run_qa.py."""
    from clinqa_synth.qa.run import parse_and_run

    results = parse_and_run(args.run_qa_args, prog="clinqa-synth train")
    print(json.dumps(results, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score a predictions.json (id → answer) against a gold file: EM/F1 (SQuAD v2), RO and their splits."""
    from clinqa_synth.qa.gold import load_qa_file
    from clinqa_synth.qa.metrics import squad_v2_metrics

    try:
        predictions = json.loads(Path(args.predictions).read_text(encoding="utf-8"))
        null_odds = json.loads(Path(args.null_odds).read_text(encoding="utf-8")) if args.null_odds else None
    except (OSError, json.JSONDecodeError) as exc:
        raise ClinqaError(f"cannot read predictions: {exc}") from None
    gold = load_qa_file(args.gold, normalize_whitespace=args.normalize_whitespace)
    missing = [row["id"] for row in gold if row["id"] not in predictions]
    if missing:
        raise ClinqaError(f"{len(missing)} gold questions have no prediction (first: {missing[0]!r})")
    metrics = squad_v2_metrics(predictions, list(gold), na_probs=null_odds)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    """Train one model per (training set, seed) and write a mean ± sd table."""
    from clinqa_synth.qa.experiment import run_experiment

    only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else []
    result = run_experiment(args.config, only=only, jobs=args.jobs)
    out = Path(result["config"]["output_dir"])
    print((out / "results.md").read_text())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Compare configs: report.md + plots under OUT/report, headline table in the card."""
    from clinqa_synth.report import build_report

    path = build_report(args.out, experiments=[Path(p) for p in args.experiment])
    print(path.read_text(encoding="utf-8"))
    console.print(f"[green]report written[/green] → {path}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    """Publish a dataset folder to the Hub (private unless --public)."""
    from clinqa_synth.dataset.push import plan_push, push

    if args.dry_run:
        plan = plan_push(args.out, args.repo_id, public=args.public)
        print(json.dumps({"repo_id": plan.repo_id, "private": plan.private, "files": plan.files}, indent=2))
        return 0
    url = push(args.out, args.repo_id, public=args.public, token=args.token)
    console.print(f"[green]pushed[/green] → {url} ({'public' if args.public else 'private'})")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Join shard folders (from --shard i/n runs) into one dataset folder with a recomputed card."""
    from clinqa_synth.dataset.merge import merge_shards

    merged = merge_shards(args.out, args.shards)
    for config, counts in merged.items():
        console.print(f"[green]merged[/green] {config}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Draw a review sheet of kept pairs (--sample N), or score a labelled one (--score labels.csv)."""
    from clinqa_synth.audit import (
        configs_in,
        read_dropped,
        read_rows,
        sample_rows,
        score_dropped,
        score_folder,
        write_sheet,
    )
    from clinqa_synth.dataset.folder import DROPPED_PAIRS_FILE

    if args.score and args.dropped:
        for config, result in score_dropped(args.out, args.score).items():
            lost = result["wrongly_dropped"]
            low, high = lost["ci95"]
            console.print(
                f"{config}: {lost['correct']} of {lost['labelled']} labelled dropped pairs were right pairs "
                f"(wrongly dropped: {lost['precision']:.2f}, 95 % CI {low:.2f}–{high:.2f})"
            )
            for reason, part in result["by_reason"].items():
                console.print(f"  {reason}: {part['correct']} of {part['labelled']} right")
        console.print(f"[green]scored[/green] → {args.out}/<config>/audit_dropped.json")
        return 0
    if args.score:
        for config, result in score_folder(args.out, args.score).items():
            for kind in ("answerable", "unanswerable"):
                p = result[kind]
                if p["labelled"]:
                    low, high = p["ci95"]
                    console.print(
                        f"{config} · {kind}: precision {p['precision']:.2f} (95 % CI {low:.2f}–{high:.2f}) "
                        f"over {p['labelled']} labelled pairs"
                    )
            console.print(f"  labels: {', '.join(f'{k} {v}' for k, v in result['labels'].items() if v)}")
        console.print(f"[green]scored[/green] → {args.out}/<config>/audit.json and the card")
        return 0
    configs = args.config or configs_in(args.out)
    if args.dropped and not args.config:  # configs that dropped nothing (or ran without checks) have no file
        configs = [c for c in configs if (args.out / c / DROPPED_PAIRS_FILE).is_file()] or configs
    read = read_dropped if args.dropped else read_rows
    rows = {config: sample_rows(read(args.out, config), args.sample, args.seed) for config in configs}
    sheet_dir = args.sheet_dir or args.out / ("audit-dropped" if args.dropped else "audit")
    html_path, csv_path = write_sheet(args.out, rows, sheet_dir)
    what = "dropped pairs" if args.dropped else "pairs"
    then = " --dropped" if args.dropped else ""
    console.print(
        f"[green]review sheet[/green] ({sum(map(len, rows.values()))} {what}) → {html_path} and {csv_path}; "
        f"label them, then: clinqa-synth audit {args.out}{then} --score labels.csv"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinqa-synth", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"clinqa-synth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="one-shot smoke test of the LLM connection")
    chat.add_argument("prompt")
    chat.add_argument("--temperature", type=float, default=0.0)
    chat.add_argument("--max-tokens", type=int, default=256)
    chat.add_argument("--seed", type=int, default=0)
    add_llm_arguments(chat)
    chat.set_defaults(func=cmd_chat)

    serve = sub.add_parser("serve", help="run the embedded llama.cpp server in the foreground")
    serve.add_argument("--port", type=int, default=8080)
    from clinqa_synth.llm.session import LLMSettings

    add_arguments(serve, LLMSettings, ("model", "runtime", "n_ctx", "parallel", "server_log"))
    serve.set_defaults(func=cmd_serve)

    doctor = sub.add_parser("doctor", help="check the runtime, model, one completion and the cache (under a minute)")
    doctor.add_argument(
        "--model",
        default=os.environ.get("CLINQA_SYNTH_MODEL") or None,
        help="model to check (default: $CLINQA_SYNTH_MODEL or the default packaged model)",
    )
    doctor.add_argument("--cache-dir", type=Path)
    doctor.set_defaults(func=cmd_doctor)

    models = sub.add_parser("models", help="list the packaged GGUF models")
    models.add_argument("--assemble", action="store_true", help="assemble installed models into the cache now")
    models.set_defaults(func=cmd_models)

    cache = sub.add_parser("cache", help="inspect or clear the completion cache")
    cache.add_argument("action", choices=("info", "clear"))
    cache.add_argument("--cache-dir", type=Path)
    cache.set_defaults(func=cmd_cache)

    generate = sub.add_parser("generate", help="generate a synthetic QA config into a dataset folder")
    from clinqa_synth.pipeline.options import INPUT_OPTIONS, METHOD_OPTIONS, OUTPUT_OPTIONS, GenerationOptions

    source = generate.add_argument_group("input")
    source.add_argument(
        "--input",
        help="folder of .txt/.md notes, .jsonl/.csv(.gz)/.parquet, SQuAD/RadQA/MIMIC-QA "
        "JSON, MIMIC-IV-Note discharge/radiology.csv(.gz), a saved HF dataset folder or a Hub dataset name",
    )
    source.add_argument(
        "--sample",
        choices=("radiology", "clinical_record", "all"),
        help="use the synthetic sample documents shipped with the package",
    )
    add_arguments(source, GenerationOptions, INPUT_OPTIONS)
    method = generate.add_argument_group("method")
    method.add_argument(
        "--config",
        action="append",
        default=[],
        help="method config name(s), comma separated or "
        "repeated (default nooverlap_summary): direct, temp_anneal, prefix, nooverlap, summary, "
        "nooverlap_summary, prefix_summary, or your own",
    )
    method.add_argument(
        "--recipe",
        type=Path,
        metavar="OUT/CONFIG",
        help="re-run exactly the recipe (method as run, "
        "prompts, schemas) stored in a generated config folder, on these documents",
    )
    add_arguments(method, GenerationOptions, METHOD_OPTIONS)
    output = generate.add_argument_group("output")
    output.add_argument(
        "--out",
        type=Path,
        default=Path("clinqa_synth"),
        help="dataset folder (created; other "
        "configs kept; default ./clinqa_synth, so load_dataset('clinqa_synth', CONFIG) loads it)",
    )
    add_arguments(output, GenerationOptions, OUTPUT_OPTIONS)
    add_llm_arguments(generate)
    generate.set_defaults(func=cmd_generate)

    train = sub.add_parser("train", help="fine-tune/evaluate a QA model (flags of scripts/run_qa.py)", add_help=False)
    train.add_argument("run_qa_args", nargs=argparse.REMAINDER)
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="score predictions.json against a gold QA file (EM/F1/RO)")
    evaluate.add_argument("--predictions", required=True, help="predictions.json: question id → answer text")
    evaluate.add_argument("--gold", required=True, help="gold file: SQuAD/RadQA/MIMIC-QA JSON, JSONL, CSV, parquet")
    evaluate.add_argument("--null-odds", help="null_odds.json for best_exact/best_f1 thresholds")
    evaluate.add_argument(
        "--normalize-whitespace",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="collapse whitespace in gold contexts, as training does (default on, so RO finds "
        "predictions made on the normalised contexts)",
    )
    evaluate.set_defaults(func=cmd_evaluate)

    experiment = sub.add_parser("experiment", help="multi-seed training on several training sets → mean ± sd table")
    experiment.add_argument("config", help="experiment YAML (see docs/experiments.md)")
    experiment.add_argument(
        "--only", metavar="NAME[,NAME]", help="train only these training sets (the table keeps every finished run)"
    )
    experiment.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once in worker processes (small encoders on one GPU)"
    )
    experiment.set_defaults(func=cmd_experiment)

    report = sub.add_parser("report", help="compare the configs of a dataset folder (markdown + plots)")
    report.add_argument("out", type=Path)
    report.add_argument("--experiment", action="append", default=[], help="results.json of an experiment to include")
    report.set_defaults(func=cmd_report)

    push = sub.add_parser("push", help="push a dataset folder to the Hugging Face Hub (private by default)")
    push.add_argument("out", type=Path)
    push.add_argument("repo_id", help="ORG/NAME")
    push.add_argument("--public", action="store_true", help="make the repo public (refused for credentialed sources)")
    push.add_argument("--token", help="HF token (default: HF_TOKEN / your login); never written anywhere")
    push.add_argument("--dry-run", action="store_true", help="only show what would be uploaded")
    push.set_defaults(func=cmd_push)

    audit = sub.add_parser("audit", help="review sheet of kept pairs (--sample N) or precision from labels (--score)")
    audit.add_argument("out", type=Path, help="dataset folder")
    audit.add_argument("--sample", type=int, default=50, help="pairs drawn per config for the sheet (default 50)")
    audit.add_argument("--config", action="append", default=[], help="config(s) to sample (default: all)")
    audit.add_argument("--seed", type=int, default=0, help="which random sample (the same seed draws the same sheet)")
    audit.add_argument("--sheet-dir", type=Path, help="where review.html/review.csv go (default OUT/audit)")
    audit.add_argument("--score", type=Path, help="a labelled review.csv/labels.csv: compute precision with 95 %% CI")
    audit.add_argument(
        "--dropped",
        action="store_true",
        help="sample (or score) the placed pairs a check or verification dropped instead of the kept ones: labels "
        "say how many right pairs they threw away",
    )
    audit.set_defaults(func=cmd_audit)

    merge = sub.add_parser("merge", help="join shard folders (generate --shard i/n) into one dataset folder")
    merge.add_argument("out", type=Path)
    merge.add_argument("shards", type=Path, nargs="+")
    merge.set_defaults(func=cmd_merge)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # every flag goes to run_qa's own parser (argparse's REMAINDER drops a leading --help)
        args = argparse.Namespace(func=cmd_train, run_qa_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ClinqaError, LLMError) as exc:
        from clinqa_synth.llm.safety import redact

        # soft_wrap: a fix command or a log path in the message must stay copy-pasteable on one line
        message = redact(str(exc), (getattr(args, "api_key", None) or "",))
        console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted — finished work is kept; re-run the same command to resume[/yellow]")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
