"""Models in the local Hugging Face cache, by repository id and without network: snapshot files are symlinks into
the repository's blobs, and are signed and verified under their repository paths, so a signature made on a
plain checkout verifies the cached copy and the other way round."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from modelseal import KeySigner, KeyVerifier, sign, verify
from tests.conftest import KeyPair
from tests.integration.test_check import write_policy
from tests.integration.test_cli import modelseal
from tests.scanning.test_hf import MINILM

COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


def populate_cache(cache: Path, source: Path, repo: str = "sentence-transformers/all-MiniLM-L6-v2") -> Path:
    """The layout huggingface_hub writes: blobs named by content, snapshot links by repository path, refs/main."""
    owner, name = repo.split("/")
    entry = cache / f"models--{owner}--{name}"
    snapshot = entry / "snapshots" / COMMIT
    (entry / "blobs").mkdir(parents=True)
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(COMMIT)
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        data = file.read_bytes()
        blob = entry / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / file.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    hub = tmp_path / "hub"
    snapshot = populate_cache(hub, MINILM)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    return hub, snapshot


def test_sign_by_repo_id_names_files_by_repository_path(
    cache: tuple[Path, Path], tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    _, snapshot = cache
    pair = make_key_pair()
    signed = modelseal("sign", "key", "sentence-transformers/all-MiniLM-L6-v2", "--private-key", pair.private, "--json")
    assert signed.returncode == 0, signed.stderr
    assert "warning" not in signed.stderr  # the cache's links are its layout, not user symlinks
    names = {r["name"] for r in json.loads(signed.stdout)["resources"]}
    assert {"1_Pooling/config.json", "model.safetensors", "config.json"} <= names
    # the same signature verifies a plain checkout of the repository
    checkout = shutil.copytree(MINILM, tmp_path / "checkout")
    shutil.copy(snapshot / "model.sig", checkout / "model.sig")
    assert verify(checkout, KeyVerifier.from_file(pair.public)).files_verified == len(names)


def test_check_by_repo_id_with_a_signature_from_the_hub(
    cache: tuple[Path, Path], tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    """The publisher signed a checkout; the signature arrived in the cache like any file (a link to a blob)."""
    hub, snapshot = cache
    checkout = shutil.copytree(MINILM, tmp_path / "checkout")
    pair = make_key_pair()
    sign(checkout, KeySigner.from_file(pair.private))
    blob = hub / "models--sentence-transformers--all-MiniLM-L6-v2" / "blobs" / "signature-blob"
    shutil.copy(checkout / "model.sig", blob)
    (snapshot / "model.sig").symlink_to(os.path.relpath(blob, snapshot))
    policy = write_policy(tmp_path, {"publisher": pair.public})
    result = modelseal("check", f"sentence-transformers/all-MiniLM-L6-v2@{COMMIT}", "--policy", policy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout and "scanned now" in result.stdout


def test_unknown_repo_or_revision_is_a_clear_error(cache: tuple[Path, Path]) -> None:
    missing = modelseal("scan", "acme/not-downloaded")
    assert missing.returncode == 2 and "not in the Hugging Face cache" in missing.stderr
    assert "huggingface-cli download acme/not-downloaded" in missing.stderr
    revision = modelseal("scan", "sentence-transformers/all-MiniLM-L6-v2@v9")
    assert revision.returncode == 2 and f"cached snapshots: {COMMIT}" in revision.stderr


def test_link_leaving_the_cache_entry_is_still_a_symlink(
    cache: tuple[Path, Path], tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    _, snapshot = cache
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the repository")
    (snapshot / "extra.txt").symlink_to(outside)
    result = modelseal("sign", "key", snapshot, "--private-key", make_key_pair().private)
    assert result.returncode == 2 and "'extra.txt' is a symbolic link" in result.stderr
