"""`clinqa-synth doctor`: is this machine ready to generate, and if not, what is the fix?

A new user's first failure is usually below the pipeline: a llama.cpp build that cannot run on this CPU, a
model package missing or damaged, a cache directory that cannot be written. Each check runs in isolation
(the runtime is imported in a child process, so a crashing build is reported rather than killing the doctor),
prints what it found, and on failure the one fix. The whole round takes well under a minute on 2 cores.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clinqa_synth.llm.server_exit import REBUILD_HINT, ServerExit

_RUNTIME_PROBE = """
import json, llama_cpp
info = llama_cpp.llama_print_system_info()
print(json.dumps({"version": llama_cpp.__version__,
                  "system_info": info.decode() if isinstance(info, bytes) else str(info)}))
"""


@dataclass
class Check:
    """One line of the verdict."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_runtime() -> Check:
    """Import llama_cpp in a child process and report its version, build features and how it was built."""
    try:
        probe = subprocess.run([sys.executable, "-c", _RUNTIME_PROBE], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return Check("runtime", False, "importing llama_cpp took over 60 s", "reinstall with `bash scripts/setup.sh`")
    if probe.returncode != 0:
        status = ServerExit(probe.returncode, "llama-cpp-python")
        if "No module named" in probe.stderr:
            return Check(
                "runtime",
                False,
                "llama-cpp-python is not installed",
                "`bash scripts/setup.sh` (or pip install 'clinqa-synth[local]'), or use --endpoint URL",
            )
        return Check(
            "runtime",
            False,
            f"importing llama_cpp {status.what()}: {probe.stderr.strip()[-300:]}",
            REBUILD_HINT if status.is_build_problem else "reinstall with `bash scripts/setup.sh`",
        )
    info = json.loads(probe.stdout.strip().splitlines()[-1])
    marker = Path(sys.prefix) / ".clinqa-synth-llama-build"
    built = (
        f"built by scripts/setup.sh: {marker.read_text().strip()}"
        if marker.exists()
        else "build flags unknown (not installed by scripts/setup.sh)"
    )
    features = " | ".join(part.strip() for part in info["system_info"].split("|") if part.strip().endswith("= 1"))
    return Check("runtime", True, f"llama-cpp-python {info['version']}; {built}; CPU features used: {features}")


def check_model(spec: str | None) -> tuple[Check, Path | None]:
    """Assemble (once) the requested model and re-verify a packaged one's sha256 byte for byte."""
    from clinqa_synth.llm.models import ALIASES, DEFAULT_MODEL, PACKAGED_MODELS, resolve_model

    try:
        path = resolve_model(spec)
    except Exception as exc:  # noqa: BLE001 - every failure here is reported with its own message
        return Check("model", False, str(exc), "pip install 'clinqa-synth[local]' or pass --model PATH.gguf"), None
    name = ALIASES.get(spec or DEFAULT_MODEL, spec or DEFAULT_MODEL)
    packaged = PACKAGED_MODELS.get(name)
    if packaged is not None:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(16 << 20):
                digest.update(chunk)
        if digest.hexdigest() != packaged.sha256:
            path.with_suffix(".gguf.verified").unlink(missing_ok=True)
            return Check(
                "model",
                False,
                f"{path} is damaged (sha256 mismatch)",
                "run the command again: the marker was removed, so it is re-assembled",
            ), None
    size_mb = path.stat().st_size / 1e6
    return Check("model", True, f"{path} ({size_mb:.0f} MB{', sha256 verified' if packaged else ''})"), path


def check_completion(model_path: Path, log_path: Path) -> Check:
    """Start the embedded server on 127.0.0.1 and run one tiny completion through the supervised client."""
    from clinqa_synth.llm.session import LLMSettings, open_llm

    started = time.perf_counter()
    settings = LLMSettings(model=str(model_path), use_cache=False, server_log=log_path, max_retries=1, timeout_s=120)
    try:
        with open_llm(settings) as session:

            async def ask() -> str:
                try:
                    completion = await session.chat.chat(
                        [{"role": "user", "content": "Reply with the word OK."}], temperature=0.0, max_tokens=8, seed=0
                    )
                    return completion.text
                finally:
                    await session.endpoint.aclose()

            text = asyncio.run(ask())
    except Exception as exc:  # noqa: BLE001 - the message of every LLM error already names the fix
        return Check("completion", False, str(exc), f"see the server log {log_path}")
    return Check(
        "completion",
        True,
        f"answered {text.strip()[:40]!r} in {time.perf_counter() - started:.1f} s (server start-up included)",
    )


def check_cache(directory: Path | None) -> Check:
    """Open (creating if needed) the completion cache and run SQLite's integrity check."""
    from clinqa_synth.llm.cache import CompletionCache

    try:
        cache = CompletionCache(directory)
    except Exception as exc:  # noqa: BLE001
        return Check("cache", False, str(exc), "pass --cache-dir to a writable folder or `clinqa-synth cache clear`")
    detail = f"{cache.path}: {len(cache)} completions, readable only by you"
    cache.close()
    return Check("cache", True, detail)


def run_doctor(model: str | None, cache_dir: Path | None, report: Callable[[Check], None]) -> list[Check]:
    """Run every check in order (a completion needs a runtime and a model) and report each as it finishes."""
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        report(check)

    add(check_runtime())
    model_check, model_path = check_model(model)
    add(model_check)
    if checks[0].ok and model_path is not None:
        log = Path(tempfile.mkdtemp(prefix="clinqa-doctor-")) / "embedded-server.log"
        add(check_completion(model_path, log))
    else:
        add(Check("completion", False, "skipped: needs a working runtime and model", "fix the lines above first"))
    add(check_cache(cache_dir))
    return checks
