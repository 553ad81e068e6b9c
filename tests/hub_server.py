"""A Hugging Face Hub for the tests, on 127.0.0.1: the endpoints `huggingface_hub` uses to read a model
(`/api/models/{repo}/revision/{rev}`, `/api/models/{repo}/tree/{rev}`, `/{repo}/resolve/{rev}/{path}` with
`Range`), with the Hub's digests: the LFS sha256 (`lfs.oid`, `X-Linked-Etag`) for large and binary files and
the git blob id (`oid`, `ETag`) for the rest. Every body byte sent is logged, so tests can count what a client
transferred.

Usage: hub_server.py ROOT PORT LOG — ROOT/org/name/ is a repository at the commit in ROOT/org/name.commit
(a file beside it; default 40 zeros). A file with a `.sha256` sidecar takes its LFS digest from it, so a sparse
multi-GB file need not be hashed at every start.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".onnx", ".h5", ".pkl", ".npy", ".msgpack")
LFS_THRESHOLD = 10 << 20


def git_blob_id(path: Path) -> str:
    digest = hashlib.sha1(b"blob %d\x00" % path.stat().st_size, usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def lfs_sha256(path: Path) -> str:
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file():
        return sidecar.read_text().strip()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Hub:
    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log
        self.lock = threading.Lock()
        self.entries: dict[str, list[dict[str, object]]] = {}

    def repo(self, repo_id: str) -> Path | None:
        path = self.root / repo_id
        return path if path.is_dir() and path.resolve().is_relative_to(self.root.resolve()) else None

    def commit(self, repo_id: str) -> str:
        marker = self.root / f"{repo_id}.commit"
        return marker.read_text().strip() if marker.is_file() else "0" * 40

    def tree(self, repo_id: str) -> list[dict[str, object]]:
        if repo_id not in self.entries:
            base = self.repo(repo_id)
            assert base is not None
            listing = []
            for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".sha256")):
                size = path.stat().st_size
                entry: dict[str, object] = {"type": "file", "path": path.relative_to(base).as_posix(), "size": size}
                if path.suffix in LFS_SUFFIXES or size >= LFS_THRESHOLD:
                    entry["oid"] = hashlib.sha1(path.name.encode(), usedforsecurity=False).hexdigest()  # the pointer's
                    entry["lfs"] = {"oid": lfs_sha256(path), "size": size, "pointerSize": 134}
                else:
                    entry["oid"] = git_blob_id(path)
                listing.append(entry)
            self.entries[repo_id] = listing
        return self.entries[repo_id]

    def record(self, line: str) -> None:
        with self.lock, self.log.open("a") as out:
            out.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    hub: Hub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_json(self, value: object, status: int = 200) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def not_found(self) -> None:
        self.send_json({"error": "Repository not found"}, 404)

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            return self.send_json({"ok": True})
        if self.headers.get("Authorization") == "Bearer hf_forbidden":
            return self.send_json({"error": "Invalid credentials"}, 401)
        api = re.fullmatch(r"/api/models/([\w.-]+/[\w.-]+)(?:/(revision|tree)/([^/]+)(?:/.*)?)?", path)
        if api:
            repo_id, kind, _revision = api.groups()
            if self.hub.repo(repo_id) is None:
                return self.not_found()
            if kind == "tree":
                return self.send_json(self.hub.tree(repo_id))
            return self.send_json({"id": repo_id, "sha": self.hub.commit(repo_id), "siblings": self.siblings(repo_id)})
        resolve = re.fullmatch(r"/([\w.-]+/[\w.-]+)/resolve/([^/]+)/(.+)", path)
        if not resolve or self.hub.repo(resolve[1]) is None:
            return self.not_found()
        return self.send_file(resolve[1], resolve[3], head)

    def siblings(self, repo_id: str) -> list[dict[str, object]]:
        """The model info's file list, with sizes and digests as the Hub gives them for `?blobs=true`."""
        found = []
        for entry in self.hub.tree(repo_id):
            sibling: dict[str, object] = {"rfilename": entry["path"], "size": entry["size"], "blobId": entry["oid"]}
            lfs = entry.get("lfs")
            if isinstance(lfs, dict):
                sibling["lfs"] = {"sha256": lfs["oid"], "size": lfs["size"], "pointerSize": lfs["pointerSize"]}
            found.append(sibling)
        return found

    def send_file(self, repo_id: str, name: str, head: bool) -> None:
        entry = next((e for e in self.hub.tree(repo_id) if e["path"] == name), None)
        if entry is None:
            return self.not_found()
        file = self.hub.root / repo_id / name
        size = int(entry["size"])  # type: ignore[call-overload]
        start, end = 0, size - 1
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if ranged:
            start = int(ranged[1])
            end = min(int(ranged[2]) if ranged[2] else size - 1, size - 1)
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Repo-Commit", self.hub.commit(repo_id))
        lfs = entry.get("lfs")
        self.send_header("ETag", f'"{lfs["oid"] if isinstance(lfs, dict) else entry["oid"]}"')
        if isinstance(lfs, dict):
            self.send_header("X-Linked-Etag", f'"{lfs["oid"]}"')
            self.send_header("X-Linked-Size", str(size))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        sent = 0
        with file.open("rb") as handle:
            handle.seek(start)
            while sent < end - start + 1:
                chunk = handle.read(min(1 << 20, end - start + 1 - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        self.hub.record(f"{repo_id}/{name} {start} {sent}")


def main() -> None:
    root, port, log = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    Handler.hub = Hub(root, log)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
