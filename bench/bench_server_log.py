#!/usr/bin/env python
"""Where an embedded llama-cpp-python server's time went, read from its log (issue 17: the cost of a kept pair).

  python bench/bench_server_log.py CACHE_DIR/embedded-server.log [--runs A:B] [--last N]

llama-cpp-python logs, per completion, how much of the prompt it reused from the previous call ("prefix-match
hit"), how many prompt tokens it evaluated, and llama.cpp's timings. Its separate "prompt eval time" is not
reliable (some calls report 0.4 ms for 376 tokens), so this reports decode time (tokens generated) and the rest
of each call's total (prompt evaluation plus sampling, grammar checks included) — and how often a call re-read
a prompt that an earlier call had already evaluated, because another call came in between.

Prints one JSON object. No prompt text is in the log, so nothing here is patient data.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path
from typing import Any

_PREFIX = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens")
_PROMPT = re.compile(r"prompt eval time =\s+[\d.]+ ms /\s+(\d+) tokens")  # its count is right, its time is not
_DECODE = re.compile(r"\beval time =\s+([\d.]+) ms /\s+(\d+) runs")
_TOTAL = re.compile(r"total time =\s+([\d.]+) ms")
COLD_HIT = 50  # a prefix hit this short is the chat template's opening: nothing of the previous prompt reused


_START = "Started server process"  # one server run (a `generate` run, a shard) per start; the log is appended to


def read_calls(log: Path, runs: slice = slice(None)) -> list[dict[str, float]]:
    """One dict per finished completion: reused and evaluated prompt tokens, decoded tokens, decode and total ms.

    `runs` picks server runs by position (0-based, as a Python slice): `slice(0, 12)` is the first twelve."""
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if _START in line] or [0]
    bounds = list(zip(starts, [*starts[1:], len(lines)], strict=True))[runs]
    calls: list[dict[str, float]] = []
    current: dict[str, float] = {}
    for line in (line for start, end in bounds for line in lines[start:end]):
        if match := _PREFIX.search(line):
            current = {"reused": int(match[1]), "evaluated": int(match[2])}
        elif (match := _PROMPT.search(line)) and "evaluated" not in current:
            current |= {"reused": 0, "evaluated": int(match[1])}  # a server's first call logs no prefix match
        elif (match := _DECODE.search(line)) and "prompt eval" not in line:
            current |= {"decode_ms": float(match[1]), "decoded": int(match[2])}
        elif (match := _TOTAL.search(line)) and "decode_ms" in current:
            calls.append(current | {"total_ms": float(match[1])})
            current = {}
    return calls


def figures(calls: list[dict[str, float]]) -> dict[str, Any]:
    """Totals, rates and the re-reads: what a reordering of calls or a shorter format could save."""
    total = sum(c["total_ms"] for c in calls) / 1000
    decode = sum(c["decode_ms"] for c in calls) / 1000
    evaluated = sum(c.get("evaluated", 0) for c in calls)
    decoded = sum(c["decoded"] for c in calls)
    is_cold = [c.get("reused", 0) < COLD_HIT for c in calls]
    # a long prompt evaluated cold right after a short cold call (a harden call between two verify calls, a
    # questions-from-summary call before the answers call): the short call evicted the long prompt's prefix
    reread = [
        c
        for i, c in enumerate(calls[1:], 1)
        if is_cold[i] and is_cold[i - 1] and c.get("evaluated", 0) >= 2 * calls[i - 1].get("evaluated", 0) > 0
    ]
    per_prompt_token = [
        (c["total_ms"] - c["decode_ms"]) / c["evaluated"] for c in calls if c.get("evaluated", 0) >= 100
    ]
    return {
        "calls": len(calls),
        "total_s": round(total),
        "decode_share": round(decode / total, 3) if total else None,
        "prompt_and_sampling_share": round(1 - decode / total, 3) if total else None,
        "decoded_tokens": decoded,
        "decode_tokens_per_s": round(decoded / decode, 1) if decode else None,
        "prompt_tokens_evaluated": evaluated,
        "prompt_tokens_reused": sum(c.get("reused", 0) for c in calls),
        "median_ms_per_evaluated_prompt_token": round(statistics.median(per_prompt_token), 1)
        if per_prompt_token
        else None,
        "cold_calls": sum(is_cold),
        "rereads_after_a_short_call": len(reread),
        "rereads_prompt_tokens": sum(c["evaluated"] for c in reread),
        "rereads_non_decode_s": round(sum(c["total_ms"] - c["decode_ms"] for c in reread) / 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--runs", default=":", help="server runs A:B by position, 0-based as a Python slice (e.g. :12)")
    parser.add_argument("--last", type=int, default=0, help="only the last N calls of those runs (0: all)")
    args = parser.parse_args()
    first, _, last = args.runs.partition(":")
    calls = read_calls(args.log, slice(int(first) if first else None, int(last) if last else None))
    print(json.dumps(figures(calls[-args.last :] if args.last else calls), indent=2))


if __name__ == "__main__":
    main()
