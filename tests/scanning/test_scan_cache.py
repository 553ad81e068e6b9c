"""The content-keyed scan cache: bytes judged once are not read again, and nothing but the same bytes under the
same scanner, policy and name ever gets an old verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelseal import KeySigner, __version__, sign
from modelseal.scanning import cache as scan_cache
from modelseal.scanning.cache import CACHED_NOTE, CacheKey, ScanCache, context_key, scan_cached
from modelseal.scanning.context import ScanOptions
from modelseal.scanning.scanner import iter_targets
from modelseal.tree import identity_of
from tests.integration.test_cli import modelseal
from tests.scanning.pickles import binbytes, call, global_, stop, system

MODEL_BYTES = 3 * (24 << 20)


def _clean_pickle(size: int) -> bytes:
    """A harmless pickle carrying `size` bytes of data (the scanner reads them all)."""
    return stop(binbytes(os.urandom(size)))


@pytest.fixture
def cache_dir(tmp_path: Path) -> dict[str, str]:
    return {"MODELSEAL_CACHE_DIR": str(tmp_path / "cache")}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    for index in range(3):
        (root / f"part{index}.pkl").write_bytes(_clean_pickle(24 << 20))
    (root / "config.json").write_text('{"architectures": ["Tiny"]}')
    return root


def _bytes_read(*args: str | Path, env: dict[str, str]) -> tuple[int, dict[str, object]]:
    """Run `modelseal scan --jobs 1 --format json ARGS` in one process and count what it read (/proc/self/io)."""
    program = (
        "import sys\n"
        "from modelseal.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "io = dict(line.split(': ') for line in open('/proc/self/io').read().splitlines())\n"
        "print(io['rchar'], file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, "scan", "--jobs", "1", "--format", "json", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=120,
    )
    return int(result.stderr.strip().splitlines()[-1]), json.loads(result.stdout)


def _cached(document: dict[str, object]) -> list[bool]:
    return [CACHED_NOTE in entry["notes"] for entry in document["files"]]  # type: ignore[attr-defined, index]


def test_a_second_scan_of_an_unchanged_tree_reads_no_model_bytes(model: Path, cache_dir: dict[str, str]) -> None:
    empty = model.parent / "empty"
    empty.mkdir()
    start_up, _ = _bytes_read(empty, env=cache_dir)  # imports, the policy, the caches: what any run reads
    cold_read, cold = _bytes_read(model, env=cache_dir)
    warm_read, warm = _bytes_read(model, env=cache_dir)
    assert cold_read - start_up > MODEL_BYTES  # the hash pass for the keys (the scanner skips pickled bytes)
    assert warm_read - start_up < 1 << 20  # the cache rows, not the model
    assert _cached(cold) == [False] * 4 and _cached(warm) == [True] * 4
    strip = [{**e, "notes": [n for n in e["notes"] if n != CACHED_NOTE]} for e in warm["files"]]  # type: ignore
    assert strip == cold["files"]


def test_a_rewrite_keeping_size_and_mtime_is_scanned_again(tmp_path: Path, cache_dir: dict[str, str]) -> None:
    weights = tmp_path / "weights.pkl"
    evil = system("id")
    clean = stop(binbytes(b"x" * (len(evil) - len(stop(binbytes(b""))))))  # as many bytes as the evil one
    assert len(clean) == len(evil)
    weights.write_bytes(clean)
    assert modelseal("scan", weights, env=cache_dir).returncode == 0
    before = weights.stat()
    weights.write_bytes(evil)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (weights.stat().st_size, weights.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    result = modelseal("scan", weights, env=cache_dir)
    assert result.returncode == 1, result.stdout
    assert "os.system('id')" in result.stdout


def test_another_policy_misses_the_cache(model: Path, tmp_path: Path, cache_dir: dict[str, str]) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[allow]\nexact = ["collections.OrderedDict"]\n')
    _, _ = _bytes_read(model, env=cache_dir)
    _, other = _bytes_read(model, "--policy", policy, env=cache_dir)
    _, again = _bytes_read(model, "--policy", policy, env=cache_dir)
    assert not any(_cached(other)) and all(_cached(again))


def test_another_scanner_release_misses_the_cache(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert scan_cache.scanner_release().startswith(__version__ + "+")  # the version and a digest of the code
    targets = list(iter_targets([model]))
    keys = [CacheKey.of(p.name, f"test:{p.name}", identity_of(p.stat())) for p, _ in targets]
    cache = ScanCache(tmp_path / "scans.sqlite3", context_key("policy", ScanOptions()))
    scan_cached(targets, keys, ScanOptions(), cache)
    assert len(cache.lookup([k.content for k in keys])) == 4
    monkeypatch.setattr(scan_cache, "scanner_release", lambda: "9.9.9+other")
    newer = ScanCache(tmp_path / "scans.sqlite3", context_key("policy", ScanOptions()))
    assert newer.lookup([k.content for k in keys]) == {}


def test_a_result_for_bytes_that_changed_after_hashing_is_not_stored(tmp_path: Path) -> None:
    weights = tmp_path / "weights.pkl"
    weights.write_bytes(system("id"))
    stale = identity_of(weights.stat())
    weights.write_bytes(stop(call(global_("collections", "OrderedDict"))))  # swapped in after the digest was taken
    cache = ScanCache(tmp_path / "scans.sqlite3", "context")
    key = CacheKey.of("weights.pkl", "sha256:digest-of-the-malicious-bytes", stale)
    (result,) = scan_cached([(weights, None)], [key], ScanOptions(), cache)
    assert not result.findings
    assert cache.lookup([key.content]) == {}  # the clean verdict is not filed under the malicious digest


def test_a_corrupt_cache_is_ignored_with_a_warning(model: Path, tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    (directory / "scans.sqlite3").write_bytes(b"not a database" * 100)
    result = modelseal("scan", model, "--format", "json", env={"MODELSEAL_CACHE_DIR": str(directory)})
    assert result.returncode == 0, result.stderr
    assert "scan cache" in result.stderr and "unusable" in result.stderr
    assert not any(_cached(json.loads(result.stdout)))


def test_no_cache_neither_reads_nor_writes_it(model: Path, cache_dir: dict[str, str]) -> None:
    modelseal("scan", "--no-cache", model, env=cache_dir)
    assert not (Path(cache_dir["MODELSEAL_CACHE_DIR"]) / "scans.sqlite3").exists()


def test_check_reuses_verdicts_through_the_signed_digests(
    model: Path, make_key_pair, tmp_path: Path, cache_dir: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    pair = make_key_pair()
    sign(model, KeySigner.from_file(pair.private))
    policy = tmp_path / "trust.toml"
    policy.write_text(f'version = 1\n\n[[signers]]\nname = "k"\nmethod = "key"\npublic-key = "{pair.public}"\n')
    first = modelseal("check", model, "--policy", policy, "--format", "json", env=cache_dir)
    second = modelseal("check", model, "--policy", policy, "--format", "json", env=cache_dir)
    assert first.returncode == second.returncode == 0, first.stdout + first.stderr
    assert not any(_cached(json.loads(first.stdout)["scan"]))
    assert all(_cached(json.loads(second.stdout)["scan"]))
    scanned = modelseal("scan", "--format", "json", model, env=cache_dir)  # files/sha256: the same keys
    assert sum(_cached(json.loads(scanned.stdout))) == 4


def test_the_cache_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    monkeypatch.setattr(scan_cache, "MAX_ENTRIES", 3)
    cache = ScanCache(tmp_path / "scans.sqlite3", "context")
    (result,) = scan_cached([(_write(tmp_path / "a.pkl"), None)], [None], ScanOptions(), None)
    cache.store([(f"key{i}", result) for i in range(5)])
    cache.close()
    with sqlite3.connect(tmp_path / "scans.sqlite3") as connection:
        assert connection.execute("SELECT count(*) FROM results").fetchone() == (3,)


def _write(path: Path) -> Path:
    path.write_bytes(stop(call(global_("collections", "OrderedDict"))))
    return path
