"""Reliability on the real llama.cpp server: injected faults, persistent failures, kill -9, Ctrl-C, secrets.

Faults come from a proxy that speaks the OpenAI wire protocol in front of the real server
(tests/fault_proxy.py). kill -9 and Ctrl-C hit a real `clinqa-synth generate` process with its own
embedded server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest
from conftest import FIXTURES, SAMPLE_DOCS, copy_sample_reports
from tests_support import FaultProxy

from clinqa_synth.cli import main

pytestmark = pytest.mark.llm


def gen_args(notes: Path, out: Path, cache: Path, endpoint: str, *extra: str) -> list[str]:
    return [
        "generate",
        "--input",
        str(notes),
        "--config",
        "direct",
        "--out",
        str(out),
        "--quiet",
        "--methods-dir",
        str(FIXTURES / "test_methods"),
        "--cache-dir",
        str(cache),
        "--endpoint",
        endpoint,
        "--structured",
        "llama-cpp-python",
        "--max-retries",
        "4",
        *extra,
    ]


def rows(out: Path, config: str = "direct") -> list[dict]:
    return datasets.load_dataset(str(out), config, split="train").to_list()


def generation(out: Path, config: str = "direct") -> dict:
    return json.loads((out / config / "generation.json").read_text())


def test_transient_faults_leave_the_result_unchanged(llm_server, notes, tmp_path) -> None:
    with FaultProxy(llm_server.base_url, memoize=True) as proxy:
        assert main(gen_args(notes, tmp_path / "clean", tmp_path / "c1", proxy.url)) == 0
        clean_calls = proxy.chat_requests
        faults = [
            "503",
            "429-retry-after",
            "reset",
            "truncated",
            "malformed-json",
            "empty-content",
            "500",
            "502",
            "429",
            "slow",
        ]
        proxy.slow_s = 3.0  # past the faulty run's --timeout 2 (memoized answers are instant)
        schedule = []
        for first, second in zip(faults[0::2], faults[1::2]):
            schedule += [first, second, "ok"]  # two faults, then the real answer, for five calls
        proxy.faults.extend(schedule)
        proxy.chat_requests = 0
        assert main(gen_args(notes, tmp_path / "faulty", tmp_path / "c2", proxy.url, "--timeout", "2")) == 0
        assert not proxy.faults, "every scheduled fault was served"
        assert proxy.chat_requests == clean_calls + len(faults)
    assert rows(tmp_path / "faulty") == rows(tmp_path / "clean")
    usage = generation(tmp_path / "faulty")["llm_usage"]
    assert usage["retries"] == len(faults) and generation(tmp_path / "faulty")["documents"]["failed"] == 0


@pytest.mark.parametrize("fault,reason", [("503", "TransientLLMError"), ("wrong-format", "no_questions")])
def test_persistent_fault_fails_only_the_affected_document(llm_server, notes, tmp_path, capsys, fault, reason) -> None:
    needle = "Twisting injury"  # only in the knee report
    with FaultProxy(llm_server.base_url, memoize=True) as proxy:
        proxy.rules.append((needle, fault))
        args = gen_args(notes, tmp_path / "out", tmp_path / "cache", proxy.url, "--max-retries", "1")
        assert main(args) == 0
        record = generation(tmp_path / "out")
        assert record["documents"]["failed"] == 1 and list(record["documents"]["failures"]) == [reason]
        assert record["documents"]["failed_ids"][0][0] == "synthetic-mri-knee-004"
        assert {r["document_id"] for r in rows(tmp_path / "out")} == {"synthetic-chest-xray-002"}
        assert reason in (tmp_path / "out" / "README.md").read_text()
        assert main(args[:-2] + ["--max-retries", "1", "--fail-fast", "--out", str(tmp_path / "ff")]) == 2
        assert "--fail-fast" in capsys.readouterr().err
        assert not (tmp_path / "ff" / "direct").exists()


def test_secrets_never_reach_files(llm_server, notes, tmp_path) -> None:
    token = "hf_" + "S3cretT0kenValue" * 2
    host = llm_server.base_url.split("://", 1)[1]
    endpoint = f"http://alice:pa55w0rdXYZ@{host}"
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert main(gen_args(notes, out, cache, endpoint, "--api-key", token, "--limit", "1")) == 0  # one is enough
    assert main(["report", str(out)]) == 0
    for path in [p for p in tmp_path.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        for secret in (token.encode(), b"pa55w0rdXYZ", b"alice:"):
            assert secret not in data, f"{secret!r} found in {path}"
    assert oct((cache / "completions.sqlite3").stat().st_mode & 0o777) == "0o600"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"


def _server_processes(marker: str) -> list[int]:
    result = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True)
    return [int(p) for p in result.stdout.split()]


def _default_sigint() -> None:  # pragma: no cover - runs in the child
    # A shell runs background jobs with SIGINT ignored, and Python then never raises KeyboardInterrupt;
    # the CLI must be tested as it runs in a terminal, where Ctrl-C is delivered.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "clinqa_synth.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def _tags(cache: Path) -> dict[str, str]:
    with sqlite3.connect(cache / "completions.sqlite3") as db:
        return dict(db.execute("SELECT key, tag FROM completions"))


N_CTX = "4099"  # a unique server argument, to find this module's llama.cpp processes
SERVER_MARKER = f"--n_ctx {N_CTX}"


def embedded_args(notes: Path, out: Path, cache: Path) -> list[str]:
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
        N_CTX,
        "--methods-dir",
        str(FIXTURES / "test_methods"),
        "--cache-dir",
        str(cache),
    ]


@pytest.fixture(scope="module")
def uninterrupted(small_model_path, tmp_path_factory) -> dict:
    """One uninterrupted run on the embedded server: the reference every resumed run must equal."""
    root = tmp_path_factory.mktemp("uninterrupted")
    notes = copy_sample_reports(root / "notes")
    out, cache = root / "out", root / "cache"
    assert main(embedded_args(notes, out, cache)) == 0
    return {"notes": notes, "out": out, "cache": cache, "rows": rows(out), "tags": _tags(cache)}


def test_resume_in_the_middle_of_a_document_is_identical(uninterrupted, tmp_path) -> None:
    """A run that stopped after a document's first answer call resumes to exactly the uninterrupted rows.

    llama.cpp reuses the previous request's KV prefix, and its logits differ slightly between a
    reused prefix and a prompt evaluated whole; the resumed run re-plays the last cached call of
    that document for one token first (a "prime"), so the server state — and the text — match.
    """
    cache = tmp_path / "cache"
    shutil.copytree(uninterrupted["cache"], cache)
    with sqlite3.connect(cache / "completions.sqlite3") as db:  # the last call the uninterrupted run made
        (tag,) = db.execute("SELECT tag FROM completions ORDER BY created DESC LIMIT 1").fetchone()
        assert "/answers/" in tag, tag  # a document's later call, preceded by that document's cached calls
        db.execute("DELETE FROM completions WHERE tag = ?", (tag,))
    out = tmp_path / "out"
    assert main(embedded_args(uninterrupted["notes"], out, cache)) == 0
    usage = generation(out)["llm_usage"]
    assert (usage["calls"], usage["primes"]) == (1, 1)
    assert rows(out) == uninterrupted["rows"]


def test_kill_minus_9_then_rerun_loses_nothing(uninterrupted, tmp_path) -> None:
    """kill -9 at several points; the re-run finishes with no lost document, no duplicate row and exactly the
    rows of an uninterrupted run; no partial config ever loads and no orphan server survives (PR_SET_PDEATHSIG)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    notes = uninterrupted["notes"]
    out, cache = tmp_path / "out", tmp_path / "cache"
    for kill_after_calls in (2, 4):
        process = _cli(embedded_args(notes, out, cache), env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if (cache / "completions.sqlite3").exists() and len(_tags(cache)) >= kill_after_calls:
                break
            time.sleep(0.2)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        deadline = time.monotonic() + 15  # PR_SET_PDEATHSIG kills the child as the parent dies; poll for it
        while _server_processes(SERVER_MARKER) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _server_processes(SERVER_MARKER) == [], "the embedded server outlived its killed parent"
        assert not (out / "direct").exists() or (out / "direct" / "generation.json").exists()
    final = _cli(embedded_args(notes, out, cache), env)
    assert final.wait(timeout=600) == 0, final.stderr.read().decode()[-2000:]
    got = rows(out)
    assert len({r["id"] for r in got}) == len(got), "duplicate rows"
    assert generation(out)["documents"] == {**generation(out)["documents"], "total": len(SAMPLE_DOCS), "failed": 0}
    assert got == uninterrupted["rows"]
    # and the finished dataset is exactly reproducible from the cache
    again = _cli(embedded_args(notes, tmp_path / "again", cache), env)
    assert again.wait(timeout=300) == 0
    assert rows(tmp_path / "again") == got


def test_ctrl_c_stops_cleanly_and_keeps_finished_work(small_model_path, notes, tmp_path) -> None:
    n_ctx = "4101"
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = [
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
    process = _cli(args, {**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not ((cache / "completions.sqlite3").exists() and _tags(cache)):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=180) == 130  # the request in flight is abandoned; the server gets SIGTERM, then KILL
    assert "interrupted" in process.stderr.read().decode()
    assert _server_processes(f"--n_ctx {n_ctx}") == []
    assert len(_tags(cache)) >= 1, "finished calls are kept in the cache"
    assert not (out / "direct").exists() and not list(out.glob(".staging-*"))
