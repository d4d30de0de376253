"""Every command's --help works: the first thing a new user types, and argparse fails it on a stray "%"."""

from __future__ import annotations

import pytest

from clinqa_synth.cli import build_parser, main


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(action.choices)


@pytest.mark.parametrize("command", subcommands())
def test_every_command_prints_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and command in out.split("\n", 1)[0], out[:300]
    if command == "train":  # run_qa's own flags, not clinqa-synth's
        assert "--train_file" in out and "--version_2_with_negative" in out
