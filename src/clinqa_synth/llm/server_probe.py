"""What kind of server is behind an endpoint, and which checkpoint it serves: read where each server says so.

Two decisions depend on it:

* **the structured-output dialect** (`--structured auto`): vLLM, llama.cpp and TGI each take a JSON schema in their
  own request field (llm.structured); sending the wrong one is ignored at best and a 400 at worst;
* **the cache key**: the completion cache must not hand a new checkpoint's run the old checkpoint's answers when
  both are served under the same name (e.g. `--served-model-name llama`). The identity is whatever the server
  reports beyond the name: vLLM's `root` (the weights' path or repo) and `max_model_len`, llama.cpp's model file
  and `/props` settings, TGI's `model_sha`.

Every probe is a GET to the endpoint the user named (never anywhere else), with a short timeout; a server that
answers none of them is "unknown", and the run says that its identity is the served name only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

# `owned_by` of GET /v1/models, as each server fills it in
_OWNERS = {
    "vllm": "vllm",
    "sglang": "sglang",
    "llamacpp": "llama-server",
    "me": "llama-cpp-python",
    "library": "ollama",
    "openai": "openai",
    "system": "openai",
    "openai-internal": "openai",
}
# structured-output dialect per server kind; SGLang/Ollama/OpenAI take OpenAI's `response_format`, which
# huggingface_hub rewrites into TGI's form for URL endpoints, so nothing is sent and the output is parsed tolerantly
DIALECT_OF = {"vllm": "vllm", "llama-server": "llama-server", "llama-cpp-python": "llama-cpp-python", "tgi": "tgi"}

Getter = Callable[[str], Any]  # path → parsed JSON body, or None when the route is missing or not JSON


@dataclass(frozen=True)
class ServerFacts:
    """What the probes found: the server kind, the identity of what it serves, and the dialect to use."""

    kind: str = "unknown"
    identity: dict[str, str] = field(default_factory=dict)  # beyond the served name; empty: could not be determined

    @property
    def dialect(self) -> str:
        return DIALECT_OF.get(self.kind, "none")

    @property
    def fingerprint(self) -> str:
        """A short hash of the identity (part of cache keys; safe to publish: it holds no path)."""
        if not self.identity:
            return ""
        payload = json.dumps(self.identity, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def public(self) -> dict[str, str]:
        """For the card and generation.json: the kind and the identity's hash, never a local path."""
        return {"server": self.kind, "server_identity": self.fingerprint or "unknown (the served model name only)"}


def _model_entry(models: Any, model: str | None) -> dict[str, Any]:
    data = models.get("data") if isinstance(models, dict) else None
    entries = [m for m in data or [] if isinstance(m, dict)]
    for entry in entries:
        if model is None or entry.get("id") == model:
            return entry
    return entries[0] if entries else {}


def _file_name(path: object) -> str:
    return PurePath(str(path)).name if path else ""


def probe_server(get: Getter, models: Any, model: str | None) -> ServerFacts:
    """Classify the server from its `/v1/models` answer (`models`) and, where needed, `/props`, `/version`, `/info`."""
    entry = _model_entry(models, model)
    owner = str(entry.get("owned_by") or "").lower()
    kind = _OWNERS.get(owner, "")
    identity: dict[str, str] = {}
    if kind == "vllm" or "max_model_len" in entry:
        kind = "vllm"
        for key in ("root", "max_model_len", "parent"):
            if entry.get(key) is not None:
                identity[key] = str(entry[key])
        version = get("/version")
        if isinstance(version, dict) and version.get("version"):
            identity["vllm_version"] = str(version["version"])
        return ServerFacts(kind, identity)
    if (
        kind in ("llama-server", "")
        and (props := get("/props"))
        and isinstance(props, dict)
        and ("default_generation_settings" in props or "model_path" in props)
    ):
        # llama.cpp's own server; the file name (not its folder, which can hold a user name) and its size/settings
        meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
        identity = {"model_file": _file_name(props.get("model_path") or entry.get("id"))}
        for key in ("n_params", "size", "n_ctx_train", "n_vocab"):
            if meta.get(key) is not None:
                identity[key] = str(meta[key])
        if props.get("build_info"):
            identity["build_info"] = str(props["build_info"])
        return ServerFacts("llama-server", identity)
    if kind == "llama-cpp-python":
        return ServerFacts(kind, {"model_file": _file_name(entry.get("id"))} if entry.get("id") else {})
    if not kind:
        info = get("/info")
        if isinstance(info, dict) and ("router" in info or "model_sha" in info or "max_input_tokens" in info):
            for key in ("model_id", "model_sha", "model_dtype", "version"):
                if info.get(key):
                    identity[key] = str(info[key])
            return ServerFacts("tgi", identity)
    if kind == "openai" and entry.get("id"):
        # OpenAI's ids name dated snapshots (gpt-4o-2024-08-06): the name is the identity
        return ServerFacts(kind, {"id": str(entry["id"]), "created": str(entry.get("created", ""))})
    return ServerFacts(kind or "unknown", identity)
