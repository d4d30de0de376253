"""Shared fixtures: a real embedded llama.cpp server with the small packaged model, started once per session."""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def require(available: bool, reason: str) -> None:
    """Skip a test whose dependency is missing on a developer's machine; in CI (CI set) fail instead.

    CI installs everything (scripts/setup.sh), so a missing runtime, model, torch/transformers/evaluate or
    ../shared/data there is a broken install that must not hide behind a skip.
    """
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


def require_module(name: str) -> object:
    """Import `name` or skip/fail as `require` does."""
    require(importlib.util.find_spec(name) is not None, f"{name} is not installed")
    return importlib.import_module(name)


def _runtime_missing() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install -e '.[local-small]')"
    from clinqa_synth.llm.models import PACKAGED_MODELS, SMALL_MODEL, ModelUnavailableError, packaged_parts

    try:
        packaged_parts(PACKAGED_MODELS[SMALL_MODEL])
    except ModelUnavailableError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def small_model_path() -> Path:
    reason = _runtime_missing()
    require(reason is None, f"real-server tests: {reason}")
    from clinqa_synth.llm.models import resolve_model

    return resolve_model("small")


@pytest.fixture(scope="session")
def llm_server(small_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The real llama.cpp server on 127.0.0.1 with the 0.5B packaged model, stopped after the session."""
    from clinqa_synth.llm.server import EmbeddedServer

    log = tmp_path_factory.mktemp("server") / "server.log"
    server = EmbeddedServer(small_model_path, runtime="llama-cpp-python", n_ctx=8192, log_path=log)
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("CLINQA_SYNTH_CACHE", str(directory))
    return directory


SAMPLE_DOCS = ("synthetic-chest-xray-002.txt", "synthetic-mri-knee-004.txt")


def copy_sample_reports(folder: Path, names: tuple[str, ...] = SAMPLE_DOCS) -> Path:
    """A folder of bundled synthetic radiology reports (two sections each), as a user's notes folder."""
    import shutil

    from clinqa_synth.cli import samples_dir

    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(samples_dir("radiology") / name, folder / name)
    return folder


@pytest.fixture()
def notes(tmp_path: Path) -> Path:
    return copy_sample_reports(tmp_path / "notes")


@pytest.fixture(scope="session")
def generated(small_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two sample reports through `direct` and `nooverlap_summary`, on a freshly started embedded server."""
    from clinqa_synth.cli import main

    root = tmp_path_factory.mktemp("e2e")
    notes = copy_sample_reports(root / "notes", ("synthetic-chest-xray-002.txt", "synthetic-us-abdomen-003.txt"))
    out = root / "out"
    args = [
        "generate",
        "--input",
        str(notes),
        "--config",
        "direct,nooverlap_summary",
        "--out",
        str(out),
        "--model",
        "small",
        "--methods-dir",
        str(FIXTURES / "test_methods"),
        "--cache-dir",
        str(root / "cache"),
        "--quiet",
    ]
    assert main(args) == 0
    return {"args": args, "out": out, "root": root}


LLM_FIXTURES = {"llm_server", "small_model_path", "generated", "uninterrupted"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses the real server or model is marked `llm`, whether or not its module says so.

    So `pytest -m "not llm"` (fast logic tests) never starts llama.cpp, and no such test can be forgotten.
    """
    for item in items:
        if LLM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.llm)
