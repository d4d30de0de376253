"""The requote step: answers that paraphrase instead of quoting get one follow-up call asking for the exact words.

The real model cannot be made to paraphrase on demand, so a wire-protocol proxy rewrites the real answers
completions into reworded answers (the failure small models show); the follow-up call goes to the real model.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from conftest import FIXTURES
from tests_support import FaultProxy

from clinqa_synth.cli import main
from clinqa_synth.pipeline.prompts import builtin_prompts_dir

pytestmark = pytest.mark.llm
ANSWERS_PROMPT = "Answer each question below using only"  # in the answers prompt, not in the requote prompt
REQUOTE_PROMPT = "were not found word for word"  # only in the requote prompt


def _generate(proxy_url: str, notes: Path, out: Path, cache: Path, methods: Path, *extra: str) -> dict:
    args = [
        "generate",
        "--input",
        str(notes),
        "--config",
        "direct",
        "--out",
        str(out),
        "--quiet",
        "--methods-dir",
        str(methods),
        "--cache-dir",
        str(cache),
        "--endpoint",
        proxy_url,
        "--structured",
        "llama-cpp-python",
        *extra,
    ]
    assert main(args) == 0
    return json.loads((out / "direct" / "generation.json").read_text())


def test_paraphrased_answers_are_requoted_or_dropped(llm_server, notes, tmp_path) -> None:
    paper, requote = tmp_path / "paper-methods", tmp_path / "requote-methods"
    # room for a requote answer that rambles (the same budget for both, so the first-pass calls are shared)
    method = (FIXTURES / "test_methods" / "direct.yaml").read_text().replace("max_tokens: 512", "max_tokens: 1024")
    for folder, extra in ((paper, ""), (requote, "requote: true\n")):  # the default is off: the paper's pipeline
        folder.mkdir()
        (folder / "direct.yaml").write_text(method + extra)
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.rules.append((ANSWERS_PROMPT, "paraphrase"))
        with_requote = _generate(proxy.url, notes, tmp_path / "out", tmp_path / "cache", requote)
        without = _generate(proxy.url, notes, tmp_path / "paper", tmp_path / "cache", paper)
        # the optional call failing (here: a server that keeps answering 503 to it) costs no document its pairs
        prompts = tmp_path / "prompts" / "radiology"
        prompts.mkdir(parents=True)
        (prompts / "requote.j2").write_text(
            (builtin_prompts_dir() / "radiology" / "requote.j2").read_text() + "\nJSON only."
        )
        proxy.rules.insert(0, (REQUOTE_PROMPT, "503"))
        failing = _generate(
            proxy.url,
            notes,
            tmp_path / "failing",
            tmp_path / "cache",
            requote,
            "--prompts",
            str(prompts.parent),
            "--max-retries",
            "1",
        )
    assert failing["documents"]["failed"] == 0 and failing["requote_failed_calls"] > 0

    def pairs(out: Path) -> list[dict]:  # the prompt override changes only the recorded prompt version
        return [
            {k: v for k, v in r.items() if k != "prompt_version"}
            for r in datasets.load_dataset(str(out), "direct", split="train")
        ]

    assert pairs(tmp_path / "failing") == pairs(tmp_path / "paper")

    # the paper's pipeline: every reworded answer is unplaceable, only "Unanswerable" survives
    assert without["requoted"] == 0 and set(without["placement"]) <= {"unanswerable"}
    assert without["drops"]["unplaceable"] > 0
    # with requote: each unplaceable answer was asked again once, and the real model quoted some of them
    assert with_requote["requoted"] == without["drops"]["unplaceable"]
    recovered = {k: n for k, n in with_requote["placement"].items() if k.startswith("requote_")}
    assert sum(recovered.values()) > 0, with_requote
    assert with_requote["drops"]["unplaceable"] == with_requote["requoted"] - sum(recovered.values())
    assert with_requote["completion_tokens_by_step"]["requote"] > 0
    rows = datasets.load_dataset(str(tmp_path / "out"), "direct", split="train").to_list()
    requoted_rows = [r for r in rows if r["match"].startswith("requote_")]
    assert requoted_rows
    for row in requoted_rows:
        assert "(reworded)" not in row["model_answer"]  # the kept answer is the model's second, quoted one
        if not row["is_impossible"]:
            (text,), (start,) = row["answers"]["text"], row["answers"]["answer_start"]
            assert row["context"][start : start + len(text)] == text
