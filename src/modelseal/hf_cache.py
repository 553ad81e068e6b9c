"""The local Hugging Face cache, without network or huggingface_hub: `org/name` resolves to the snapshot
directory of a downloaded revision, and a snapshot's symlinks into its repository's `blobs/` are recognised as
the cache's layout (files named by their repository paths), not as links a user made.

Layout: `$HF_HUB_CACHE/models--org--name/{refs/main, snapshots/<commit>/<repo path> -> ../../blobs/<hash>}`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from modelseal.errors import InputError

_ENTRY_PREFIXES = ("models--", "datasets--", "spaces--")
_REPO_ID = re.compile(r"^(?:(models|datasets|spaces)/)?([\w.-]+)/([\w.-]+)(?:@([\w./-]+))?$")


def cache_directory() -> Path:
    """Where huggingface_hub keeps repositories, by the same environment variables it reads."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "huggingface" / "hub"


def cache_entry_of(path: Path) -> Path | None:
    """The `models--org--name` directory that `path` lies in (resolved), if any."""
    for candidate in (path, *path.resolve().parents):
        if candidate.name.startswith(_ENTRY_PREFIXES):
            return candidate.resolve()
    return None


def looks_like_repo_id(text: str) -> bool:
    return _REPO_ID.match(text) is not None


def resolve_repo(spec: str, cache: Path | None = None) -> Path:
    """The snapshot directory for `org/name`, `org/name@revision` or `datasets/org/name` in the local cache."""
    match = _REPO_ID.match(spec)
    if match is None:
        raise InputError(f"{spec!r} is neither a path nor a Hugging Face repository id (org/name[@revision])")
    kind, owner, name, revision = match.group(1) or "models", match.group(2), match.group(3), match.group(4)
    cache = cache or cache_directory()
    entry = cache / f"{kind}--{owner}--{name}"
    hint = f"download it first (huggingface-cli download {owner}/{name}), or give a path"
    if not entry.is_dir():
        raise InputError(f"{spec} is not a local path and not in the Hugging Face cache at {cache}", details=(hint,))
    revision = revision or "main"
    ref = entry / "refs" / revision
    commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else revision
    snapshot = entry / "snapshots" / commit
    if not re.fullmatch(r"[\w.-]+", commit) or not snapshot.is_dir():
        known = sorted(p.name for p in (entry / "snapshots").glob("*")) if (entry / "snapshots").is_dir() else []
        raise InputError(
            f"revision {revision!r} of {owner}/{name} is not in the cache",
            details=(f"cached snapshots: {', '.join(known) or 'none'}", hint),
        )
    return snapshot
