"""Scan files by content, recursing into containers the way their loaders would read them.

`FileScan` combines the format mixins (pickles, archives, structured formats) over one `ScanContext` per
top-level file; a file with any gap (a bound hit, a part unreadable) is INCOMPLETE, never clean.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

from modelseal.scanning.archives import ArchiveScans
from modelseal.scanning.context import UNSCANNED, ScanOptions
from modelseal.scanning.findings import FileResult, Status
from modelseal.scanning.pickles import PickleScans
from modelseal.scanning.structured import StructuredScans


class FileScan(PickleScans, ArchiveScans, StructuredScans):
    """One top-level file, scanned by every format mixin that its content calls for."""

    def run(self) -> FileResult:
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as handle:
                fmt = self.scan_handle(handle, size, "", 0)
        except OSError as exc:
            return FileResult(str(self.path), "unreadable", Status.INCOMPLETE, notes=(f"cannot read: {exc.strerror}",))
        except Exception as exc:  # noqa: BLE001 - one bad file must not end a directory scan, nor pass as clean
            note = f"internal error while scanning ({type(exc).__name__}: {exc}); please report it"
            return FileResult(str(self.path), "error", Status.INCOMPLETE, tuple(self.findings), (note,))
        if fmt == "git-lfs-pointer":
            return FileResult(str(self.path), fmt, Status.SKIPPED, notes=(_lfs_note(self.path),))
        status = Status.INCOMPLETE if self.gaps else Status.UNSUPPORTED if fmt in UNSCANNED else Status.SCANNED
        return FileResult(str(self.path), fmt, status, tuple(self.findings), tuple(self.gaps + self.notes))


def _lfs_note(path: Path) -> str:
    """What the pointer stands for: the real file's digest and size, and how to get it."""
    fields = dict(line.split(" ", 1) for line in path.read_text("utf-8", "replace").splitlines()[:10] if " " in line)
    what = f"{fields.get('oid', 'unknown oid')}, {fields.get('size', '?')} bytes"
    return f"Git LFS pointer: the content ({what}) is not in this checkout; `git lfs pull`, then scan it"


def iter_files(paths: list[Path], ignore: tuple[str, ...] = ()) -> Iterator[Path]:
    """Every regular file under the given paths, symlinked files included (directory links are not followed),
    except `.git` and paths matching an `ignore` glob (relative to the path given, or by file name)."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, directories, files in os.walk(path):
            directories[:] = sorted(d for d in directories if d != ".git")
            for name in sorted(files):
                candidate = Path(root, name)
                relative = candidate.relative_to(path).as_posix()
                if any(fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(name, g) for g in ignore):
                    continue
                if candidate.is_file():
                    yield candidate


def scan_file(path: Path, options: ScanOptions | None = None) -> FileResult:
    return FileScan(Path(path), options or ScanOptions()).run()


def symlink_boundary(directory: Path) -> Path:
    """Where symlinks may point: the directory scanned, or the whole Hugging Face cache entry when it is a
    snapshot inside one (`models--org--name/snapshots/<rev>/` links into `models--org--name/blobs/`)."""
    from modelseal.hf_cache import cache_entry_of

    return cache_entry_of(directory) or directory.resolve()


def iter_targets(paths: list[Path], ignore: tuple[str, ...] = ()) -> Iterator[tuple[Path, Path | None]]:
    """(file, boundary) for every file to scan; files named on the command line have no boundary."""
    for path in paths:
        boundary = symlink_boundary(path) if path.is_dir() else None
        for file in iter_files([path], ignore):
            yield file, boundary


def scan_target(path: Path, boundary: Path | None, options: ScanOptions) -> FileResult:
    """Scan one file, unless it is a symlink that leaves the tree being scanned (reported, never clean)."""
    if boundary is not None and path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(boundary):
            note = f"symlink to {target}, outside {boundary}: not followed (scan the target itself if you trust it)"
            return FileResult(str(path), "symlink", Status.INCOMPLETE, notes=(note,))
    return scan_file(path, options)


def scan_paths(paths: list[Path] | list[str], options: ScanOptions | None = None) -> list[FileResult]:
    """Scan files and directories (recursively); one result per file, in path order."""
    options = options or ScanOptions()
    targets = iter_targets([Path(p) for p in paths], options.policy.ignore_paths)
    return [scan_target(path, boundary, options) for path, boundary in targets]


def scan(*paths: str | Path, policy: Path | None = None) -> list[FileResult]:
    """The library entry point: `modelseal.scan("model.pt")`, optionally with a policy file."""
    from modelseal.scanning.pickle.policy import load_policy

    return scan_paths([Path(p) for p in paths], ScanOptions(policy=load_policy(policy)))


__all__ = ["ScanOptions", "iter_targets", "scan", "scan_file", "scan_paths", "scan_target"]
