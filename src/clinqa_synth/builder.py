"""A `datasets.GeneratorBasedBuilder` with one BuilderConfig per generation method.

For users who want the builder object itself (`download_and_prepare`, `as_dataset`,
the `datasets` cache) rather than a parquet folder::

    from clinqa_synth.builder import ClinqaSynth
    builder = ClinqaSynth(config_name="nooverlap_summary", documents="notes/", kind="radiology")
    builder.download_and_prepare()
    dataset = builder.as_dataset()

`datasets` names its cache folder after the config id. The default id only covers the keyword
arguments that were passed, so an edited prompt, method YAML, model file or document would silently
reuse stale data. Here the config id is a fingerprint of *what determines the rows*: the method's
settings, every prompt and schema file, the model identity (the GGUF file, or the model an endpoint
reports serving), the documents' bytes, the reader and split options and the package version.
Credentials never enter it. Generation itself is the same code path as the CLI (completion cache,
retries, span alignment, atomic folder), run into a temporary folder whose parquet files the
builder then reads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import datasets

from clinqa_synth import __version__
from clinqa_synth.documents.model import KINDS, Document
from clinqa_synth.errors import ClinqaError
from clinqa_synth.llm.session import LLMSettings
from clinqa_synth.methods import available_methods, load_method

CITATION = """@inproceedings{bai2024hardquestions,
  title={Give me Some Hard Questions: Synthetic Data Generation for Clinical QA},
  author={Bai, Fan and Harrigian, Keith and Stremmel, Joel and Hassanzadeh, Hamed and Saeedi, Ardavan and Dredze, Mark},
  booktitle={Machine Learning for Health (ML4H)},
  year={2024},
  eprint={2412.04573}
}"""


@dataclasses.dataclass
class ClinqaSynthConfig(datasets.BuilderConfig):
    """One generation method (the config name) plus where the documents and the LLM are.

    `documents`: a path (folder of .txt/.md, JSONL/CSV/parquet, SQuAD/RadQA/MIMIC-QA JSON, a saved HF
    dataset) or a list of strings / :class:`Document` objects. `llm`: :class:`LLMSettings` (default:
    the embedded packaged model).
    """

    documents: str | Path | list[Any] | None = None
    kind: str | None = None
    llm: LLMSettings | None = dataclasses.field(default=None, repr=False)
    text_column: str = "text"
    id_column: str | None = "id"
    split: str = "train"
    validation_fraction: float = 0.0
    max_section_chars: int = 12000
    methods_dir: str | Path | None = None
    prompts_dir: str | Path | None = None
    license: str = "other"
    show_progress: bool = False

    def create_config_id(self, config_kwargs: dict, custom_features: datasets.Features | None = None) -> str:
        """`<method>-<fingerprint>`: a new cache folder whenever anything that shapes the rows changes."""
        return f"{self.name}-{self.fingerprint()}"

    def reader_options(self) -> dict[str, Any]:
        return {"text_column": self.text_column, "id_column": self.id_column, "split": self.split}

    def generation_options(self) -> Any:
        """The builder's fields as the one options object the generator takes."""
        from clinqa_synth.pipeline.options import GenerationOptions

        return GenerationOptions(
            kind=self.kind or "auto",
            text_column=self.text_column,
            id_column=self.id_column,
            split=self.split,
            validation_fraction=self.validation_fraction,
            max_section_chars=self.max_section_chars,
            methods_dir=Path(self.methods_dir) if self.methods_dir else None,
            prompts_dir=Path(self.prompts_dir) if self.prompts_dir else None,
            license_id=self.license,
            show_progress=self.show_progress,
        )

    def fingerprint(self) -> str:
        """A short hash of method, prompts, model, documents and options (never of credentials)."""
        from clinqa_synth.llm.cache import CACHE_PROTOCOL_VERSION
        from clinqa_synth.pipeline.prompts import PromptSet

        if self.documents is None:
            raise ClinqaError(f"{type(self).__name__}: pass documents=PATH or a list of documents")
        methods_dir = Path(self.methods_dir) if self.methods_dir else None
        prompts_dir = Path(self.prompts_dir) if self.prompts_dir else None
        llm = self.llm or LLMSettings()
        payload = {
            "package": __version__,
            "cache_protocol": CACHE_PROTOCOL_VERSION,
            "method": load_method(self.name, methods_dir).model_dump(mode="json"),
            "prompts": {kind: PromptSet(kind, prompts_dir).file_hashes() for kind in KINDS},
            "model": model_identity(llm),
            "sampling_transport": llm.structured,
            "documents": documents_fingerprint(self.documents),
            "kind": self.kind,
            "reader": self.reader_options(),
            "validation_fraction": self.validation_fraction,
            "max_section_chars": self.max_section_chars,
        }
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()[:16]


