"""Why a resumed run primes the server: llama.cpp's output for a request depends on its KV-cache state.

llama-cpp-python reuses the longest common prompt prefix with the previous request. A document's
second call (same document text, other instructions) therefore normally runs with the document's
KV prefix already computed; after a crash/resume that call reaches a fresh server and evaluates the
whole prompt, and greedy decoding can pick different tokens. Re-playing the previous call for one
token first ("prime", what `CachedChat(prime_prefix=True)` does) restores the state.

    python bench/bench_resume_determinism.py [--model small|default|PATH.gguf]

Prints, per scenario, whether the second call's text equals the uninterrupted run's.
"""

from __future__ import annotations

import argparse
import time
from importlib.resources import files
from pathlib import Path

import httpx2 as httpx

from clinqa_synth.llm.models import resolve_model
from clinqa_synth.llm.server import EmbeddedServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small")
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()
    samples = sorted(Path(str(files("clinqa_synth") / "samples" / "radiology")).glob("*.txt"))
    doc_a, doc_b = samples[0].read_text(), samples[1].read_text()

    def first(doc: str) -> str:
        return doc + "\n\nSummarise the report above as JSON with keys symptoms, medical_conditions, areas_examined."

    def second(doc: str) -> str:
        return doc + "\n\nWrite 6 hard questions a clinician could ask about the report above, numbered."

    model = resolve_model(args.model)

    def call(url: str, prompt: str, max_tokens: int) -> str:
        body = {
            "model": "x",
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "top_p": 1,
            "seed": 0,
            "max_tokens": max_tokens,
        }
        return httpx.post(url + "/v1/chat/completions", json=body, timeout=600).json()["choices"][0]["message"][
            "content"
        ]

    def scenario(steps: list[tuple[str, str, int]]) -> dict[str, str]:
        with EmbeddedServer(model, n_ctx=4096) as server:
            return {name: call(server.base_url, prompt, max_tokens) for name, prompt, max_tokens in steps}

    n = args.max_tokens
    started = time.perf_counter()
    reference = scenario(
        [("a1", first(doc_a), n), ("a2", second(doc_a), n), ("b1", first(doc_b), n), ("b2", second(doc_b), n)]
    )
    cases = {
        "fresh server, document B from its first call": [("b1", first(doc_b), n), ("b2", second(doc_b), n)],
        "fresh server, B's second call alone (resume, no prime)": [("b2", second(doc_b), n)],
        "fresh server, prime with B's first call, then B's second (resume, prime)": [
            ("prime", first(doc_b), 1),
            ("b2", second(doc_b), n),
        ],
    }
    print(f"model {model.name}, {n} tokens per call")
    for label, steps in cases.items():
        got = scenario(steps)
        same = all(got[k] == reference[k] for k in got if k in reference)
        print(f"{'identical' if same else 'DIFFERENT':>9}  {label}")
    print(f"wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
