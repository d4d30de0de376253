"""bench/bench_server_log.py reads llama-cpp-python's log as the server writes it (real lines, rates cut)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# two server runs of a real log: the first run's first call (it logs no prefix-match line), then the second run's
# verify call reusing its section, a harden call (cold, short), and the next verify call, which had to read its
# section again (its logged "prompt eval time" of 0.37 ms is one of the bogus ones)
LOG = """\
INFO:     Started server process [24771]
llama_perf_context_print: prompt eval time =    2336.91 ms /   598 tokens (    3.91 ms per token)
llama_perf_context_print:        eval time =   19917.90 ms /   321 runs   (   62.05 ms per token)
llama_perf_context_print:       total time =   41749.45 ms /   919 tokens
INFO:     Started server process [28123]
Llama.generate: 340 prefix-match hit, remaining 90 prompt tokens to eval
llama_perf_context_print:        load time =       1.56 ms
llama_perf_context_print: prompt eval time =    2905.09 ms /    90 tokens (   32.28 ms per token)
llama_perf_context_print:        eval time =    2735.06 ms /    36 runs   (   75.97 ms per token)
llama_perf_context_print:       total time =    6933.26 ms /   126 tokens
INFO:     127.0.0.1:55540 - "POST /v1/chat/completions HTTP/1.1" 200 OK
Llama.generate: 27 prefix-match hit, remaining 132 prompt tokens to eval
llama_perf_context_print: prompt eval time =    3900.00 ms /   132 tokens (   29.55 ms per token)
llama_perf_context_print:        eval time =     846.00 ms /    14 runs   (   60.43 ms per token)
llama_perf_context_print:       total time =    4777.00 ms /   146 tokens
Llama.generate: 27 prefix-match hit, remaining 389 prompt tokens to eval
llama_perf_context_print: prompt eval time =       0.37 ms /   389 tokens (    0.00 ms per token)
llama_perf_context_print:        eval time =    2766.00 ms /    41 runs   (   67.46 ms per token)
llama_perf_context_print:       total time =   16300.00 ms /   430 tokens
"""


def load_bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_server_log", ROOT / "bench" / "bench_server_log.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["bench_server_log"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_calls_rates_and_the_re_read_section_are_read_from_the_log(tmp_path: Path) -> None:
    bench = load_bench()
    log = tmp_path / "embedded-server.log"
    log.write_text(LOG)
    calls = bench.read_calls(log)
    assert [(c["reused"], c["evaluated"], c["decoded"]) for c in calls] == [
        (0, 598, 321),
        (340, 90, 36),
        (27, 132, 14),
        (27, 389, 41),
    ]
    figures = bench.figures(calls)
    assert figures["calls"] == 4 and figures["decoded_tokens"] == 412 and figures["cold_calls"] == 3
    assert figures["rereads_after_a_short_call"] == 1 and figures["rereads_prompt_tokens"] == 389
    assert figures["rereads_non_decode_s"] == round((16300 - 2766) / 1000)
    # from the call totals, not from the per-call prompt timings: (41749 - 19918) / 598 = 36.5,
    # (16300 - 2766) / 389 = 34.8 and (4777 - 846) / 132 = 29.8
    assert figures["median_ms_per_evaluated_prompt_token"] == 34.8
    assert [c["evaluated"] for c in bench.read_calls(log, slice(1, None))] == [90, 132, 389]  # the second run
