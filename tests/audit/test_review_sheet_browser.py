"""The review sheet in a real headless browser: a reviewer labels pairs, saves labels.csv, and it scores.

Debian's Chromium driven by Playwright (`.ci/run` installs the chromium package; Playwright's own browser
download is not needed). Nothing here is mocked: the page is the file `clinqa-synth audit` wrote.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import require, require_module
from tests_support import write_config

QUESTIONS = [f"Where is lesion number {i}?" for i in range(6)]


def test_a_reviewer_labels_the_sheet_in_a_browser_and_the_saved_labels_score(tmp_path: Path) -> None:
    sync_api = require_module("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    require(chromium is not None, "Debian's chromium is not installed (apt-get install chromium)")
    out = tmp_path / "ds"
    write_config(out, "direct", QUESTIONS)
    drawn = subprocess.run(
        [sys.executable, "-m", "clinqa_synth.cli", "audit", str(out), "--sample", "4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert drawn.returncode == 0, drawn.stderr

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(accept_downloads=True)
        page.goto((out / "audit" / "review.html").as_uri())
        pairs = page.locator(".pair")
        assert pairs.count() == 4
        assert [pairs.nth(i).locator("mark").inner_text() for i in range(4)] == ["def"] * 4
        for i, label in enumerate(["correct", "wrong_span", "correct", "bad_question"]):
            pairs.nth(i).locator("select.label").select_option(label)
        pairs.nth(1).locator("input.note").fill('span is "def", answer is elsewhere, really')
        with page.expect_download() as download:
            page.click("#save")
        saved = tmp_path / "labels.csv"
        download.value.save_as(saved)
        assert "4 of 4 labelled" in page.locator("#done").inner_text()
        browser.close()

    rows = list(csv.DictReader(saved.open()))
    assert [r["label"] for r in rows] == ["correct", "wrong_span", "correct", "bad_question"]
    assert rows[1]["note"] == 'span is "def", answer is elsewhere, really', "quotes and commas survive the CSV"
    scored = subprocess.run(
        [sys.executable, "-m", "clinqa_synth.cli", "audit", str(out), "--score", str(saved)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scored.returncode == 0, scored.stderr
    assert json.loads((out / "direct" / "audit.json").read_text())["answerable"]["precision"] == 0.5
