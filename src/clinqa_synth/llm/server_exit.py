"""What an embedded server's exit means, and what the user should do about it.

A child that dies is otherwise seen only as a refused connection, retried for minutes and reported
as "could not reach http://127.0.0.1:PORT". The exit status says far more: SIGILL is a llama.cpp build
that uses CPU instructions this machine cannot run (a native build on a VM that advertises AVX-512/AMX
it traps), SIGKILL is usually the kernel's out-of-memory killer. One function turns the status into a
message naming what happened, why, the fix, and the log with its last lines.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

# The portable flags scripts/setup.sh uses on x86-64 (x86-64-v3: AVX2/FMA/F16C, never AVX-512/AMX).
PORTABLE_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
REBUILD_HINT = (
    "rebuild it portably: in a clinqa-synth checkout run `bash scripts/setup.sh` (it keeps the portable wheel "
    f'for later set-ups), or `CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" pip install --force-reinstall --no-cache-dir '
    "--no-deps llama-cpp-python==$(pip show llama-cpp-python | sed -n 's/^Version: //p')`; then run "
    "`clinqa-synth doctor`"
)

_MEANINGS: dict[int, str] = {
    signal.SIGILL: "this llama.cpp build uses CPU instructions this machine cannot run (a native "
    "-march=native build, or one made on another machine); " + REBUILD_HINT,
    signal.SIGKILL: "it was killed from outside, most often by the kernel's out-of-memory killer (see `dmesg`); "
    "free memory, or use a smaller model (--model small) or a smaller --n-ctx",
    signal.SIGSEGV: "llama.cpp crashed (segmentation fault); the model file may be damaged "
    "(`clinqa-synth doctor` re-checks it) or this llama.cpp version has a bug",
    signal.SIGBUS: "llama.cpp crashed (bus error), often a model file changed or truncated while mapped",
    signal.SIGABRT: "llama.cpp aborted (an assertion failed); the log's last lines say which",
    signal.SIGTERM: "it was asked to stop by another process",
}


@dataclass(frozen=True)
class ServerExit:
    """How the embedded server ended: the raw return code plus where its log is."""

    returncode: int
    runtime: str
    log_path: Path | None = None

    @property
    def signal_name(self) -> str | None:
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"

    @property
    def is_build_problem(self) -> bool:
        """A crash that happens again on restart: the binary itself cannot run here."""
        return self.returncode == -signal.SIGILL

    def what(self) -> str:
        return f"killed by {self.signal_name}" if self.signal_name else f"exited with code {self.returncode}"

    def meaning(self) -> str:
        if self.returncode < 0:
            return _MEANINGS.get(-self.returncode, "it was killed by a signal")
        return "it stopped by itself; the log says why" if self.returncode else "it stopped without an error"

    def log_tail(self, max_chars: int = 1500) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-max_chars:].decode("utf-8", "replace").strip()

    def message(self, when: str = "while serving") -> str:
        """One message: what happened, what it usually means with the fix, the log's path and last lines."""
        text = f"the embedded {self.runtime} server was {self.what()} {when}: {self.meaning()}."
        if self.log_path is not None:
            text += f" Server log: {self.log_path}"
            tail = self.log_tail()
            if tail:
                text += "; its last lines:\n" + tail
        return text
