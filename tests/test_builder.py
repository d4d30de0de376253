"""The `datasets.GeneratorBasedBuilder` subclass: one config per method, a cache id that covers what shapes
the rows (so edits never reuse stale data), and generation through the same pipeline as the CLI."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import datasets
import pytest
from conftest import FIXTURES, SAMPLE_DOCS
from tests_support import FaultProxy

from clinqa_synth.builder import ClinqaSynth
from clinqa_synth.errors import ClinqaError
from clinqa_synth.llm.session import LLMSettings
from clinqa_synth.methods import available_methods
from clinqa_synth.pipeline.prompts import builtin_prompts_dir


def test_one_builder_config_per_shipped_method() -> None:
    assert [c.name for c in ClinqaSynth.BUILDER_CONFIGS] == sorted(available_methods())
    assert {"direct", "temp_anneal", "prefix", "nooverlap", "summary", "nooverlap_summary", "prefix_summary"} <= set(
        ClinqaSynth.builder_configs
    )


def test_config_id_changes_with_everything_that_shapes_the_rows(notes, small_model_path, tmp_path) -> None:
    def config_id(**overrides) -> str:
        kwargs = {
            "config_name": "direct",
            "documents": str(notes),
            "llm": LLMSettings(model=str(small_model_path)),
            "cache_dir": str(tmp_path / "hf"),
        }
        kwargs.update(overrides)
        return ClinqaSynth(**kwargs).config_id

    base = config_id()
    assert base.startswith("direct-") and config_id() == base, "stable for identical inputs"
    assert config_id(config_name="nooverlap") != base
    assert config_id(validation_fraction=0.5) != base
    assert config_id(kind="radiology") != base
    # an edited prompt template
    prompts = tmp_path / "prompts"
    (prompts / "radiology").mkdir(parents=True)
    template = (builtin_prompts_dir() / "radiology" / "answers.j2").read_text()
    (prompts / "radiology" / "answers.j2").write_text(template)
    assert config_id(prompts_dir=str(prompts)) == base, "an identical override is the same prompt"
    (prompts / "radiology" / "answers.j2").write_text(template + "\nQuote the report exactly.")
    assert config_id(prompts_dir=str(prompts)) != base
    # an edited method YAML (a user's own method of the same name)
    methods = tmp_path / "methods"
    shutil.copytree(FIXTURES / "test_methods", methods)
    mine = config_id(methods_dir=str(methods))
    assert mine != base  # the fixture's direct.yaml asks fewer questions than the shipped one
    (methods / "direct.yaml").write_text((methods / "direct.yaml").read_text() + "seed: 7\n")
    assert config_id(methods_dir=str(methods)) != mine
    # another model file (same bytes under another name count as another model, as in the completion cache)
    other = tmp_path / "renamed-model.gguf"
    other.symlink_to(small_model_path)
    assert config_id(llm=LLMSettings(model=str(other))) != base
    # an edited document
    (notes / SAMPLE_DOCS[0]).write_text((notes / SAMPLE_DOCS[0]).read_text() + "\nAddendum: no change.\n")
    assert config_id() != base


def test_user_methods_and_errors(notes, small_model_path, tmp_path) -> None:
    methods = tmp_path / "methods"
    methods.mkdir()
    (methods / "my_method.yaml").write_text("description: mine\nno_overlap: true\n")
    builder = ClinqaSynth(
        config_name="my_method",
        methods_dir=str(methods),
        documents=str(notes),
        llm=LLMSettings(model=str(small_model_path)),
        cache_dir=str(tmp_path / "hf"),
    )
    assert builder.config.name == "my_method" and builder.config_id.startswith("my_method-")
    with pytest.raises(ClinqaError, match="unknown config 'nope'; valid configs: direct"):
        ClinqaSynth(config_name="nope", documents=str(notes), cache_dir=str(tmp_path / "hf"))
    with pytest.raises(ClinqaError, match="pass documents="):
        ClinqaSynth(config_name="direct", cache_dir=str(tmp_path / "hf"))


@pytest.mark.llm
def test_builder_generates_caches_and_regenerates_after_an_edit(llm_server, notes, tmp_path) -> None:
    secret = "hf_" + "BuilderSecret0" * 2
    work_before = set(Path(tempfile.gettempdir()).glob("clinqa-synth-builder-*"))
    with FaultProxy(llm_server.base_url) as proxy:
        llm = LLMSettings(
            endpoint=proxy.url, api_key=secret, structured="llama-cpp-python", cache_dir=tmp_path / "llm-cache"
        )
        common = {
            "config_name": "direct",
            "documents": str(notes),
            "methods_dir": str(FIXTURES / "test_methods"),
            "validation_fraction": 0.5,
            "cache_dir": str(tmp_path / "hf"),
            "llm": llm,
        }
        builder = ClinqaSynth(**common)
        assert secret not in builder.config_id and secret not in repr(builder.config)
        builder.download_and_prepare()
        first_calls = proxy.chat_requests
        assert first_calls > 0
        built = builder.as_dataset()
        from clinqa_synth.dataset.folder import split_for

        rows = [row for split in built.values() for row in split]
        assert len({r["id"] for r in rows}) == len(rows)
        assert {r["document_id"] for r in rows} <= {Path(d).stem for d in SAMPLE_DOCS}
        for name, split in built.items():  # split by document, as the CLI does (whatever the model produced)
            assert {split_for(d, 0.5) for d in split["document_id"]} <= {name}
        for row in rows:
            for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"]):
                assert row["context"][start : start + len(text)] == text
        # the same rows as the CLI/folder path on the same inputs (served from the completion cache)
        from clinqa_synth.pipeline.api import generate_to_folder

        generate_to_folder(
            str(notes),
            config="direct",
            out=tmp_path / "folder",
            llm=llm,
            validation_fraction=0.5,
            methods_dir=FIXTURES / "test_methods",
            show_progress=False,
        )
        folder = datasets.load_dataset(str(tmp_path / "folder"), "direct")
        assert {k: v.to_list() for k, v in built.items()} == {k: v.to_list() for k, v in folder.items()}
        record = json.loads((tmp_path / "folder" / "direct" / "generation.json").read_text())
        assert record["funnel"]["kept"] == len(rows) and record["documents"]["total"] == len(SAMPLE_DOCS)
        assert proxy.chat_requests == first_calls

        # an identical builder reuses the prepared dataset: no generation at all
        again = ClinqaSynth(**common)
        assert again.cache_dir == builder.cache_dir
        stamps = {p: p.stat().st_mtime_ns for p in Path(builder.cache_dir).glob("*.arrow")}
        again.download_and_prepare()
        assert {p: p.stat().st_mtime_ns for p in Path(builder.cache_dir).glob("*.arrow")} == stamps
        assert again.as_dataset()["train"].to_list() == built["train"].to_list()

        # an edited answer prompt gets a new cache folder and fresh answer calls (questions come from the cache)
        prompts = tmp_path / "prompts"
        (prompts / "radiology").mkdir(parents=True)
        template = (builtin_prompts_dir() / "radiology" / "answers.j2").read_text()
        (prompts / "radiology" / "answers.j2").write_text(template + "\nCopy the words exactly as written.")
        edited = ClinqaSynth(**common, prompts_dir=str(prompts))
        assert edited.cache_dir != builder.cache_dir
        edited.download_and_prepare()
        answer_calls = proxy.chat_requests - first_calls
        assert 0 < answer_calls <= 2 * len(SAMPLE_DOCS) * 3  # one per section, plus format retries at most
        edited_rows = [row for split in edited.as_dataset().values() for row in split]
        assert all(
            r["context"][s : s + len(t)] == t
            for r in edited_rows
            for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])
        )
    assert set(Path(tempfile.gettempdir()).glob("clinqa-synth-builder-*")) == work_before, "work folders removed"
