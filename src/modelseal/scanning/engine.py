"""The scanning engine: open -> sniff -> REGISTRY[format] scan within one budget -> post-process findings once ->
FileResult. Its shape keeps the verdict fail-closed: a file is SCANNED only when every byte a loader would read
was read; a bound, an unreadable part, an internal error or a format that would run code but cannot be read make
it INCOMPLETE; UNSUPPORTED is kept for data that no loader runs; SKIPPED for content that is not here (Git LFS
pointers) and for what is not a regular file (never opened)."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from modelseal.errors import InputError, ModelsealError
from modelseal.scanning.budget import ScanBoundError
from modelseal.scanning.context import ScanContext, ScanOptions
from modelseal.scanning.findings import FileResult, Finding, Severity, Status
from modelseal.scanning.policy import ScanPolicy


class _NotRegularError(Exception):
    def __init__(self, mode: int) -> None:
        self.mode = mode


def scan_file(path: Path, options: ScanOptions | None = None) -> FileResult:
    """Scan one regular file (and everything nested in it) within one budget."""
    path = Path(path)

    def read(ctx: ScanContext) -> str:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is recognised and closed unread just below
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise _NotRegularError(info.st_mode)
            return ctx.scan(handle, info.st_size, "", 0)

    try:
        return judge(ScanContext(path, options or ScanOptions()), str(path), read)
    except _NotRegularError as exc:
        return _not_regular(path, exc.mode)


def judge(ctx: ScanContext, shown: str, read: Callable[[ScanContext], str]) -> FileResult:
    """Run `read` (open the bytes, `ctx.scan` them, return the format) and turn what it found, or why it
    stopped, into the file's one verdict: the only place a status is decided, for local and remote bytes."""
    label = "unreadable"
    try:
        label = read(ctx)
    except _NotRegularError:
        raise
    except ScanBoundError as exc:
        ctx.gap("", f"scan bound reached: {exc}; what lies beyond it was not read")
    except RecursionError:
        ctx.gap("", "nested deeper than the scanner follows (bound)")
    except MemoryError:
        ctx.gap("", "the scan ran out of memory (bound): what it had not reached was not read")
    except OSError as exc:
        ctx.gap("", f"cannot read: {exc.strerror or exc}")
    except ModelsealError as exc:  # a remote store that failed or served other bytes than it names
        ctx.gap("", f"cannot read: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - a bug in modelseal: never a finding, never a pass
        ctx.gap("", f"internal error while scanning ({type(exc).__name__}: {exc}); please report it")
        label = "error"
    findings = tuple(_apply_policy(ctx.findings, ctx.policy))
    if label == "git-lfs-pointer" and not ctx.gaps and ctx.local:
        return FileResult(shown, label, Status.SKIPPED, notes=(_lfs_note(ctx.path),))
    if ctx.gaps:
        status = Status.INCOMPLETE
    elif ctx.data_only and not findings:
        status = Status.UNSUPPORTED
    else:
        status = Status.SCANNED
    bytes_only = status is not Status.INCOMPLETE and not ctx.read_siblings
    return FileResult(shown, label, status, findings, tuple(ctx.gaps + ctx.notes), bytes_only)


def _apply_policy(findings: list[Finding], policy: ScanPolicy) -> list[Finding]:
    """The policy's `[severity]` overrides, applied once to every format's findings."""
    overrides = policy.severity_overrides
    if not overrides:
        return findings
    return [
        dataclasses.replace(f, severity=Severity.parse(overrides[f.rule])) if f.rule in overrides else f
        for f in findings
    ]


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _not_regular(path: Path, mode: int) -> FileResult:
    note = f"a {_kind(mode)}, not a regular file: never opened (reading one can block or never end)"
    return FileResult(str(path), _kind(mode), Status.SKIPPED, notes=(note,))


def _lfs_note(path: Path) -> str:
    """What the pointer stands for: the real file's digest and size, and how to get it."""
    fields = dict(line.split(" ", 1) for line in path.read_text("utf-8", "replace").splitlines()[:10] if " " in line)
    what = f"{fields.get('oid', 'unknown oid')}, {fields.get('size', '?')} bytes"
    return f"Git LFS pointer: the content ({what}) is not in this checkout; `git lfs pull`, then scan it"


# --- what to scan -------------------------------------------------------------------------------------------


def iter_files(paths: list[Path], ignore: tuple[str, ...] = ()) -> Iterator[Path]:
    """Every entry to scan under the given paths: files (symlinked ones included; directory links are not
    followed), other non-directory entries (reported, never opened), and directories that could not be listed
    (reported as unreadable), and links to directories outside the tree (reported, not followed); `.git` and
    paths matching an `ignore` glob are left out. The walk keeps its own stack, so any depth is walked (os.walk
    recursed, and 1,000 nested directories ended it)."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        boundary = symlink_boundary(path)
        pending = [path]
        while pending:
            directory = pending.pop()
            try:
                with os.scandir(directory) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError:
                yield directory  # scan_target reports it as a directory that could not be listed
                continue
            subdirectories = []
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != ".git":
                        subdirectories.append(Path(entry.path))
                    continue
                candidate = Path(entry.path)
                if entry.is_symlink() and entry.is_dir() and candidate.resolve().is_relative_to(boundary):
                    continue  # a link to a directory walked anyway; one leading outside is reported
                if not ignored_by(candidate.relative_to(path).as_posix(), ignore):
                    yield candidate
            pending.extend(reversed(subdirectories))  # depth first, in name order


def ignored_by(relative: str, ignore: tuple[str, ...]) -> bool:
    """Whether a policy's `ignore` globs leave out a file: matched against its relative path or its name."""
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(name, g) for g in ignore)


