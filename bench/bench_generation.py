#!/usr/bin/env python
"""Generation benchmarks (issue 7, figures 1, 2, 3 and 5). Prints its figures; method in docs/benchmarks.md.

python bench/bench_generation.py throughput [--model small] [--docs 2]
    completion tokens/s of `generate` on the embedded llama.cpp server, divided by (a) a raw saturating
    replay of the same requests on the same server and (b) the paper's scheme (async batches of 5 with a
    fixed 5 s pause), all in one run on one server; then the warm re-run of the finished config
    (time / cold time, LLM calls made).
python bench/bench_generation.py yield OUT [CONFIG ...]
    valid QA pairs per 1,000 completion tokens with clinqa-synth's span alignment vs exact-substring-only
    placement, from a finished folder's generation.json and rows; prints the non-exact placements to audit.
python bench/bench_generation.py memory [--docs 10000]
    peak memory of the pipeline (reader -> driver -> parquet writer) over N synthetic documents, with an
    instant in-process chat client so that only clinqa-synth's own memory is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Recording:
    """Wraps a ChatClient and records every request (messages + sampling parameters) in order."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests: list[tuple[list, dict]] = []

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def accounting(self) -> Any:
        return self.inner.accounting

    async def chat(self, messages: list, **params: Any) -> Any:
        self.requests.append((messages, params))
        return await self.inner.chat(messages, **params)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _replay(
    url: str,
    structured: str,
    requests: list[tuple[list, dict]],
    *,
    concurrency: int,
    batch: int | None = None,
    pause_s: float = 0.0,
) -> tuple[int, float, list[str]]:
    from clinqa_synth.llm.endpoint import EndpointChat

    client = EndpointChat(url, api_key="local", concurrency=concurrency, structured=structured, truncation_retries=0)
    tokens = 0
    failures: list[str] = []
    started = time.perf_counter()

    async def one(messages: list, params: dict) -> None:
        nonlocal tokens
        try:
            completion = await client.chat(messages, **params)
            tokens += completion.usage.completion_tokens  # after the await: `tokens += await …` loses updates
        except Exception as exc:  # noqa: BLE001 - reported, so a failed replay cannot pass for a slow one
            failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")

    try:
        if batch is None:
            await asyncio.gather(*[one(m, p) for m, p in requests])
        else:
            for start in range(0, len(requests), batch):
                await asyncio.gather(*[one(m, p) for m, p in requests[start : start + batch]])
                if start + batch < len(requests):
                    await asyncio.sleep(pause_s)
    finally:
        await client.aclose()
    return tokens, time.perf_counter() - started, failures


def throughput(model: str, docs: int, config: str) -> None:
    from clinqa_synth.cli import samples_dir
    from clinqa_synth.llm.endpoint import EndpointChat
    from clinqa_synth.llm.models import resolve_model
    from clinqa_synth.llm.server import EmbeddedServer
    from clinqa_synth.pipeline.api import generate_to_folder

    work = Path(tempfile.mkdtemp(prefix="bench-gen-"))
    notes = work / "notes"
    notes.mkdir()
    for path in sorted(samples_dir("radiology").glob("*.txt"))[:docs]:
        shutil.copy(path, notes / path.name)
    server = EmbeddedServer(resolve_model(model), runtime="llama-cpp-python")
    server.start()
    try:
        structured = server.runtime
        recording = Recording(EndpointChat(server.base_url, api_key="local", structured=structured))
        started = time.perf_counter()
        generate_to_folder(notes, config=config, out=work / "out", chat=recording, show_progress=False)
        gen_s = time.perf_counter() - started
        gen_tokens = recording.accounting.completion_tokens
        requests = recording.requests
        raw_tokens, raw_s, raw_failures = asyncio.run(_replay(server.base_url, structured, requests, concurrency=1))
        paper_tokens, paper_s, paper_failures = asyncio.run(
            _replay(server.base_url, structured, requests, concurrency=5, batch=5, pause_s=5.0)
        )
    finally:
        server.stop()
    gen_tps, raw_tps, paper_tps = gen_tokens / gen_s, raw_tokens / raw_s, paper_tokens / paper_s

    # Warm re-run through the CLI path (cache + lazily started embedded server), cold vs warm.
    from clinqa_synth.llm.session import LLMSettings

    settings = LLMSettings(model=model, cache_dir=work / "cache")
    t0 = time.perf_counter()
    cold = generate_to_folder(notes, config=config, out=work / "cold", llm=settings, show_progress=False)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = generate_to_folder(notes, config=config, out=work / "warm", llm=settings, show_progress=False)
    warm_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "model": model,
                "config": config,
                "documents": docs,
                "requests": len(requests),
                "generate_completion_tok_per_s": round(gen_tps, 2),
                "raw_saturating_tok_per_s": round(raw_tps, 2),
                "paper_scheme_tok_per_s": round(paper_tps, 2),
                "ratio_vs_raw": round(gen_tps / raw_tps, 3),
                "ratio_vs_paper_scheme": round(gen_tps / paper_tps, 3),
                "cold_s": round(cold_s, 1),
                "warm_s": round(warm_s, 2),
                "warm_over_cold": round(warm_s / cold_s, 4),
                "warm_llm_calls": warm.llm_usage.get("calls"),
                "warm_cache_hits": warm.llm_usage.get("cache_hits"),
                "cold_llm_calls": cold.llm_usage.get("calls"),
                "generate_s": round(gen_s, 1),
                "raw_s": round(raw_s, 1),
                "paper_s": round(paper_s, 1),
                "raw_failures": raw_failures,
                "paper_failures": paper_failures,
            },
            indent=2,
        )
    )


