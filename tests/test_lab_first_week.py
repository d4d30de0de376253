"""What a clinical NLP lab hits in its first week: MIMIC-IV-Note files, pilot runs, named configs, honest cards.

The CLI tests run the real llama.cpp server; the logic tests beside them use a scripted chat client that speaks the
project's chat protocol, so each rule is asserted on fixed model output in milliseconds.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import datasets
import pytest
import yaml
from conftest import FIXTURES

from clinqa_synth.cli import main
from clinqa_synth.dataset.folder import DatasetFolder
from clinqa_synth.dataset.push import PushRefused, plan_push
from clinqa_synth.documents.readers import InputError, read_documents
from clinqa_synth.errors import ClinqaError
from clinqa_synth.llm.accounting import Accounting
from clinqa_synth.llm.protocol import Completion, Usage
from clinqa_synth.pipeline.api import generate_to_folder
from clinqa_synth.pipeline.estimate import project
from clinqa_synth.report import build_report

# Synthetic notes in MIMIC-IV-Note's published layout (discharge.csv / radiology.csv columns); no real note.
MIMIC_COLUMNS = ["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime", "storetime", "text"]
MIMIC_ROWS = [
    [
        "10000001-DS-1",
        "10000001",
        "20000001",
        "DS",
        "1",
        "2180-05-06 00:00:00",
        "2180-05-07 12:00:00",
        "Discharge Diagnosis: community acquired pneumonia.\n\nHospital Course: Treated with ceftriaxone and "
        "azithromycin for five days. Oxygen weaned to room air on day three.\n\nDischarge Medications: none new.",
    ],
    [
        "10000002-DS-1",
        "10000002",
        "20000002",
        "DS",
        "1",
        "2181-01-02 00:00:00",
        "2181-01-03 09:00:00",
        "Discharge Diagnosis: left ankle fracture.\n\nHospital Course: Open reduction and internal fixation on "
        "hospital day one without complication.\n\nDischarge Instructions: non weight bearing for six weeks.",
    ],
    [
        "10000003-RR-7",
        "10000003",
        "20000003",
        "RR",
        "7",
        "2182-03-04 10:00:00",
        "2182-03-04 11:00:00",
        "EXAMINATION: Chest radiograph.\nFINDINGS: No focal consolidation. No pleural effusion.\n"
        "IMPRESSION: No acute cardiopulmonary process.",
    ],
]


def write_mimic_iv_note(path: Path, rows: list[list[str]] = MIMIC_ROWS) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:  # type: ignore[operator]
        writer = csv.writer(handle)
        writer.writerow(MIMIC_COLUMNS)
        writer.writerows(rows)
    return path


# --- readers ---------------------------------------------------------------------------------------------------


def test_mimic_iv_note_is_recognised_credentialed_and_filtered(tmp_path: Path) -> None:
    path = write_mimic_iv_note(tmp_path / "discharge.csv.gz")
    documents = list(read_documents(path))
    assert [d.id for d in documents] == ["10000001-DS-1", "10000002-DS-1", "10000003-RR-7"]
    assert all(d.credentialed for d in documents)
    assert [d.kind for d in documents] == ["clinical_record", "clinical_record", "radiology"]
    radiology = list(read_documents(path, where=[("note_type", "RR")]))
    assert [d.id for d in radiology] == ["10000003-RR-7"]


def test_where_names_the_problem(tmp_path: Path) -> None:
    path = write_mimic_iv_note(tmp_path / "radiology.csv")
    with pytest.raises(InputError, match="no column 'note_kind'"):
        list(read_documents(path, where=[("note_kind", "RR")]))
    with pytest.raises(InputError, match="no row has note_type=XX"):
        list(read_documents(path, where=[("note_type", "XX")]))
    (tmp_path / "broken.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="complete .gz"):
        list(read_documents(tmp_path / "broken.csv.gz"))


def test_credentialed_flag_marks_a_plain_table(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"id": "n1", "text": "FINDINGS: Normal.\nIMPRESSION: Normal study."}) + "\n")
    assert not next(read_documents(path)).credentialed
    assert next(read_documents(path, credentialed=True)).credentialed


# --- a scripted generator (the project's chat protocol), for fast logic tests --------------------------------------


class ScriptedModel:
    """Answers the question prompt with two questions and the answer prompt with a quotation from the text."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.accounting = Accounting()

    async def chat(self, messages: list, **params: Any) -> Completion:
        prompt = messages[0]["content"]
        if "numbered list" in prompt:
            text = "1. What was the treatment given?\n2. Is there a pleural effusion?"
        else:
            quote = "ceftriaxone" if "ceftriaxone" in prompt else "Unanswerable"
            text = json.dumps({"answers": [{"number": 1, "answer": quote}, {"number": 2, "answer": "Unanswerable"}]})
        completion = Completion(text, "stop", Usage(50, 20))
        self.accounting.record_call(completion)
        return completion


