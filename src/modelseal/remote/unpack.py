"""`--pull` for OCI layers that are tarballs (KitOps ModelKits, ModelPack `.tar` layers): the layer is fetched
once (its digest checked), unpacked as a puller would into a private temporary directory, and each regular file
in it becomes a file of the model under its path in the archive. Anything else in the archive (links, devices,
names that leave the directory) is refused, and so is an archive that expands past a bound."""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from modelseal.errors import InputError
from modelseal.remote.objects import HASH_CHUNK, RemoteFile
from modelseal.tree import check_name

EXPANSION_BOUND = 100  # an archive may unpack to 100 times its size (+ 64 MiB); a bomb stops there
EXPANSION_SLACK = 64 << 20


def _local_fetch(path: Path) -> Callable[[int, int], bytes]:
    def fetch(start: int, end: int) -> bytes:
        with path.open("rb") as handle:
            handle.seek(start)
            return handle.read(end - start)

    return fetch


def _download(layer: RemoteFile, target: Path) -> None:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for start in range(0, layer.size, HASH_CHUNK):
            chunk = layer.fetch(start, min(start + HASH_CHUNK, layer.size))
            digest.update(chunk)
            out.write(chunk)
    published = layer.published
    if published is not None and published.algorithm == "sha256" and digest.hexdigest() != published.hexdigest:
        raise published.mismatch(layer.name)


@contextmanager
def _archive(blob: Path, media_type: str) -> Iterator[tarfile.TarFile]:
    with blob.open("rb") as raw:
        stream: IO[bytes] = raw
        if "zstd" in media_type or "zst" in media_type.rsplit("/", 1)[-1]:
            import zstandard

            stream = zstandard.ZstdDecompressor().stream_reader(raw)
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as archive:
                yield archive
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise InputError(f"{blob.name}: not a readable tar archive: {exc}") from exc


def unpack_layer(layer: RemoteFile, media_type: str, into: Path) -> list[RemoteFile]:
    """The regular files of an archive layer, unpacked under `into` (a directory the caller keeps)."""
    blob = into / "layer.blob"
    _download(layer, blob)
    bound = layer.size * EXPANSION_BOUND + EXPANSION_SLACK
    files: list[RemoteFile] = []
    seen: set[str] = set()
    total = 0
    with _archive(blob, media_type) as archive:
        for member in archive:
            name = member.name.strip("/")
            while name.startswith("./"):
                name = name[2:]
            if member.isdir() or not name or name == ".":
                continue
            if not member.isfile():
                kind = "link" if member.issym() or member.islnk() else "special file"
                raise InputError(f"layer {layer.name!r}: {member.name!r} is a {kind}: only regular files are unpacked")
            problem = check_name(name)
            if problem or name in seen:
                raise InputError(f"layer {layer.name!r}: member {member.name!r} cannot be a file: {problem or 'twice'}")
            total += member.size
            if total > bound:
                raise InputError(f"layer {layer.name!r} unpacks to more than {bound:,} bytes (bound)")
            seen.add(name)
            target = into / "files" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            with target.open("wb") as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
            files.append(RemoteFile(name, member.size, _local_fetch(target)))
    blob.unlink()
    return files


def unpack_directory() -> Any:
    """A private temporary directory, removed when the model that holds it is collected or at exit."""
    return tempfile.TemporaryDirectory(prefix="modelseal-pull-")
