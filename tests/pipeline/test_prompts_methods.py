"""Methods and prompts: each method renders a distinct prompt carrying its constraint; bad configs are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinqa_synth.methods import MethodError, available_methods, load_method
from clinqa_synth.pipeline.prompts import PromptError, PromptSet
from clinqa_synth.pipeline.steps import _ask  # noqa: F401 - import check of the step module

PAPER_METHODS = {"direct", "temp_anneal", "prefix", "nooverlap", "summary", "nooverlap_summary", "prefix_summary"}
DOCUMENT = "FINDINGS: Small left pleural effusion.\n\nIMPRESSION: Effusion."
SUMMARY = "symptoms: none\nmedical conditions: pleural effusion"


def question_prompt(name: str, kind: str = "radiology") -> str:
    method = load_method(name)
    prompts = PromptSet(kind)
    source = SUMMARY if method.summarize else DOCUMENT
    prefixes = [method.prefixes[i % len(method.prefixes)] for i in range(10)] if method.prefixes else []
    return prompts.render(
        "questions",
        source_text=source,
        from_summary=method.summarize,
        num_questions=10,
        no_overlap=method.no_overlap,
        prefixes=prefixes,
    )


def test_all_paper_methods_ship() -> None:
    assert PAPER_METHODS <= set(available_methods())


@pytest.mark.parametrize("kind", ["radiology", "clinical_record"])
def test_each_method_renders_a_distinct_prompt_with_its_constraint(kind: str) -> None:
    rendered = {name: question_prompt(name, kind) for name in PAPER_METHODS - {"temp_anneal"}}
    assert len(set(rendered.values())) == len(rendered)
    for name, text in rendered.items():
        method = load_method(name)
        assert ("do not reuse any word" in text) == method.no_overlap, name
        assert ("structured summary" in text) == method.summarize, name
        assert (SUMMARY in text) == method.summarize and (DOCUMENT in text) != method.summarize, name
        if method.prefixes:
            assert "1. is\n2. does\n3. has" in text, name


def test_document_comes_first_for_prefix_reuse() -> None:
    prompts = PromptSet("radiology")
    summary = prompts.render("summary", document=DOCUMENT)
    questions = question_prompt("direct")
    answers = prompts.render(
        "answers",
        section_text="FINDINGS: Small left pleural effusion.",
        section_name="report",
        questions=["Is there fluid?"],
    )
    head = "Here is a radiology report.\n\nFINDINGS: Small left pleural effusion."
    assert summary.startswith(head) and questions.startswith(head) and answers.startswith(head)


def test_summary_prompt_lists_the_schema_fields() -> None:
    text = PromptSet("clinical_record").render("summary", document="x")
    for field in ("patient_history", "diagnosis", "symptoms", "medical_conditions", "exam_results"):
        assert f'"{field}"' in text
    assert "at most 5" in text


def test_temperature_annealing_is_linear_across_documents() -> None:
    method = load_method("temp_anneal")
    assert [method.question_temperature(i, 5) for i in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert load_method("direct").question_temperature(3, 5) == 0.0
    assert method.question_temperature(9, 5) == 1.0, "clamped at the end value"


def test_temperature_anneals_across_the_whole_corpus_when_sharded() -> None:
    from clinqa_synth.documents.model import Document, Section
    from clinqa_synth.documents.shaping import shard_filter, split_long_documents

    docs = [Document(f"d{i}", "radiology", (Section("report", "x " * 10),)) for i in range(9)]
    shard = list(shard_filter(docs, (2, 3)))
    assert [d.position for d in shard] == [2, 5, 8]
    method = load_method("temp_anneal")
    assert [method.question_temperature(d.position, 9) for d in shard] == [0.25, 0.625, 1.0]
    # a split document keeps its corpus position in every chunk
    long = Document("long", "radiology", (Section("report", "word " * 50 + "\n\n" + "word " * 50),), position=4)
    chunks = list(split_long_documents([long], 120))
    assert len(chunks) > 1 and {c.position for c in chunks} == {4}


def test_unknown_config_lists_valid_ones() -> None:
    with pytest.raises(MethodError, match="valid configs: .*nooverlap_summary"):
        load_method("nooverlap_sumary")


@pytest.mark.parametrize(
    "yaml_text,problem",
    [
        ("description: x\nsummarise: true\n", "summarise"),
        ("description: x\ntemperature: hot\n", "temperature"),
        ("description: x\nradiology: {num_questions: 3, keep: 5}\n", "cannot exceed"),
        ("description: [unclosed\n", "not valid YAML"),
        ("- a list\n", "mapping"),
    ],
)
def test_bad_method_yaml_is_named(tmp_path: Path, yaml_text: str, problem: str) -> None:
    (tmp_path / "mine.yaml").write_text(yaml_text)
    with pytest.raises(MethodError, match=problem):
        load_method("mine", tmp_path)


def test_user_prompt_with_unknown_variable_is_named(tmp_path: Path) -> None:
    (tmp_path / "radiology").mkdir()
    (tmp_path / "radiology" / "questions.j2").write_text("{{ source_txt }} please")
    prompts = PromptSet("radiology", tmp_path)
    with pytest.raises(PromptError, match="unknown variable.*source_txt"):
        prompts.render("questions", source_text="x", from_summary=False, num_questions=1, no_overlap=False, prefixes=[])


def test_user_schema_that_is_not_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "radiology.json").write_text("{not json")
    with pytest.raises(PromptError, match="not valid JSON"):
        PromptSet("radiology", tmp_path)


def test_prompt_version_changes_when_a_prompt_is_edited(tmp_path: Path) -> None:
    base = PromptSet("radiology").version
    (tmp_path / "radiology").mkdir()
    (tmp_path / "radiology" / "answers.j2").write_text("{{ section_text }} {{ questions }} edited")
    assert PromptSet("radiology", tmp_path).version != base
