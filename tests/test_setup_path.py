"""The set-up path the README and CI share: one script, one pinned llama.cpp build, README command 1 parsed."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

from conftest import require

ROOT = Path(__file__).resolve().parents[1]


def _llama_requirement(extra: str) -> str:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return next(line for line in cfg["options.extras_require"][extra].split("\n") if line.startswith("llama-cpp"))


def test_both_local_extras_pin_the_llama_cpp_version_setup_sh_builds() -> None:
    # scripts/setup.sh builds the version pinned in `local`; `local-small` must ask for the very same wheel
    assert _llama_requirement("local") == _llama_requirement("local-small")
    assert "==" in _llama_requirement("local")


def test_readme_command_1_is_what_ci_runs_and_uses_the_shared_setup_script() -> None:
    command = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_command.py"), "1"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert command.startswith("bash scripts/setup.sh") and "clinqa-synth generate" in command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/readme_command.py 1" in ci and "bash scripts/setup.sh" in ci
    assert "CMAKE_ARGS" not in ci, "CI must not know an install step the README's command does not run"


def test_the_installed_runtime_is_the_portable_build_setup_sh_made() -> None:
    marker = Path(sys.prefix) / ".clinqa-synth-llama-build"
    require(marker.exists(), "llama-cpp-python was not installed by scripts/setup.sh")
    assert "-DGGML_NATIVE=OFF" in marker.read_text()
