"""Enumerate the files of a model the way the OMS v1.0 spec says: regular files only, relative POSIX names,
UTF-8 names, ignore rules, and an explicit symlink policy.

The result records each file's identity (device, inode, size, mtime) so the hashing engine can prove that
what it hashed is what was enumerated.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from modelseal.errors import ModelTreeError, SymlinkError

GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
MAX_DEPTH = 128  # directory levels below the model; real models nest a handful, Python recursion ends near 1,000


class FileIdentity(NamedTuple):
    """What must not change between enumeration and the end of hashing (a tuple: millions are made)."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int  # set by the kernel on every change; unlike mtime, no user can set it back


def identity_of(st: os.stat_result) -> FileIdentity:
    return FileIdentity(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def unchanged(path: str | os.PathLike[str], identity: FileIdentity) -> bool:
    """Whether the file at `path` still has `identity`; a file that is gone or cannot be read has not."""
    try:
        return identity_of(os.stat(path)) == identity
    except OSError:
        return False


class ModelFile(NamedTuple):
    """One regular file of the model: its canonical name, where to read it, and its identity."""

    name: str
    path: str
    identity: FileIdentity

    @property
    def size(self) -> int:
        return self.identity.size


@dataclass(frozen=True)
class TreeOptions:
    """How to enumerate: exact model-relative ignore paths (a file or a whole directory), git defaults, symlink
    policy, and `ignore_files`: names left out only while they are regular files (modelseal's signature and
    attestations: a directory or link under one of those names is model content like any other)."""

    ignore_paths: tuple[str, ...] = ()
    ignore_git_paths: bool = True
    allow_symlinks: bool = False
    ignore_files: tuple[str, ...] = ()

    def effective_ignores(self) -> frozenset[str]:
        extra = GIT_PATHS if self.ignore_git_paths else ()
        return frozenset((*self.ignore_paths, *extra))


@dataclass(frozen=True)
class ModelTree:
    """The enumerated model. `single_file` models are named by their basename."""

    root: Path
    single_file: bool
    files: tuple[ModelFile, ...]
    warnings: tuple[str, ...] = field(default=())
    ignored: tuple[str, ...] = field(default=())  # entries present but left out by ignore rules, sorted

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def check_name(name: str) -> str | None:
    """Why `name` is not an acceptable resource name, or None if it is (string tests only: it runs per file)."""
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            return "name is not valid UTF-8"
    if "\x00" in name:
        return "NUL byte in name"
    if name.startswith("/"):
        return "absolute path"
    if "\\" in name:
        return "backslash in name (names use '/')"
    wrapped = f"/{name}/"
    if "//" in wrapped or "/./" in wrapped or "/../" in wrapped:
        return "empty name, or an empty, '.' or '..' path component"
    return None


def normalize_ignore_path(root: Path, raw: str) -> str | None:
    """Turn a user-given ignore path into an exact model-relative POSIX path (None: outside the model)."""
    candidate = Path(raw)
    if not candidate.is_absolute():
        inside = root / candidate
        if inside.exists() or inside.is_symlink() or not candidate.exists():
            return candidate.as_posix().strip("/") or None
        candidate = candidate.absolute()
    try:
        relative = Path(os.path.abspath(candidate)).relative_to(os.path.abspath(root))
    except ValueError:
        return None
    text = relative.as_posix()
    return None if text == "." else text


def _display(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


class _Walker:
    """Depth-first walk that applies the ignore and symlink rules and collects files."""

    def __init__(self, root: Path, options: TreeOptions, on_file: Callable[[ModelFile], None] | None) -> None:
        from modelseal.hf_cache import cache_entry_of

        self.root = root
        self.real_root = os.path.realpath(root)
        entry = cache_entry_of(root)
        # a Hugging Face snapshot's links into its repository's blobs are the cache's layout, not user links
        self.layout_root = str(entry) if entry is not None and entry != Path(self.real_root) else None
        self.options = options
        self.ignores = options.effective_ignores()
        self.ignore_files = frozenset(options.ignore_files)
        self.ignored: list[str] = []
        self.files: list[ModelFile] = []
        self.warnings: list[str] = []
        self.on_file = on_file

    def walk(self, directory: str, prefix: str, ancestors: frozenset[tuple[int, int]]) -> None:
        if prefix.count("/") >= MAX_DEPTH:
            raise ModelTreeError(f"{_display(prefix.rstrip('/'))!r} lies more than {MAX_DEPTH} directories deep")
        try:
            with os.scandir(directory) as entries:
                children = list(entries)
        except OSError as exc:
            raise ModelTreeError(f"cannot list directory {directory}: {exc.strerror}") from exc
        for entry in children:
            name = prefix + entry.name
            if name in self.ignores or (name in self.ignore_files and self._regular_file(entry)):
                self.ignored.append(name)  # ancestors were checked on the way down
                continue
            if not entry.name.isascii():
                problem = check_name(name)
                if problem:
                    raise ModelTreeError(f"cannot sign or verify file {_display(name)!r}: {problem}")
            elif "\\" in entry.name:
                raise ModelTreeError(f"cannot sign or verify file {name!r}: backslash in name (names use '/')")
            if entry.is_symlink():
                self._visit(entry.path, name, True, ancestors)
            elif entry.is_file(follow_symlinks=False):
                self._add(ModelFile(name, entry.path, identity_of(entry.stat(follow_symlinks=False))))
            else:
                self._visit(entry.path, name, False, ancestors)

    def _add(self, file: ModelFile) -> None:
        self.files.append(file)
        if self.on_file is not None:
            self.on_file(file)

    def _visit(self, path: str, name: str, is_link: bool, ancestors: frozenset[tuple[int, int]]) -> None:
        if is_link and self._is_cache_blob(path):
            st = os.stat(path)
            self._add(ModelFile(name, path, identity_of(st)))
            return
        if is_link:
            if not self.options.allow_symlinks:
                raise SymlinkError(
                    f"{name!r} is a symbolic link and symlinks are not allowed",
                    details=("pass --allow-symlinks to hash the link target's content under the link's name",),
                )
            target = os.path.realpath(path)
            if os.path.commonpath([target, self.real_root]) != self.real_root:
                self.warnings.append(f"symlink {name!r} points outside the model, to {target}")
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ModelTreeError(f"cannot read {name!r}: {exc.strerror} (broken symlink?)") from exc
        if stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                self.warnings.append(f"symlink {name!r} makes a directory cycle; not followed")
                return
            self.walk(path, f"{name}/", ancestors | {key})
        elif stat.S_ISREG(st.st_mode):
            self._add(ModelFile(name, path, identity_of(st)))
        else:
            raise ModelTreeError(f"{name!r} is not a regular file or directory (device, FIFO or socket)")

    def _regular_file(self, entry: os.DirEntry[str]) -> bool:
        """A regular file, or a Hugging Face snapshot's link to a blob (the cache's own way to hold one)."""
        return entry.is_file(follow_symlinks=False) or (entry.is_symlink() and self._is_cache_blob(entry.path))

    def _is_cache_blob(self, path: str) -> bool:
        if self.layout_root is None:
            return False
        target = os.path.realpath(path)
        return os.path.commonpath([target, self.layout_root]) == self.layout_root and os.path.isfile(target)


def enumerate_model(root: Path, options: TreeOptions, on_file: Callable[[ModelFile], None] | None = None) -> ModelTree:
    """List the model's files under `options`; an empty model is an error.

    `on_file` sees each file of a directory model as soon as it is found, so hashing can start early."""
    if not root.exists() and not root.is_symlink():
        raise ModelTreeError(f"model path {root} does not exist")
    if root.is_file():
        if root.is_symlink() and not options.allow_symlinks:
            raise SymlinkError(f"{root} is a symbolic link and symlinks are not allowed")
        single = ModelFile(root.name, str(root), identity_of(root.stat()))
        return ModelTree(root, True, (single,))
    if not root.is_dir():
        raise ModelTreeError(f"model path {root} is neither a file nor a directory")
    walker = _Walker(root, options, on_file)
    st = root.stat()
    walker.walk(str(root), "", frozenset({(st.st_dev, st.st_ino)}))
    if not walker.files:
        raise ModelTreeError(f"model {root} has no files to sign (after ignore rules): an empty model is rejected")
    files = tuple(sorted(walker.files, key=lambda f: f.name))
    return ModelTree(root, False, files, tuple(walker.warnings), tuple(sorted(walker.ignored)))