def generate_scripted(out: Path, model: str, **kwargs: Any) -> Any:
    texts = [row[-1] for row in MIMIC_ROWS[:2]]
    return generate_to_folder(
        texts,
        config="direct",
        out=out,
        chat=ScriptedModel(model),
        kind="clinical_record",
        methods_dir=FIXTURES / "test_methods",
        show_progress=False,
        **kwargs,
    )


def test_a_pilot_run_projects_the_whole_input(tmp_path: Path) -> None:
    summary = generate_scripted(tmp_path / "out", "gen-a", limit=1)
    assert summary.documents == 1 and summary.whole_input == 2
    estimate = json.loads((tmp_path / "out" / "direct" / "generation.json").read_text())["estimate"]
    assert estimate["basis_documents"] == 1 and estimate["documents"] == 2
    assert estimate["calls"] == 2 * summary.llm_usage["calls"]
    assert project(4, 100, {"calls": 8, "cache_hits": 4, "completion_tokens": 400}, 20.0)["calls"] == 300


def test_configs_named_by_their_generator_sit_side_by_side_and_are_compared(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate_scripted(out, "llama-3.1-8b", name="direct@llama-3.1-8b")
    generate_scripted(out, "llama-3.1-70b", name="direct@llama-3.1-70b")
    assert set(DatasetFolder(out).configs()) == {"direct@llama-3.1-8b", "direct@llama-3.1-70b"}
    rows = datasets.load_dataset(str(out), "direct@llama-3.1-70b", split="train").to_list()
    assert rows and {r["model"] for r in rows} == {"llama-3.1-70b"}
    card = (out / "README.md").read_text()
    assert "`llama-3.1-8b`" in card and "`llama-3.1-70b`" in card
    report = build_report(out).read_text()
    assert "## Generator models compared" in report
    assert report.index("`llama-3.1-70b` | `direct@llama-3.1-70b`") > 0
    with pytest.raises(ClinqaError, match="config name"):
        generate_scripted(out, "x", name="../escape")


def test_the_card_carries_no_local_path_and_real_sizes(tmp_path: Path) -> None:
    out = tmp_path / "alice-private" / "clinqa_synth"
    generate_scripted(out, "gen-a")
    card = (out / "README.md").read_text()
    assert "alice-private" not in card and str(tmp_path) not in card
    assert 'load_dataset("clinqa_synth", "direct")' in card
    assert "github.com/clinqa-synth" not in card
    header = yaml.safe_load(card.split("---")[1])
    info = header["dataset_info"]
    assert info["splits"][0]["num_bytes"] > 0 and info["dataset_size"] > 0 and info["download_size"] > 0


def test_a_folder_marked_credentialed_stays_so_and_refuses_public_pushes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate_scripted(out, "gen-a", credentialed=True)
    generate_scripted(out, "gen-b", name="direct@gen-b")  # a later run without the flag
    generations = DatasetFolder(out).configs()
    assert all(g["credentialed"] for g in generations.values())
    assert "data-use agreement" in (out / "README.md").read_text()
    with pytest.raises(PushRefused, match="credentialed"):
        plan_push(out, "org/name", public=True)
    assert plan_push(out, "org/name", public=False).private


# --- through the CLI, on the real server ----------------------------------------------------------------------------


def cli_generate(source: Path, out: Path, cache: Path, endpoint: str, *extra: str) -> list[str]:
    return [
        "generate",
        "--input",
        str(source),
        "--config",
        "direct",
        "--out",
        str(out),
        "--quiet",
        "--methods-dir",
        str(FIXTURES / "test_methods"),
        "--cache-dir",
        str(cache),
        "--endpoint",
        endpoint,
        *extra,
    ]


@pytest.mark.llm
def test_a_mimic_pilot_run_from_the_cli(llm_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_mimic_iv_note(tmp_path / "discharge.csv.gz")
    out = tmp_path / "out"
    args = cli_generate(
        source,
        out,
        tmp_path / "cache",
        llm_server.base_url,
        "--where",
        "note_type=DS",
        "--limit",
        "1",
        "--name",
        "{method}@qwen-0.5b",
    )
    assert main(args) == 0
    printed = capsys.readouterr().err
    assert "of 2 (--limit)" in printed and "estimate for all 2 documents" in printed
    generation = json.loads((out / "direct@qwen-0.5b" / "generation.json").read_text())
    assert generation["documents"]["total"] == 1 and generation["estimate"]["documents"] == 2
    assert generation["credentialed"] and generation["config"] == "direct@qwen-0.5b"
    if generation["splits"]["train"]:  # the test model may keep no pair of one note: then the CLI says why
        rows = datasets.load_dataset(str(out), "direct@qwen-0.5b", split="train").to_list()
        assert {r["document_id"] for r in rows} == {"10000001-DS-1"}
    else:
        assert "no pair of direct was kept" in printed and "load with" not in printed
    assert main(["push", str(out), "org/name", "--public", "--dry-run"]) == 2
    # the stored recipe re-runs the same prompts: on the same documents every call comes from the cache
    again = tmp_path / "again"
    rerun = [
        "generate",
        "--recipe",
        str(out / "direct@qwen-0.5b"),
        "--input",
        str(source),
        "--where",
        "note_type=DS",
        "--limit",
        "1",
        "--out",
        str(again),
        "--quiet",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--endpoint",
        llm_server.base_url,
    ]
    assert main(rerun) == 0
    replayed = json.loads((again / "direct@qwen-0.5b" / "generation.json").read_text())
    assert replayed["llm_usage"]["calls"] == 0 and replayed["llm_usage"]["cache_hits"] > 0
    assert replayed["prompt_files"] == generation["prompt_files"]
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), str(out)]) == 0
    assert DatasetFolder(merged).credentialed
    assert main(["push", str(merged), "org/name", "--public", "--dry-run"]) == 2
    assert "credentialed" in capsys.readouterr().err


