"""Enumerate the files of a model the way the OMS v1.0 spec says: regular files only, relative POSIX names,
UTF-8 names, ignore rules, and an explicit symlink policy.

The result records each file's identity (device, inode, size, mtime) so the hashing engine can prove that
what it hashed is what was enumerated.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from modelseal.errors import ModelTreeError

GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")


@dataclass(frozen=True)
class FileIdentity:
    """What must not change between enumeration and the end of hashing."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class ModelFile:
    """One regular file of the model: its canonical name and where to read it."""

    name: str
    path: str
    identity: FileIdentity

    @property
    def size(self) -> int:
        return self.identity.size


@dataclass(frozen=True)
class TreeOptions:
    """How to enumerate: exact model-relative ignore paths, git defaults, symlink policy."""

    ignore_paths: tuple[str, ...] = ()
    ignore_git_paths: bool = True
    allow_symlinks: bool = False

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

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def check_name(name: str) -> str | None:
    """Why `name` is not an acceptable resource name, or None if it is."""
    if not name:
        return "empty name"
    if "\x00" in name:
        return "NUL byte in name"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8"
    if name.startswith("/"):
        return "absolute path"
    if "\\" in name:
        return "backslash in name (names use '/')"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "'.', '..' or empty path component"
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


def _is_ignored(name: str, ignores: frozenset[str]) -> bool:
    if name in ignores:
        return True
    parts = name.split("/")
    return any("/".join(parts[:i]) in ignores for i in range(1, len(parts)))


def _display(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


class _Walker:
    """Depth-first walk that applies the ignore and symlink rules and collects files."""

    def __init__(self, root: Path, options: TreeOptions) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.options = options
        self.ignores = options.effective_ignores()
        self.files: list[ModelFile] = []
        self.warnings: list[str] = []

    def walk(self, directory: str, prefix: str, ancestors: frozenset[tuple[int, int]]) -> None:
        try:
            with os.scandir(directory) as entries:
                children = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            raise ModelTreeError(f"cannot list directory {directory}: {exc.strerror}") from exc
        for entry in children:
            name = f"{prefix}{entry.name}"
            if _is_ignored(name, self.ignores):
                continue
            problem = check_name(name)
            if problem:
                raise ModelTreeError(f"cannot sign or verify file {_display(name)!r}: {problem}")
            self._visit(entry.path, name, entry.is_symlink(), ancestors)

    def _visit(self, path: str, name: str, is_link: bool, ancestors: frozenset[tuple[int, int]]) -> None:
        if is_link:
            if not self.options.allow_symlinks:
                raise ModelTreeError(
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
            self.files.append(ModelFile(name, path, FileIdentity.of(st)))
        else:
            raise ModelTreeError(f"{name!r} is not a regular file or directory (device, FIFO or socket)")


def enumerate_model(root: Path, options: TreeOptions) -> ModelTree:
    """List the model's files under `options`; an empty model is an error."""
    if not root.exists() and not root.is_symlink():
        raise ModelTreeError(f"model path {root} does not exist")
    if root.is_file():
        if root.is_symlink() and not options.allow_symlinks:
            raise ModelTreeError(f"{root} is a symbolic link and symlinks are not allowed")
        single = ModelFile(root.name, str(root), FileIdentity.of(root.stat()))
        return ModelTree(root, True, (single,))
    if not root.is_dir():
        raise ModelTreeError(f"model path {root} is neither a file nor a directory")
    walker = _Walker(root, options)
    st = root.stat()
    walker.walk(str(root), "", frozenset({(st.st_dev, st.st_ino)}))
    if not walker.files:
        raise ModelTreeError(f"model {root} has no files to sign (after ignore rules): an empty model is rejected")
    files = tuple(sorted(walker.files, key=lambda f: f.name))
    return ModelTree(root, False, files, tuple(walker.warnings))
