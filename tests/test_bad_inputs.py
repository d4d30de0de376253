"""The bad-input catalogue (docs/bad-inputs.md): each case is one clear message, exit code 2, and no partial output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES

from clinqa_synth.cli import main

REPORT = "EXAMINATION: CT.\nFINDINGS: No bleed.\n\nIMPRESSION: Normal."


def run_cli(args: list[str], capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    return " ".join(err.split())


def no_output(out: Path) -> None:
    assert not list(out.rglob("*.parquet")) if out.exists() else True
    assert not [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")] if out.is_dir() else True


def generate(tmp_path: Path, input_path: Path | str, *extra: str) -> list[str]:
    return [
        "generate",
        "--input",
        str(input_path),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--endpoint",
        "http://127.0.0.1:9",
        "--max-retries",
        "0",
        "--cache-dir",
        str(tmp_path / "cache"),
        *extra,
    ]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


INPUT_CASES = {
    "empty file": ("notes/empty.txt", "", "is empty"),
    "binary file": ("notes/scan.txt", b"\x00\x01\x02\x03PDF", "binary file"),
    "non-UTF-8 file": ("notes/latin.txt", "Pneumonie gauche, épanchement".encode("latin-1"), "not valid UTF-8"),
    "CSV missing the text column": ("notes.csv", "id,note\n1,hello\n", "no column 'text'.*--text-column"),
    "JSONL missing the text column": ("notes.jsonl", '{"id": 1, "body": "x"}\n', "no column 'text'"),
    "JSONL with a broken line": ("notes.jsonl", '{"text": "a"}\n{oops\n', "line 2 is not valid JSON"),
    "malformed JSON": ("reports.json", '{"data": [', "not valid JSON"),
    "SQuAD JSON without paragraphs": ("squad.json", '{"data": [{"title": "x"}]}', "no 'paragraphs'"),
    "SQuAD JSON without context": ("squad.json", '{"data": [{"paragraphs": [{"qas": []}]}]}', "no 'context'"),
    "unsupported file type": ("notes.docx", "x", "unsupported file type"),
    "damaged parquet": ("notes.parquet", "not parquet", "not a readable parquet"),
}


@pytest.mark.parametrize("case", sorted(INPUT_CASES))
def test_bad_input_files(tmp_path: Path, capsys, case: str) -> None:
    name, content, message = INPUT_CASES[case]
    path = write(tmp_path, name, content)
    target = path.parent if name.startswith("notes/") else path
    err = run_cli(generate(tmp_path, target), capsys)
    assert __import__("re").search(message, err), err
    no_output(tmp_path / "out")


def test_empty_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "notes").mkdir()
    assert "no .txt or .md files" in run_cli(generate(tmp_path, tmp_path / "notes"), capsys)


def test_missing_input(tmp_path: Path, capsys) -> None:
    assert "does not exist" in run_cli(generate(tmp_path, tmp_path / "nope"), capsys)


def test_unknown_config_lists_the_valid_ones(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "notes/a.txt", REPORT)
    err = run_cli(generate(tmp_path, path.parent, "--config", "no_overlap"), capsys)
    assert "unknown config 'no_overlap'" in err and "nooverlap_summary" in err
    no_output(tmp_path / "out")


@pytest.mark.parametrize(
    "yaml_text,message",
    [
        ("description: x\nno_overlapp: true\n", "no_overlapp: Extra inputs are not permitted"),
        ("description: x\nmax_tokens: lots\n", "max_tokens"),
        (
            "description: x\nradiology: {num_questions: 2, keep: 5}\n",
            "keep \\(K=5\\) cannot exceed num_questions \\(N=2\\)",
        ),
    ],
)
def test_bad_method_yaml(tmp_path: Path, capsys, yaml_text: str, message: str) -> None:
    write(tmp_path, "methods/mine.yaml", yaml_text)
    path = write(tmp_path, "notes/a.txt", REPORT)
    err = run_cli(
        generate(tmp_path, path.parent, "--config", "mine", "--methods-dir", str(tmp_path / "methods")), capsys
    )
    assert __import__("re").search(message, err), err
    no_output(tmp_path / "out")


def test_unreachable_endpoint_fails_before_any_document(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "notes/a.txt", REPORT)
    err = run_cli(generate(tmp_path, path.parent), capsys)
    assert "cannot reach the LLM endpoint http://127.0.0.1:9" in err and "Is the server running" in err
    no_output(tmp_path / "out")


def test_public_endpoint_is_refused_without_sending_anything(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "notes/a.txt", REPORT)
    args = generate(tmp_path, path.parent)
    args[args.index("--endpoint") + 1] = "http://8.8.8.8:8000"
    assert "--allow-remote-endpoint" in run_cli(args, capsys)


def test_output_folder_holding_another_dataset(tmp_path: Path, capsys) -> None:
    write(tmp_path, "out/README.md", "# somebody else's dataset\n")
    write(tmp_path, "out/data.csv", "a,b\n")
    path = write(tmp_path, "notes/a.txt", REPORT)
    err = run_cli(generate(tmp_path, path.parent), capsys)
    assert "not a clinqa-synth dataset" in err and "Choose an empty or new folder" in err
    assert (tmp_path / "out" / "data.csv").read_text() == "a,b\n"


def test_output_path_that_is_a_file(tmp_path: Path, capsys) -> None:
    write(tmp_path, "out", "file")
    path = write(tmp_path, "notes/a.txt", REPORT)
    assert "is a file" in run_cli(generate(tmp_path, path.parent), capsys)


def test_read_only_output_location(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "notes/a.txt", REPORT)
    args = generate(tmp_path, path.parent)
    args[args.index("--out") + 1] = "/proc/clinqa-synth-out"  # read-only even for root
    err = run_cli(args, capsys)
    assert "/proc/clinqa-synth-out" in err and "cannot create" in err


def test_prompt_with_unknown_variable(tmp_path: Path, capsys) -> None:
    write(tmp_path, "prompts/radiology/questions.j2", "{{ report_text }}\nAsk {{ num_questions }} questions.")
    path = write(tmp_path, "notes/a.txt", REPORT)
    args = generate(tmp_path, path.parent, "--prompts", str(tmp_path / "prompts"), "--config", "direct")
    err = run_cli(args, capsys)
    assert "unknown variable" in err and "report_text" in err and "source_text" in err
    no_output(tmp_path / "out")


def test_schema_file_that_is_not_json(tmp_path: Path, capsys) -> None:
    write(tmp_path, "prompts/schemas/radiology.json", "{symptoms: [")
    path = write(tmp_path, "notes/a.txt", REPORT)
    args = generate(tmp_path, path.parent, "--prompts", str(tmp_path / "prompts"))
    assert "not valid JSON" in run_cli(args, capsys)
    no_output(tmp_path / "out")


def test_wrong_model_name_lists_the_served_models(tmp_path: Path, capsys, llm_server) -> None:
    path = write(tmp_path, "notes/a.txt", REPORT)
    args = generate(tmp_path, path.parent, "--model", "llama-70b")
    args[args.index("--endpoint") + 1] = llm_server.base_url
    err = run_cli(args, capsys)
    assert "'llama-70b' is not served" in err and "qwen2.5-coder-0.5b" in err


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials(tmp_path: Path, capsys, llm_server, status: int) -> None:
    from tests_support import FaultProxy

    path = write(tmp_path, "notes/a.txt", REPORT)
    with FaultProxy(llm_server.base_url) as proxy:
        proxy.get_status = status
        args = generate(tmp_path, path.parent, "--api-key", "wrong-key-123456")
        args[args.index("--endpoint") + 1] = proxy.url
        err = run_cli(args, capsys)
        assert proxy.chat_requests == 0
    assert f"HTTP {status}" in err and "--api-key" in err and "wrong-key-123456" not in err


def test_document_larger_than_the_model_context(tmp_path: Path, capsys, llm_server) -> None:
    long_note = "CHIEF COMPLAINT: cough.\n\n" + " ".join(f"Finding number {i} is unremarkable." for i in range(3000))
    path = write(tmp_path, "notes/long.txt", long_note)
    args = generate(tmp_path, path.parent, "--config", "direct", "--max-section-chars", "1000000")
    args[args.index("--endpoint") + 1] = llm_server.base_url
    err = run_cli(args, capsys)
    assert "context_overflow" in err and "--max-section-chars" in err
    no_output(tmp_path / "out")


@pytest.mark.parametrize(
    "flag,value,message",
    [
        ("--shard", "3/2", "need 0 <= i < n"),
        ("--shard", "x", "use i/n"),
        ("--validation-fraction", "1.5", "must be in"),
    ],
)
def test_bad_run_options(tmp_path: Path, capsys, flag: str, value: str, message: str) -> None:
    path = write(tmp_path, "notes/a.txt", REPORT)
    assert message in run_cli(generate(tmp_path, path.parent, flag, value), capsys)


def test_corrupted_cache_is_reported(tmp_path: Path, capsys) -> None:
    write(tmp_path, "cache/completions.sqlite3", b"garbage" * 1000)
    err = run_cli(["cache", "info", "--cache-dir", str(tmp_path / "cache")], capsys)
    assert "damaged" in err and "clinqa-synth cache clear" in err


def test_gold_file_with_a_wrong_answer_start(tmp_path: Path, capsys) -> None:
    data = json.loads((FIXTURES / "radqa_dev.json").read_text())
    data["data"][1]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 0
    gold = write(tmp_path, "gold.json", json.dumps(data))
    preds = write(tmp_path, "p.json", "{}")
    err = run_cli(["evaluate", "--predictions", str(preds), "--gold", str(gold)], capsys)
    assert "900002_1_O" in err and "answer_start 0 does not point at" in err


def test_predictions_missing_questions(tmp_path: Path, capsys) -> None:
    preds = write(tmp_path, "p.json", '{"900001_1_O": "x"}')
    err = run_cli(["evaluate", "--predictions", str(preds), "--gold", str(FIXTURES / "radqa_dev.json")], capsys)
    assert "have no prediction" in err


def test_experiment_config_with_unknown_key(tmp_path: Path, capsys) -> None:
    config = write(
        tmp_path, "exp.yaml", "output_dir: x\nvalidation_file: a\ntest_file: b\ntraining_sets: [{name: s}]\nepochs: 3\n"
    )
    assert "epochs: Extra inputs are not permitted" in run_cli(["experiment", str(config)], capsys)