def model_identity(llm: LLMSettings) -> list[str]:
    """What answers the prompts: the GGUF file (name and size, as in the completion cache's key), or the
    model each endpoint reports serving and the checkpoint identity it reports (as in the cache key; the URL is
    kept without credentials)."""
    from clinqa_synth.llm.endpoint import EndpointChat
    from clinqa_synth.llm.models import gguf_model_id, resolve_model
    from clinqa_synth.llm.safety import redact_url

    urls = [llm.endpoint] if isinstance(llm.endpoint, str) else list(llm.endpoint or [])
    if not urls:
        return [gguf_model_id(resolve_model(llm.model))]
    identities = []
    for url in urls:
        endpoint = EndpointChat(url, model=llm.model, api_key=llm.api_key, allow_remote=llm.allow_remote_endpoint)
        endpoint.preflight()
        identities.append(f"{redact_url(url)}#{endpoint.cache_identity}")
        if llm.chat_template_kwargs:
            identities[-1] += "#" + json.dumps(llm.chat_template_kwargs, sort_keys=True)
    return sorted(identities)


def documents_fingerprint(documents: str | Path | Iterable[Any]) -> str:
    """A hash of the documents' bytes: every file under a folder (with its relative path), one file,
    a Hub dataset name, or the texts of in-memory documents."""
    digest = hashlib.sha256()
    if isinstance(documents, (str, Path)):
        path = Path(documents)
        if path.is_file():
            _hash_file(digest, path)
        elif path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                digest.update(str(file.relative_to(path)).encode("utf-8") + b"\0")
                _hash_file(digest, file)
        else:  # a Hub dataset name: its revision is resolved by `datasets` when read
            digest.update(f"hub:{documents}".encode())
        return digest.hexdigest()
    for item in documents:
        if isinstance(item, Document):
            digest.update(json.dumps([item.id, item.kind, [(s.name, s.text) for s in item.sections]]).encode("utf-8"))
        else:
            digest.update(str(item).encode("utf-8") + b"\0")
    return digest.hexdigest()


def _hash_file(digest: Any, path: Path) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(b"\0")


class ClinqaSynth(datasets.GeneratorBasedBuilder):
    """Synthetic clinical QA in SQuAD v2 form; one config per generation method (see `clinqa-synth generate`)."""

    BUILDER_CONFIG_CLASS = ClinqaSynthConfig
    BUILDER_CONFIGS = [
        ClinqaSynthConfig(name=name, description=f"clinqa-synth method {name!r}") for name in available_methods()
    ]
    DEFAULT_CONFIG_NAME = "nooverlap_summary"

    def __init__(self, *args: Any, dataset_name: str | None = None, **kwargs: Any) -> None:
        # Methods from a user's `methods_dir` are not built-in configs; create them on the fly under their own name.
        name = kwargs.get("config_name")
        if isinstance(name, str) and name not in self.builder_configs:
            load_method(
                name, Path(kwargs["methods_dir"]) if kwargs.get("methods_dir") else None
            )  # a clear error if unknown
            kwargs["config_name"] = None
            kwargs["name"] = name
        if isinstance(kwargs.get("documents"), (list, tuple)):
            kwargs["documents"] = list(kwargs["documents"])
        self._work_dirs: list[Path] = []
        super().__init__(*args, dataset_name=dataset_name or "clinqa_synth", **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        from clinqa_synth.squad import qa_features

        return datasets.DatasetInfo(
            description="Synthetic clinical extractive QA (SQuAD v2 with unanswerable questions) generated by an LLM "
            "with clinqa-synth; see generation provenance in the `model` and `prompt_version` columns.",
            features=qa_features(),
            citation=CITATION,
            license=self.config.license,
        )

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        from clinqa_synth.dataset.folder import DatasetFolder
        from clinqa_synth.pipeline.api import generate_to_folder

        config: ClinqaSynthConfig = self.config  # type: ignore[assignment]
        work = Path(tempfile.mkdtemp(prefix="clinqa-synth-builder-"))
        self._work_dirs.append(work)
        generate_to_folder(
            config.documents,  # type: ignore[arg-type]
            config=config.name,
            out=work,
            llm=config.llm or LLMSettings(),
            options=config.generation_options(),
        )
        files = DatasetFolder(work).data_files(config.name) or {"train": []}
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"files": [str(work / f) for f in paths]})
            for split, paths in sorted(files.items())
        ]

    def _generate_examples(self, files: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        import pyarrow.parquet as pq

        for file in files:
            for batch in pq.ParquetFile(file).iter_batches(batch_size=1000):
                for row in batch.to_pylist():
                    yield row["id"], row

    def _download_and_prepare(self, dl_manager: Any, verification_mode: Any, **kwargs: Any) -> None:
        try:
            super()._download_and_prepare(dl_manager, verification_mode, **kwargs)
        finally:  # the temporary parquet folder held model output about patient documents: never leave it behind
            for work in self._work_dirs:
                shutil.rmtree(work, ignore_errors=True)
            self._work_dirs.clear()
