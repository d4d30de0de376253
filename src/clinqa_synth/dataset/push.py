"""`clinqa-synth push OUT ORG/NAME`: publish a dataset folder to the Hugging Face Hub, private by default.

Checks that can refuse run before any network call: a public push of data generated from
credentialed documents (RadQA, MIMIC) is refused with the data-use agreement explained, and an
offline machine is reported before any work. The token comes from the usual HF login or
environment and is never written anywhere; only the dataset's own files are uploaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from clinqa_synth.dataset.folder import DatasetFolder
from clinqa_synth.errors import ClinqaError

UPLOAD_PATTERNS = [
    "README.md",
    "*/*.parquet",
    "*/generation.json",
    "*/audit.json",
    "*/recipe/*",
    "report/*.md",
    "report/*.png",
]


class PushRefused(ClinqaError):
    """The push would break a data-use agreement or cannot reach the Hub."""


@dataclass(frozen=True)
class PushPlan:
    repo_id: str
    private: bool
    files: list[str]


def plan_push(out: str | Path, repo_id: str, *, public: bool = False) -> PushPlan:
    """Everything decided locally: what would be uploaded, and whether the push is allowed at all."""
    folder = DatasetFolder(out)
    generations = folder.configs()
    if not generations:
        raise ClinqaError(f"{out} holds no generated configs; nothing to push")
    if "/" not in repo_id:
        raise ClinqaError(f"repo id {repo_id!r} must look like ORG/NAME")
    credentialed = sorted(name for name, g in generations.items() if g.get("credentialed"))
    if public and (credentialed or folder.credentialed):
        which = f"config(s) {', '.join(credentialed)} were" if credentialed else "this folder was marked as"
        raise PushRefused(
            f"Refusing a public push: {which} generated from credentialed notes "
            "(--credentialed, RadQA, MIMIC on PhysioNet). Their contexts are those notes, and the PhysioNet "
            "credentialed data-use agreement forbids sharing them with anyone who has not signed it. Push without "
            "--public (a private repo for signed collaborators) or keep the data on your servers."
        )
    from fnmatch import fnmatch

    files = sorted(
        str(p.relative_to(folder.root))
        for p in folder.root.rglob("*")
        if p.is_file() and any(fnmatch(str(p.relative_to(folder.root)), pattern) for pattern in UPLOAD_PATTERNS)
    )
    return PushPlan(repo_id, not public, files)


def hub_reachable(timeout_s: float = 5.0) -> str | None:
    """None when the Hub answers, else a reason (offline mode, no network)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    import httpx2 as httpx

    try:
        httpx.head(constants.ENDPOINT, timeout=timeout_s, follow_redirects=True)
    except httpx.TransportError as exc:
        return f"{constants.ENDPOINT} is unreachable ({type(exc).__name__})"
    return None


def push(out: str | Path, repo_id: str, *, public: bool = False, token: str | None = None) -> str:
    """Create the dataset repo (private unless `public`) and upload the folder in one commit; returns its URL."""
    plan = plan_push(out, repo_id, public=public)
    reason = hub_reachable()
    if reason:
        raise PushRefused(f"Cannot push: the Hub is not reachable from this machine ({reason}). Nothing was uploaded.")
    from huggingface_hub import HfApi

    from clinqa_synth.dataset.card import write_card

    write_card(DatasetFolder(out), repo_hint=plan.repo_id)  # the card's loading snippet names the repo, not a path
    api = HfApi(token=token or os.environ.get("HF_TOKEN") or None)
    try:
        api.create_repo(plan.repo_id, repo_type="dataset", private=plan.private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(Path(out)),
            repo_id=plan.repo_id,
            repo_type="dataset",
            allow_patterns=UPLOAD_PATTERNS,
            commit_message="Upload clinqa-synth dataset",
        )
    except Exception as exc:  # noqa: BLE001 - auth, network and permission errors all end the push here
        from clinqa_synth.llm.safety import redact

        raise PushRefused(f"Push to {plan.repo_id} failed: {redact(str(exc), (token or '',))[:400]}") from None
    return str(getattr(commit, "repo_url", None) or f"{plan.repo_id}")
