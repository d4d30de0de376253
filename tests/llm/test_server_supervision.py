"""The embedded server is a supervised child: its death is noticed at once and explained with the fix.

Real processes throughout: `clinqa-synth generate`/`serve`/`doctor` as subprocesses with their own embedded
llama.cpp server (the small packaged model); the signals are sent to that real server. SIGILL stands for a
llama.cpp build that uses CPU instructions this machine cannot run (what a native build does on a VM that
advertises AVX-512/AMX); SIGKILL for the out-of-memory killer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import datasets
import httpx2 as httpx
import pytest
from conftest import FIXTURES, copy_sample_reports

from clinqa_synth.llm.server import free_port
from clinqa_synth.llm.server_exit import ServerExit

pytestmark = pytest.mark.llm


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def lines_of(stream) -> list:
    """Read a child's stream on a thread as it is written, so a test can wait for a line; None marks the end."""
    lines: list = []

    def read() -> None:
        for line in stream:
            lines.append(line)
        lines.append(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def server_pids(marker: str) -> list[int]:
    result = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True)
    return [int(p) for p in result.stdout.split()]


@pytest.fixture()
def cli():
    """Start `clinqa-synth …` subprocesses; whatever is still running when the test ends is killed."""
    started: list[subprocess.Popen] = []

    def start(args: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "clinqa_synth.cli", *args],
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def completions_in(cache: Path) -> int:
    import sqlite3

    if not (cache / "completions.sqlite3").exists():
        return 0
    with sqlite3.connect(cache / "completions.sqlite3") as db:
        return db.execute("SELECT count(*) FROM completions").fetchone()[0]


def generate_args(notes: Path, out: Path, cache: Path, n_ctx: str) -> list[str]:
    # a unique --n-ctx finds this test's server process among others
    return [
        "generate",
        "--input",
        str(notes),
        "--config",
        "direct",
        "--out",
        str(out),
        "--quiet",
        "--model",
        "small",
        "--n-ctx",
        n_ctx,
        "--methods-dir",
        str(FIXTURES / "test_methods"),
        "--cache-dir",
        str(cache),
    ]


def test_sigill_mid_run_stops_generate_within_seconds_with_the_fix(small_model_path, tmp_path, cli) -> None:
    notes = copy_sample_reports(tmp_path / "notes")
    out, cache, marker = tmp_path / "out", tmp_path / "cache", "--n_ctx 4111"
    process = cli(generate_args(notes, out, cache, "4111"))
    wait_for(lambda: completions_in(cache) >= 1, 300, "the first completion (mid-run)")
    (pid,) = server_pids(marker)
    os.kill(pid, signal.SIGILL)
    killed_at = time.monotonic()
    returncode = process.wait(timeout=30)
    took = time.monotonic() - killed_at
    err = process.stderr.read()
    assert returncode == 2, err
    assert took < 30
    log = cache / "embedded-server.log"
    assert "killed by SIGILL" in err and "CPU instructions this machine cannot run" in err, err
    assert "bash scripts/setup.sh" in err and "--force-reinstall --no-cache-dir" in err, err
    assert f"Server log: {log}" in err and log.exists()
    assert server_pids(marker) == []
    assert completions_in(cache) >= 1, "finished calls stay in the cache for the re-run"
    assert not (out / "direct").exists(), "no partial config"


def test_a_non_build_crash_restarts_the_server_once_and_the_run_goes_on(small_model_path, tmp_path, cli) -> None:
    notes = copy_sample_reports(tmp_path / "notes", ("synthetic-chest-xray-002.txt",))
    out, cache, marker = tmp_path / "out", tmp_path / "cache", "--n_ctx 4113"
    process = cli(generate_args(notes, out, cache, "4113"))
    wait_for(lambda: completions_in(cache) >= 1, 300, "the first completion (mid-run)")
    (pid,) = server_pids(marker)
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    record = json.loads((out / "direct" / "generation.json").read_text())
    assert record["llm_usage"]["server_restarts"] == 1
    assert record["documents"]["failed"] == 0
    assert "crashed and was restarted 1 time" in stderr + stdout
    rows = datasets.load_dataset(str(out), "direct", split="train")
    assert rows.num_rows == record["funnel"]["kept"]
    assert server_pids(marker) == []