def yield_figures(out: Path, configs: list[str]) -> None:
    import datasets

    from clinqa_synth.dataset.folder import DatasetFolder

    generations = DatasetFolder(out).configs()
    rows = []
    audit = []
    for name in configs or list(generations):
        g = generations[name]
        placement = g.get("placement", {})
        usage = g.get("llm_usage", {})
        tokens = usage.get("completion_tokens", 0) + usage.get("cached_completion_tokens", 0)
        requote_tokens = g.get("completion_tokens_by_step", {}).get("requote", 0)
        placed = sum(placement.values())
        placed_without_requote = sum(n for k, n in placement.items() if not k.startswith("requote_"))
        # the paper's rule on the same first-pass outputs: context.index(answer), plus "Unanswerable";
        # it never makes the requote call, so its tokens are the first-pass tokens only
        exact_only = placement.get("exact", 0) + placement.get("unanswerable", 0)
        exact_tokens = tokens - requote_tokens
        ours_rate = 1000 * placed / tokens if tokens else 0.0
        exact_rate = 1000 * exact_only / exact_tokens if exact_tokens else 0.0
        rows.append(
            {
                "config": name,
                "completion_tokens": tokens,
                "requote_tokens": requote_tokens,
                "placed": placed,
                "placed_alignment_only": placed_without_requote,
                "placed_exact_only": exact_only,
                "pairs_per_1k_tokens": round(ours_rate, 2),
                "exact_only_pairs_per_1k_tokens": round(exact_rate, 2),
                "gain_per_token": round(ours_rate / exact_rate, 3) if exact_rate else None,
                "gain_alignment_only": round(placed_without_requote / exact_only, 3) if exact_only else None,
                "placement": placement,
            }
        )
        for row in datasets.load_dataset(str(out), name, split="train"):
            if row["match"] != "exact":
                audit.append(
                    {
                        "config": name,
                        "match": row["match"],
                        "question": row["question"],
                        "model_answer": row["model_answer"],
                        "placed": row["answers"]["text"][0] if row["answers"]["text"] else "(unanswerable)",
                    }
                )
    totals = {
        key: sum(r[key] for r in rows)
        for key in ("completion_tokens", "requote_tokens", "placed", "placed_alignment_only", "placed_exact_only")
    }
    ours = 1000 * totals["placed"] / totals["completion_tokens"] if totals["completion_tokens"] else 0.0
    exact_tokens = totals["completion_tokens"] - totals["requote_tokens"]
    exact = 1000 * totals["placed_exact_only"] / exact_tokens if exact_tokens else 0.0
    print(
        json.dumps(
            {
                "per_config": rows,
                "totals": totals,
                "overall_pairs_per_1k": round(ours, 2),
                "overall_exact_only_pairs_per_1k": round(exact, 2),
                "overall_gain_per_token": round(ours / exact, 3) if exact else None,
                "kept_non_exact_for_audit": audit,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


class InstantChat:
    """Answers every step instantly with well-formed output (memory benchmark only: no LLM time)."""

    model_id = "instant"

    async def chat(self, messages: list, **params: Any) -> Any:
        from clinqa_synth.llm.protocol import Completion, Usage

        prompt = messages[0]["content"]
        if "Reply with the JSON object only" in prompt:
            text = json.dumps({"symptoms": ["cough"], "medical_conditions": ["effusion"]})
        elif "numbered list" in prompt:
            text = "\n".join(f"{i}. Is there finding {i}?" for i in range(1, 11))
        else:
            text = json.dumps(
                {
                    "answers": [
                        {"number": i, "answer": "small effusion" if i % 2 else "Unanswerable"} for i in range(1, 11)
                    ]
                }
            )
        return Completion(text, "stop", Usage(100, 50))


def memory(docs: int) -> None:
    from clinqa_synth.pipeline.api import generate_to_folder

    work = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    source = work / "notes.jsonl"
    body = "FINDINGS: There is a small effusion in the left base. " * 20 + "\n\nIMPRESSION: Small effusion."
    with open(source, "w") as handle:
        for i in range(docs):
            handle.write(json.dumps({"id": f"r{i}", "text": f"EXAMINATION: CT {i}.\n{body}"}) + "\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = generate_to_folder(source, config="direct", out=work / "out", chat=InstantChat(), show_progress=False)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "documents": docs,
                "rows": summary.kept,
                "wall_s": round(elapsed, 1),
                "peak_rss_mb": round(peak / 1024, 1),
                "rss_growth_mb": round((peak - before) / 1024, 1),
                "input_mb": round(source.stat().st_size / 2**20, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--model", default="small")
    p.add_argument("--docs", type=int, default=2)
    p.add_argument("--config", default="direct")
    p = sub.add_parser("yield")
    p.add_argument("out", type=Path)
    p.add_argument("configs", nargs="*")
    sub.add_parser("memory").add_argument("--docs", type=int, default=10000)
    args = parser.parse_args()
    if args.what == "throughput":
        throughput(args.model, args.docs, args.config)
    elif args.what == "yield":
        yield_figures(args.out, args.configs)
    else:
        memory(args.docs)
    sys.exit(0)