def symlink_boundary(directory: Path) -> Path:
    """Where symlinks may point: the directory scanned, or the whole Hugging Face cache entry when it is a
    snapshot inside one (`models--org--name/snapshots/<rev>/` links into `models--org--name/blobs/`)."""
    from modelseal.hf_cache import cache_entry_of

    return cache_entry_of(directory) or directory.resolve()


def iter_targets(paths: list[Path], ignore: tuple[str, ...] = ()) -> Iterator[tuple[Path, Path | None]]:
    """(entry, boundary) for every entry to scan; entries named on the command line have no boundary and must be
    regular files or directories."""
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise InputError(f"cannot scan {path}: {exc.strerror}") from exc
        if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
            raise InputError(f"cannot scan {path}: a {_kind(mode)}, not a file or directory (it is never opened)")
        boundary = symlink_boundary(path) if stat.S_ISDIR(mode) else None
        for entry in iter_files([path], ignore):
            yield entry, boundary


def leaves_tree(path: Path, boundary: Path | None) -> bool:
    """A symlink in a scanned directory whose target lies outside it: reported, never followed."""
    return boundary is not None and path.is_symlink() and not path.resolve().is_relative_to(boundary)


def scan_target(path: Path, boundary: Path | None, options: ScanOptions) -> FileResult:
    """Scan one entry: a symlink that leaves the tree, a directory that could not be listed, or anything not a
    regular file is reported, never opened and never clean."""
    if leaves_tree(path, boundary):
        note = f"symlink to {path.resolve()}, outside {boundary}: not followed (scan the target itself if you trust it)"
        return FileResult(str(path), "symlink", Status.INCOMPLETE, notes=(note,))
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return FileResult(str(path), "unreadable", Status.INCOMPLETE, notes=(f"cannot read: {exc.strerror}",))
    if stat.S_ISDIR(mode):
        note = "a directory that could not be listed: what it holds was not scanned"
        return FileResult(str(path), "unreadable directory", Status.INCOMPLETE, notes=(note,))
    return scan_file(path, options)  # which recognises FIFOs, sockets and devices without reading them


def scan_paths(paths: list[Path] | list[str], options: ScanOptions | None = None) -> list[FileResult]:
    """Scan files and directories (recursively); one result per entry, in path order."""
    options = options or ScanOptions()
    targets = iter_targets([Path(p) for p in paths], options.policy.ignore_paths)
    return [scan_target(path, boundary, options) for path, boundary in targets]
