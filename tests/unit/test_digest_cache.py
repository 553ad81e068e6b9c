"""The incremental digest cache: unchanged files are not hashed again, any change (even one that keeps the size
and mtime) is hashed again, and a broken cache never stops signing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from modelseal import KeySigner, KeyVerifier, VerificationError, sign, verify
from modelseal.hashing.cache import DigestCache
from modelseal.hashing.engine import HashPool
from modelseal.oms.manifest import Serialization, compute_manifest
from modelseal.tree import TreeOptions, enumerate_model
from tests.conftest import KeyPair


def manifest_with_cache(model: Path, cache_file: Path) -> tuple[dict[str, str], int]:
    """The model's digests, and how many came from the cache."""
    cache = DigestCache(cache_file, model, "sha256")
    with HashPool("sha256", cache=cache) as pool:
        tree = enumerate_model(model, TreeOptions())
        manifest = compute_manifest(tree, Serialization("files", "sha256"), pool)
    cache.close()
    return manifest.digests_by_name(), cache.hits


def test_only_changed_files_are_hashed_again(model_dir: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "cache.sqlite3"
    first, hits = manifest_with_cache(model_dir, cache_file)
    assert hits == 0
    (model_dir / "sub" / "tokenizer.json").write_text('{"vocab": {"a": 1}}')
    second, hits = manifest_with_cache(model_dir, cache_file)
    assert hits == len(first) - 1
    assert {n for n in first if first[n] != second[n]} == {"sub/tokenizer.json"}
    assert manifest_with_cache(model_dir, cache_file)[1] == len(first)


def test_rewrite_keeping_size_and_mtime_is_not_served_from_the_cache(model_dir: Path, tmp_path: Path) -> None:
    """An attacker restoring mtime (touch -r) cannot restore ctime: the digest is computed from the new bytes."""
    cache_file = tmp_path / "cache.sqlite3"
    before, _ = manifest_with_cache(model_dir, cache_file)
    weights = model_dir / "weights.bin"
    stat = weights.stat()
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights.stat().st_size == stat.st_size and weights.stat().st_mtime_ns == stat.st_mtime_ns
    after, hits = manifest_with_cache(model_dir, cache_file)
    assert hits == len(before) - 1 and after["weights.bin"] != before["weights.bin"]


def test_resigning_with_the_cache_gives_a_valid_signature(
    model_dir: Path, tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair, cache_file = make_key_pair(), tmp_path / "cache.sqlite3"
    sign(model_dir, KeySigner.from_file(pair.private), cache=cache_file)
    (model_dir / "README.md").write_text("# edited after the first signature\n")
    sign(model_dir, KeySigner.from_file(pair.private), cache=cache_file)
    assert verify(model_dir, KeyVerifier.from_file(pair.public)).files_verified == 6


def test_trusted_cache_still_catches_content_changes(
    model_dir: Path, tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair, cache_file = make_key_pair(), tmp_path / "cache.sqlite3"
    sign(model_dir, KeySigner.from_file(pair.private), cache=cache_file)
    assert verify(model_dir, KeyVerifier.from_file(pair.public), trusted_cache=cache_file).files_verified == 5
    (model_dir / "config.json").write_text('{"hidden": 9}')  # same size
    with pytest.raises(VerificationError, match=r"modified: 'config\.json'"):
        verify(model_dir, KeyVerifier.from_file(pair.public), trusted_cache=cache_file)


def test_corrupt_cache_is_reported_and_ignored(
    model_dir: Path, tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    cache_file = tmp_path / "cache.sqlite3"
    cache_file.write_bytes(b"this is not a database" * 100)
    result = sign(model_dir, KeySigner.from_file(make_key_pair().private), cache=cache_file)
    assert any("digest cache" in w and "unusable" in w for w in result.warnings)
    assert len(result.manifest.resources) == 5


def test_cli_uses_the_cache_by_default(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    from tests.integration.test_cli import modelseal

    pair = make_key_pair()
    assert modelseal("sign", "key", model_dir, "--private-key", pair.private).returncode == 0
    cache_file = Path(os.environ["MODELSEAL_CACHE_DIR"]) / "digests.sqlite3"
    assert manifest_with_cache(model_dir, cache_file)[1] == 5  # the CLI stored every file of this model