@pytest.mark.llm
def test_a_cached_rerun_keeps_the_cost_of_producing_the_rows(llm_server, notes: Path, tmp_path: Path) -> None:
    one = ("--limit", "1")  # one document shows the cost carried over; two would double the real calls
    args = cli_generate(notes, tmp_path / "out", tmp_path / "cache", llm_server.base_url, *one)
    assert main(args) == 0
    first = json.loads((tmp_path / "out" / "direct" / "generation.json").read_text())
    assert main(args) == 0  # everything from the cache now
    again = json.loads((tmp_path / "out" / "direct" / "generation.json").read_text())
    assert again["llm_usage"]["calls"] == 0 and again["llm_usage"]["cache_hits"] > 0
    assert again["production"] == first["production"] and first["production"]["calls"] > 0
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"LLM cost of these rows: {first['production']['calls']} calls" in card
    assert "re-run served from the completion cache" in card
    # the same rows in a new folder from a cache filled elsewhere: the cost is still the completions' own
    fresh = cli_generate(notes, tmp_path / "other", tmp_path / "cache", llm_server.base_url, *one)
    assert main(fresh) == 0
    other = json.loads((tmp_path / "other" / "direct" / "generation.json").read_text())["production"]
    assert other["completion_tokens"] == first["production"]["completion_tokens"] and other["wall_s"] is None
    shutil.rmtree(tmp_path / "other")


def test_a_config_carries_its_recipe_and_reruns_from_it(tmp_path: Path) -> None:
    prompts = tmp_path / "my-prompts" / "clinical_record"
    prompts.mkdir(parents=True)
    from clinqa_synth.pipeline.prompts import builtin_prompts_dir

    edited = (builtin_prompts_dir() / "clinical_record" / "questions.j2").read_text() + "\nAsk like a cardiologist."
    (prompts / "questions.j2").write_text(edited)
    out = tmp_path / "out"
    generate_scripted(out, "gen-a", prompts_dir=tmp_path / "my-prompts", max_tokens_per_step={"verify": 2048})
    recipe = out / "direct" / "recipe"
    assert (recipe / "prompts" / "clinical_record" / "questions.j2").read_text() == edited
    assert (recipe / "prompts" / "schemas" / "radiology.json").is_file()
    method = yaml.safe_load((recipe / "method.yaml").read_text())
    assert method["max_tokens_per_step"] == {"verify": 2048} and method["name"] == "direct"
    assert "direct/recipe/method.yaml" in plan_push(out, "org/name").files
    generation = json.loads((out / "direct" / "generation.json").read_text())

    from clinqa_synth.dataset.recipe import read_recipe

    method_file, prompts_dir, name = read_recipe(out / "direct")
    again = tmp_path / "again"
    texts = [row[-1] for row in MIMIC_ROWS[:2]]
    generate_to_folder(
        texts,
        config=str(method_file),
        out=again,
        chat=ScriptedModel("gen-a"),
        kind="clinical_record",
        prompts_dir=prompts_dir,
        name=name,
        show_progress=False,
    )
    rerun = json.loads((again / "direct" / "generation.json").read_text())
    assert rerun["prompt_files"] == generation["prompt_files"] and rerun["method"] == generation["method"]
    with pytest.raises(ClinqaError, match="no recipe/method.yaml"):
        read_recipe(tmp_path)
    assert main(["generate", "--recipe", str(out / "direct"), "--config", "direct", "--input", "x"]) == 2


