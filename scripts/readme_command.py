"""Print the README's numbered set-up commands, so CI runs exactly what a new user reads.

The README's first ```bash block holds "# 1. …" / "# 2. …" comment headers each followed by one command line;
`python scripts/readme_command.py 1` prints command 1. CI runs it verbatim, so README and CI cannot drift.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def readme_commands(readme: Path) -> dict[int, str]:
    """Map each numbered command of the README's first bash block to its command line."""
    text = readme.read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    if block is None:
        raise SystemExit(f"{readme}: no ```bash block")
    commands: dict[int, str] = {}
    number: int | None = None
    for line in block.group(1).splitlines():
        header = re.match(r"#\s*(\d+)\.", line)
        if header:
            number = int(header.group(1))
        elif line.strip() and not line.lstrip().startswith("#") and number is not None:
            commands[number] = line.strip()
            number = None
    return commands


if __name__ == "__main__":
    wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    found = readme_commands(Path(__file__).resolve().parents[1] / "README.md")
    if wanted not in found:
        raise SystemExit(f"README has no command {wanted} (found {sorted(found)})")
    print(found[wanted])
