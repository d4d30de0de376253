"""The embedded LLM server: llama.cpp's OpenAI-compatible server as a child process on 127.0.0.1.

Running the model behind the same HTTP protocol as a user's vLLM/TGI server means there is one
code path for both. The child is started on a free loopback port, health-checked before use, and
stopped on normal exit, on Ctrl-C, on exceptions and — through PR_SET_PDEATHSIG — even when the
parent is killed, so no orphan keeps a few GB of RAM and all cores busy.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import httpx2 as httpx

from clinqa_synth.llm.protocol import FatalLLMError
from clinqa_synth.llm.server_exit import ServerExit

Runtime = Literal["llama-cpp-python", "llama-server"]


class ServerStartError(FatalLLMError):
    """The embedded server could not be started; the message names the missing piece."""


class ServerCrashedError(FatalLLMError):
    """The embedded server died while serving and restarting it cannot help (or did not)."""

    def __init__(self, message: str, exit_status: ServerExit) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def cpu_count() -> int:
    """Cores this process may use (llama-cpp-python's own default is half of them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGKILL the child when the parent dies (even by kill -9).

    SIGKILL, not SIGTERM: uvicorn answers SIGTERM with a graceful shutdown that waits for the request
    in flight, which can take minutes on a CPU; with the parent gone nobody wants that answer.
    """
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def available_runtime(preferred: str = "auto") -> Runtime:
    """Pick the runtime: llama.cpp's native `llama-server` (continuous batching) when present, else llama-cpp-python."""
    if preferred in ("auto", "llama-server") and shutil.which("llama-server"):
        return "llama-server"
    if preferred == "llama-server":
        raise ServerStartError(
            "`llama-server` is not on PATH. Build llama.cpp (cmake -B build && cmake --build build -t llama-server) "
            "or install a release binary, or use --runtime llama-cpp-python."
        )
    missing = [m for m in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette") if importlib.util.find_spec(m) is None]
    if missing:
        raise ServerStartError(
            "The embedded LLM runtime is not installed (missing: " + ", ".join(missing) + "). Install it with "
            "`pip install 'clinqa-synth[local]'` (compiles llama.cpp, ~12 min on 2 cores), or pass --endpoint URL "
            "to use a server you already run."
        )
    return "llama-cpp-python"


class EmbeddedServer:
    """A llama.cpp server child process bound to 127.0.0.1; use as a context manager."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        runtime: str = "auto",
        n_ctx: int = 8192,
        parallel: int = 1,
        n_threads: int | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout_s: float = 600.0,
        log_path: Path | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.runtime: Runtime = available_runtime(runtime)
        self.n_ctx = n_ctx
        self.parallel = max(1, parallel)
        self.n_threads = n_threads or cpu_count()
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_handle = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        threads = str(self.n_threads)
        if self.runtime == "llama-server":
            return [
                str(shutil.which("llama-server")),
                "-m",
                str(self.model_path),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "-c",
                str(self.n_ctx * self.parallel),
                "--parallel",
                str(self.parallel),
                "-t",
                threads,
                "-tb",
                threads,
                "--alias",
                self.model_path.stem,
            ]
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.model_path.stem,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            threads,
            "--n_threads_batch",
            threads,
            "--n_batch",
            "512",
        ]

    def start(self) -> str:
        """Start the child and wait until `/v1/models` answers; returns the base URL."""
        if not self.model_path.is_file():
            raise ServerStartError(f"model file {self.model_path} does not exist")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            os.chmod(self.log_path, 0o600)
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log_handle else subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            status = self.exit_status()
            if status is not None:
                self.stop()
                raise ServerStartError(status.message(f"while loading {self.model_path.name}"))
            try:
                if httpx.get(f"{self.base_url}/v1/models", timeout=2.0).status_code == 200:
                    return self.base_url
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        self.stop()
        raise ServerStartError(
            f"the embedded server did not answer within {self.startup_timeout_s:.0f} s"
            + (f"; see its log {self.log_path}" if self.log_path else "")
        )

    def exit_status(self) -> ServerExit | None:
        """How the child ended, or None while it runs (or was never started / already stopped by us)."""
        process = self.process
        if process is None or process.poll() is None:
            return None
        return ServerExit(process.returncode, self.runtime, self.log_path)

    def restart(self) -> str:
        """Reap a dead child and start a fresh one on a new free port; returns the new base URL."""
        self.stop()
        self.port = free_port(self.host)
        return self.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the child (SIGTERM, then SIGKILL) and reap it; safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:  # a graceful stop waits for the request in flight; Ctrl-C has already abandoned it
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