def test_a_server_that_dies_while_loading_names_the_exit_and_its_log(tmp_path, cli) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 4096)  # a GGUF header and nothing usable: llama.cpp refuses to load it
    notes = copy_sample_reports(tmp_path / "notes", ("synthetic-chest-xray-002.txt",))
    process = cli(
        [
            "generate",
            "--input",
            str(notes),
            "--config",
            "direct",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--model",
            str(bad),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "exited with code" in err and "while loading broken.gguf" in err, err
    assert f"Server log: {tmp_path / 'cache' / 'embedded-server.log'}" in err


def test_serve_restarts_after_a_crash_once_then_reports_sigill(small_model_path, tmp_path, cli) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    process = cli(["serve", "--model", "small", "--port", str(port), "--n-ctx", "4115", "--server-log", str(log)])

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    # `serve` itself must have seen the server answer (it says "Serving"): a kill before that is a crash
    # while loading, which is reported, not restarted
    err_lines = lines_of(process.stderr)
    wait_for(lambda: answers() and any("Serving" in line for line in err_lines), 120, "serve to announce the server")
    (first,) = server_pids("--n_ctx 4115")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: [p for p in server_pids("--n_ctx 4115") if p != first] and answers(), 120, "the restart")
    (second,) = server_pids("--n_ctx 4115")
    os.kill(second, signal.SIGILL)
    process.wait(timeout=30)
    wait_for(lambda: err_lines and err_lines[-1] is None, 10, "serve's stderr to close")
    err = "".join(line for line in err_lines if line)
    assert process.returncode == 2
    assert "killed by SIGKILL" in err and "restarting once" in err, err
    assert "killed by SIGILL" in err and f"Server log: {log}" in err, err


def test_exit_messages_name_the_signal_the_meaning_and_the_fix(tmp_path) -> None:
    log = tmp_path / "server.log"
    log.write_text("loading model\nllama_model_load: tensor data is not within the file bounds\n")
    sigill = ServerExit(-signal.SIGILL, "llama-cpp-python", log)
    assert sigill.is_build_problem
    text = sigill.message()
    assert "killed by SIGILL" in text and "CMAKE_ARGS=" in text and "GGML_NATIVE=OFF" in text
    assert f"Server log: {log}" in text and "not within the file bounds" in text
    oom = ServerExit(-signal.SIGKILL, "llama-server")
    assert not oom.is_build_problem and "out-of-memory" in oom.message()
    assert "exited with code 1" in ServerExit(1, "llama-cpp-python").message()


def test_doctor_passes_on_a_working_install_and_names_the_fix_when_not(small_model_path, tmp_path) -> None:
    started = time.monotonic()
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "clinqa_synth.cli",
            "doctor",
            "--model",
            "small",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr
    for name in ("runtime", "model", "completion", "cache"):
        assert f"ok   {name}" in ok.stderr, ok.stderr
    assert "llama-cpp-python 0.3" in ok.stderr and "sha256 verified" in ok.stderr and "ready" in ok.stderr
    print(f"doctor took {time.monotonic() - started:.1f} s")

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 4096)
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "clinqa_synth.cli",
            "doctor",
            "--model",
            str(bad),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert broken.returncode == 1
    assert "FAIL completion" in broken.stderr and "exited with code" in broken.stderr
    assert "fix:" in broken.stderr and "not ready" in broken.stderr

    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "clinqa_synth.cli",
            "doctor",
            "--model",
            "nope.gguf",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and "FAIL model" in missing.stderr and "Unknown model" in missing.stderr