def test_the_report_puts_each_training_sets_scores_beside_its_cost(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate_scripted(out, "gen-a")
    results = out / "experiments" / "covidqa" / "results.json"
    results.parent.mkdir(parents=True)
    training_sets = [
        {"name": "gold", "train_file": "gold.json"},
        {"name": "direct", "dataset_name": str(out), "dataset_config_name": "direct"},
    ]
    config = {"seeds": [1, 2], "test_file": None, "training_sets": training_sets}
    table = {
        "gold": {"exact": [30.0, 1.0], "f1": [50.0, 2.0], "ro": [60.0, 1.5], "ro_no_overlap": [40.0, 3.0]},
        "direct": {"exact": [10.0, 0.5], "f1": [20.0, 1.0], "ro": [35.0, 2.5], "ro_no_overlap": [25.0, 1.0]},
    }
    results.write_text(json.dumps({"config": config, "table": table}))
    report = build_report(out).read_text()
    gold = next(line for line in report.splitlines() if line.startswith("| gold |"))
    direct = next(line for line in report.splitlines() if line.startswith("| direct |"))
    assert "50.0 ± 2.0" in gold and gold.rstrip(" |").endswith("–")
    cells = [c.strip() for c in direct.strip("|").split("|")]
    rows = datasets.load_dataset(str(out), "direct", split="train").num_rows
    assert cells[1:5] == ["10.0 ± 0.5", "20.0 ± 1.0", "35.0 ± 2.5", "25.0 ± 1.0"] and cells[5] == str(rows)
    assert "same gold dev split" in report
    assert (out / "report" / "experiment-covidqa.png").read_bytes()[:4] == b"\x89PNG"


def test_merged_shards_keep_their_summed_cost_and_their_recipe(tmp_path: Path) -> None:
    parts = [tmp_path / f"shard-{i}" for i in range(2)]
    for i, part in enumerate(parts):
        generate_scripted(part, "gen-a", shard=(i, 2))
    productions = [json.loads((p / "direct" / "generation.json").read_text())["production"] for p in parts]
    assert main(["merge", str(tmp_path / "merged"), *map(str, parts)]) == 0
    merged = json.loads((tmp_path / "merged" / "direct" / "generation.json").read_text())["production"]
    assert merged["completion_tokens"] == sum(p["completion_tokens"] for p in productions) > 0
    assert merged["wall_s"] == pytest.approx(sum(p["wall_s"] for p in productions))
    assert (tmp_path / "merged" / "direct" / "recipe" / "method.yaml").is_file()


def test_a_partly_cached_rerun_adds_its_time_to_the_run_that_produced_the_rest() -> None:
    """A re-run after a changed check makes a few new calls and takes the rest from the cache: the rows cost the
    earlier run's time plus its own (issue 15's generation times per method come from this); --refresh adds none."""
    from clinqa_synth.pipeline.api import RunSummary, production_cost

    earlier = {"production": {"calls": 70, "wall_s": 1490.0, "completion_tokens": 12000}}
    partly = RunSummary("direct", llm_usage={"calls": 5, "cache_hits": 70, "completion_tokens": 300}, wall_s=60.0)
    cost = production_cost(partly, earlier, "now")
    assert cost["wall_s"] == 1550.0 and cost["calls"] == 75 and "earlier run" in cost["note"]
    again = production_cost(partly, {"production": cost}, "later")  # another tweak: added to the first run once
    assert again["wall_s"] == 1550.0
    refreshed = RunSummary("direct", llm_usage={"calls": 75, "cache_hits": 0}, wall_s=1500.0)
    assert production_cost(refreshed, earlier, "now")["wall_s"] == 1500.0
    assert production_cost(partly, None, "now")["wall_s"] == 60.0  # nothing earlier to add
