from __future__ import annotations

import hashlib
import os
from pathlib import Path

import blake3
import pytest

from modelseal.errors import FileChangedError
from modelseal.hashing import HashTask, hash_tasks
from modelseal.hashing.reader import PIPELINE_THRESHOLD
from modelseal.tree import TreeOptions, enumerate_model
from tests.conftest import concurrent_writer

SIZES = [0, 1, 4095, PIPELINE_THRESHOLD - 1, PIPELINE_THRESHOLD, PIPELINE_THRESHOLD * 3 + 12345]


def reference_digest(data: bytes, hash_type: str) -> str:
    if hash_type == "sha256":
        return hashlib.sha256(data).hexdigest()
    if hash_type == "blake2b":
        return hashlib.blake2b(data, digest_size=64).hexdigest()
    return blake3.blake3(data).hexdigest()


@pytest.fixture(scope="module")
def sized_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("sized")
    contents = {f"f{size}": os.urandom(size) for size in SIZES}
    for name, data in contents.items():
        (root / name).write_bytes(data)
    return root, contents


@pytest.mark.parametrize("hash_type", ["sha256", "blake2b", "blake3"])
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_whole_file_digests_match_hashlib(
    sized_model: tuple[Path, dict[str, bytes]], hash_type: str, workers: int
) -> None:
    root, contents = sized_model
    tree = enumerate_model(root, TreeOptions())
    tasks = [HashTask(f, 0, f.size) for f in tree.files]
    digests = hash_tasks(tasks, hash_type, workers=workers)
    for task, digest in zip(tasks, digests, strict=True):
        assert digest == reference_digest(contents[task.file.name], hash_type), task.file.name


def test_byte_ranges_hash_exactly_their_bytes(sized_model: tuple[Path, dict[str, bytes]]) -> None:
    root, contents = sized_model
    big = next(f for f in enumerate_model(root, TreeOptions()).files if f.size == SIZES[-1])
    data = contents[big.name]
    ranges = [(0, 10), (10, PIPELINE_THRESHOLD + 10), (PIPELINE_THRESHOLD + 10, big.size)]
    digests = hash_tasks([HashTask(big, s, e) for s, e in ranges], "sha256")
    assert digests == [hashlib.sha256(data[s:e]).hexdigest() for s, e in ranges]


def test_many_small_files_keep_their_order(tmp_path: Path) -> None:
    for i in range(1500):
        (tmp_path / f"{i:05d}").write_bytes(i.to_bytes(4, "big"))
    tree = enumerate_model(tmp_path, TreeOptions())
    digests = hash_tasks([HashTask(f, 0, f.size) for f in tree.files], "sha256", workers=3)
    assert digests == [hashlib.sha256(int(f.name).to_bytes(4, "big")).hexdigest() for f in tree.files]


def test_file_replaced_after_listing_is_detected(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"original")
    tree = enumerate_model(tmp_path, TreeOptions())
    (tmp_path / "a").write_bytes(b"changed!!")
    with pytest.raises(FileChangedError, match="changed"):
        hash_tasks([HashTask(f, 0, f.size) for f in tree.files], "sha256")


def test_file_written_while_hashing_is_detected(tmp_path: Path) -> None:
    """A real concurrent writer appends to a large file for as long as hashing runs."""
    target = tmp_path / "growing.bin"
    target.write_bytes(os.urandom(64 << 20))
    tree = enumerate_model(tmp_path, TreeOptions())
    with concurrent_writer(target), pytest.raises(FileChangedError):
        hash_tasks([HashTask(f, 0, f.size) for f in tree.files], "sha256")


def test_truncated_during_read_is_a_short_read(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    target.write_bytes(os.urandom(PIPELINE_THRESHOLD * 2))
    tree = enumerate_model(tmp_path, TreeOptions())
    file = tree.files[0]
    os.truncate(target, PIPELINE_THRESHOLD)
    os.utime(target, ns=(file.identity.mtime_ns, file.identity.mtime_ns))
    with pytest.raises(FileChangedError):
        hash_tasks([HashTask(file, 0, file.size)], "sha256")


def test_dataset_of_small_files_is_hashed_by_helper_processes_while_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelseal.hashing import engine
    from modelseal.hashing.engine import HELPERS_AFTER_FILES, HashPool

    left_for_later: list[int] = []
    real_hash_tasks = engine.hash_tasks

    def recording(tasks: list[HashTask], hash_type: str, **options: object) -> list[str]:
        left_for_later.append(len(tasks))
        return real_hash_tasks(tasks, hash_type, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "hash_tasks", recording)

    count = HELPERS_AFTER_FILES + 1500
    for i in range(count):
        (tmp_path / f"{i:06d}").write_bytes(i.to_bytes(4, "big") * 3)
    with HashPool("sha256", workers=2) as pool:
        tree = enumerate_model(tmp_path, TreeOptions(), on_file=lambda f: pool.prefetch(HashTask(f, 0, f.size)))
        digests = pool.hash_all([HashTask(f, 0, f.size) for f in tree.files])
    assert left_for_later == [0], "every file should have been hashed while listing"
    assert len(digests) == count
    assert digests == [hashlib.sha256(int(f.name).to_bytes(4, "big") * 3).hexdigest() for f in tree.files]


def test_helper_process_reports_a_changed_file(tmp_path: Path) -> None:
    from modelseal.hashing.worker import HelperProcess

    (tmp_path / "a").write_bytes(b"before")
    file = enumerate_model(tmp_path, TreeOptions()).files[0]
    (tmp_path / "a").write_bytes(b"after, longer")
    helper = HelperProcess()
    try:
        with pytest.raises(FileChangedError, match="changed"):
            helper.hash_batch("sha256", [HashTask(file, 0, file.size)])
        # the helper survives an error and answers the next batch
        fresh = enumerate_model(tmp_path, TreeOptions()).files[0]
        assert helper.hash_batch("sha256", [HashTask(fresh, 0, fresh.size)]) == [
            hashlib.sha256(b"after, longer").hexdigest()
        ]
    finally:
        helper.close()
