"""A dataset folder `<out>/<config>/<split>-*.parquet` plus README.md, written so that a crash never leaves a config
that loads half-done.

Each config is written into a hidden staging folder and swapped in with renames only when
complete; the README (with its `configs:` block) is regenerated from what is on disk and
replaced atomically. Generating another config into the same folder adds it beside the others.

Several processes may use one folder at once (two configs generated in parallel, `report` or a
benchmark reading a folder that is being written). Each staging folder is owned through an
advisory lock that its process holds until commit or death, so clean-up only removes staging
folders whose owner is gone (a kill -9 releases the lock); swaps and clean-up run under a
folder-wide lock. Found the hard way: a reader's clean-up deleted a running generation's staging
folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one process per folder
    fcntl = None  # type: ignore[assignment]

import pyarrow as pa
import pyarrow.parquet as pq

from clinqa_synth.errors import ClinqaError
from clinqa_synth.squad import qa_features

GENERATION_FILE = "generation.json"
DROPPED_PAIRS_FILE = "dropped_pairs.jsonl"  # per config: placed pairs a check or verification dropped
AUDIT_FILE = "audit.json"  # per config: `audit --score` of its kept rows
DROPS_AUDIT_FILE = "audit_dropped.json"  # per config: `audit --dropped --score` of its dropped pairs
MARKER_TAG = "clinqa-synth"
SPLITS = ("train", "validation")
FOLDER_LOCK = ".clinqa-synth.lock"
# Folder-level facts that outlive any one config: `credentialed` is sticky (set once by --credentialed or by a
# credentialed reader, never unset by a later run, carried by `merge`), so no later step can forget it.
FOLDER_META = ".clinqa-synth.json"
OWNER_LOCK = ".owner.lock"


def _try_lock(handle: IO[bytes]) -> bool:
    """Take an exclusive advisory lock without waiting; False if another process (or file handle) holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def folder_lock(root: Path) -> Iterator[None]:
    """Serialise swaps and clean-up between processes sharing one dataset folder (held for milliseconds)."""
    with open(root / FOLDER_LOCK, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _owner_alive(staging: Path) -> bool:
    """A staging folder is in use while its owner holds the lock on its `.owner.lock` file."""
    lock = staging / OWNER_LOCK
    if not lock.exists():
        return False
    try:
        with open(lock, "a+b") as handle:
            return not _try_lock(handle)
    except OSError:
        return False


class OutputError(ClinqaError):
    """The output folder cannot be used (foreign dataset, read-only, …)."""


def split_for(document_id: str, validation_fraction: float) -> str:
    """Deterministic split by document (chunks of one document stay together)."""
    if validation_fraction <= 0:
        return "train"
    base = document_id.split("#", 1)[0]
    bucket = int(hashlib.sha1(base.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "validation" if bucket < validation_fraction else "train"


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class DatasetFolder:
    """The output folder; refuses folders that hold something else, and repairs interrupted swaps."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"--out {self.root} is a file; pass a folder.")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-", delete=True)  # noqa: SIM115
            probe.close()
        except OSError as exc:
            raise OutputError(
                f"cannot create or write the output folder {self.root} ({exc.strerror}). Choose a writable folder."
            ) from None
        if not os.access(self.root, os.W_OK):
            raise OutputError(f"--out {self.root} is not writable. Choose another folder or fix its permissions.")
        self._check_ours()
        self._recover()

    def _check_ours(self) -> None:
        visible = [p for p in self.root.iterdir() if not p.name.startswith(".")]
        if not visible:
            return
        readme = self.root / "README.md"
        if readme.exists() and MARKER_TAG in readme.read_text(encoding="utf-8", errors="replace"):
            return
        raise OutputError(
            f"--out {self.root} already holds files that are not a clinqa-synth dataset "
            f"({', '.join(p.name for p in visible[:5])}). Choose an empty or new folder."
        )

    def _recover(self) -> None:
        """Finish or undo a swap that a crash interrupted; drop staging folders whose owner process is gone."""
        with folder_lock(self.root):
            for old in self.root.glob(".old-*"):
                # .old-<config>-<8 hex>; config names may contain "-" (e.g. direct@llama-3.1-8b)
                config = old.name[len(".old-") :].rsplit("-", 1)[0] if old.name.count("-") >= 2 else ""
                target = self.root / config
                if config and not target.exists():
                    os.replace(old, target)
                else:
                    shutil.rmtree(old, ignore_errors=True)
            for staging in self.root.glob(".staging-*"):
                if not _owner_alive(staging):
                    shutil.rmtree(staging, ignore_errors=True)

    def _meta(self) -> dict[str, Any]:
        path = self.root / FOLDER_META
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except json.JSONDecodeError:
            return {"credentialed": True}  # damaged: fail safe, as if the folder were credentialed

    @property
    def credentialed(self) -> bool:
        """Whether anything in this folder came from notes under a data-use agreement (sticky)."""
        return bool(self._meta().get("credentialed")) or any(g.get("credentialed") for g in self.configs().values())

    def mark_credentialed(self, reason: str) -> None:
        """Record, for good, that this folder holds credentialed data (`reason` says why, for the user)."""
        with folder_lock(self.root):
            meta = self._meta()
            if not meta.get("credentialed"):
                atomic_write_text(self.root / FOLDER_META, json.dumps({**meta, "credentialed": True, "reason": reason}))

    def data_files(self, config: str) -> dict[str, list[str]]:
        """Split → parquet paths relative to the folder (explicit, so the card pins the exact files)."""
        files: dict[str, list[str]] = {}
        for path in sorted((self.root / config).glob("*-*.parquet")):
            files.setdefault(path.name.split("-", 1)[0], []).append(f"{config}/{path.name}")
        return files

    def configs(self) -> dict[str, dict[str, Any]]:
        """Config name → its generation.json, for every complete config on disk."""
        found: dict[str, dict[str, Any]] = {}
        for path in sorted(self.root.glob(f"*/{GENERATION_FILE}")):
            try:
                found[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise OutputError(
                    f"{path} is damaged ({exc.msg}); delete that config folder and regenerate it."
                ) from None
        return found

    def stage(self, config: str) -> ConfigStage:
        return ConfigStage(self, config)


class ConfigStage:
    """Rows streamed into per-split parquet files in a staging folder; `commit()` swaps them in."""

    def __init__(self, folder: DatasetFolder, config: str) -> None:
        self.folder = folder
        self.config = config
        self.dir = folder.root / f".staging-{config}-{uuid.uuid4().hex[:8]}"
        with folder_lock(folder.root):  # so no clean-up sees the folder before its owner lock is held
            self.dir.mkdir()
            self._owner = open(self.dir / OWNER_LOCK, "a+b")  # noqa: SIM115 - held until commit/abort/exit
            _try_lock(self._owner)
        self.features = qa_features()
        self.schema = self.features.arrow_schema
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}

    ROW_GROUP_ROWS = 5000  # one row group per few thousand rows: bounded memory, few row groups to read back

    def add(self, records: Iterable[dict[str, Any]], split: str) -> None:
        buffer = self._buffers.setdefault(split, [])
        before = len(buffer)
        buffer.extend(records)
        self.counts[split] = self.counts.get(split, 0) + len(buffer) - before
        if len(buffer) >= self.ROW_GROUP_ROWS:
            self._flush(split)

    def add_rejected(self, records: Iterable[dict[str, Any]]) -> None:
        """Placed pairs a check or verification dropped, one JSON line each (DROPPED_PAIRS_FILE), streamed.

        JSON lines, not parquet: the file is for review and audit, never a split `load_dataset` could pick up.
        """
        lines = [json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records]
        if lines:
            with open(self.dir / DROPPED_PAIRS_FILE, "a", encoding="utf-8") as handle:
                handle.writelines(lines)

    def _flush(self, split: str) -> None:
        rows = self._buffers.get(split)
        if not rows:
            return
        if split not in self._writers:
            self._writers[split] = pq.ParquetWriter(self.dir / f"{split}-00000-of-00001.parquet", self.schema)
        self._writers[split].write_table(pa.Table.from_pylist(rows, schema=self.schema))
        self._buffers[split] = []

    def commit(self, generation: dict[str, Any]) -> Path:
        for split in list(self._buffers):
            self._flush(split)
        for writer in self._writers.values():
            writer.close()
        if "train" not in self._writers:
            # A config that kept no pair still has its typed (empty) train file for the tool's own readers; with no
            # row group rather than one of zero rows, the one shape `datasets` refuses with a plain message instead
            # of crashing in its reader. The card leaves such a config out of `configs:` (card.loadable_configs).
            pq.ParquetWriter(self.dir / "train-00000-of-00001.parquet", self.schema).close()
            self.counts.setdefault("train", 0)
        for path in list(self.dir.glob("*-00000-of-00001.parquet")):
            # Content-addressed names: `datasets` caches a local folder by its card metadata and data_files
            # patterns, not by file contents, so a regenerated config must change its file names (listed
            # explicitly in the card) or load_dataset would serve the previous rows from its cache.
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            path.rename(path.with_name(f"{path.stem}-{digest}.parquet"))
        generation = {**generation, "splits": dict(self.counts)}
        atomic_write_text(self.dir / GENERATION_FILE, json.dumps(generation, indent=2, ensure_ascii=False))
        target = self.folder.root / self.config
        if target.is_dir():
            self._carry_audits(target)
        old = self.folder.root / f".old-{self.config}-{uuid.uuid4().hex[:8]}"
        with folder_lock(self.folder.root):
            (self.dir / OWNER_LOCK).unlink()
            self._owner.close()
            if target.exists():
                os.replace(target, old)
            os.replace(self.dir, target)
        shutil.rmtree(old, ignore_errors=True)
        return target

    def _carry_audits(self, target: Path) -> None:
        """Scored audits survive a re-run or re-merge: as they are when it reproduced what they scored (the kept rows
        for audit.json, the dropped pairs for audit_dropped.json), else renamed `*.previous-rows.json` — kept, but no
        longer read by the card, since they scored other rows. Earlier set-aside audits are carried too."""

        def kept_rows(folder: Path) -> list[str]:
            return sorted(p.name for p in folder.glob("*.parquet"))  # parquet names are content-addressed

        def dropped(folder: Path) -> str | None:
            drops = folder / DROPPED_PAIRS_FILE
            return hashlib.sha256(drops.read_bytes()).hexdigest() if drops.is_file() else None

        same = {
            AUDIT_FILE: kept_rows(target) == kept_rows(self.dir),
            DROPS_AUDIT_FILE: dropped(target) == dropped(self.dir),
        }
        for name, unchanged in same.items():
            if (target / name).is_file():
                kept_as = name if unchanged else name.replace(".json", ".previous-rows.json")
                shutil.copy2(target / name, self.dir / kept_as)
        for earlier in target.glob("*.previous-rows.json"):
            if not (self.dir / earlier.name).exists():
                shutil.copy2(earlier, self.dir / earlier.name)

    def abort(self) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - best effort while unwinding another error
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        self._owner.close()
