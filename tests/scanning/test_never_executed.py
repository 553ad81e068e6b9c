"""Scanning never runs what it scans.

Two proofs: (1) canary pickles that would create a file if loaded are really dangerous (shown by loading one
in a throwaway subprocess) and scanning them creates nothing; (2) the whole peer corpus is scanned in a
subprocess under a Python audit hook that aborts on any unpickler import, process spawn, exec or code load.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelseal.scanning.findings import Severity
from modelseal.scanning.scanner import scan_file
from tests.conftest import FIXTURES
from tests.scanning.pickles import call, global_, stop, unicode


def canaries(canary: Path) -> dict[str, bytes]:
    """Harmless payloads: each creates `canary` when unpickled, through a different route."""
    touch = call(global_("pathlib", "Path.touch"), call(global_("pathlib", "Path"), unicode(str(canary))))
    opener = call(global_("builtins", "open"), unicode(str(canary)), unicode("w"))
    system = call(global_("os", "system"), unicode(f"touch {canary}"))
    return {"pathlib.pkl": stop(touch), "open.pkl": stop(opener), "system.pkl": stop(system)}


def test_a_canary_really_runs_when_loaded(tmp_path: Path) -> None:
    """Guards the tests below: loading (in a throwaway process) creates the canary."""
    canary = tmp_path / "loaded"
    sample = tmp_path / "open.pkl"
    sample.write_bytes(canaries(canary)["open.pkl"])
    subprocess.run(
        [sys.executable, "-c", f"import pickle; pickle.load(open({str(sample)!r}, 'rb'))"], check=True, timeout=60
    )
    assert canary.exists()


@pytest.mark.parametrize("name", ["pathlib.pkl", "open.pkl", "system.pkl"])
def test_scanning_a_canary_creates_nothing(tmp_path: Path, name: str) -> None:
    canary = tmp_path / "scanned"
    sample = tmp_path / name
    sample.write_bytes(canaries(canary)[name])
    result = scan_file(sample)
    assert result.worst is not None and result.worst >= Severity.HIGH
    assert not canary.exists()


AUDITED_SCAN = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from modelseal.scanning.scanner import scan_paths
    # a first pass loads every module the scanner imports lazily (imports exec code too); then the audited pass
    scan_paths([Path(p) for p in sys.argv[1:]])

    FORBIDDEN = ("pickle.find_class", "os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn",
                 "os.fork", "exec", "compile", "marshal.loads", "ctypes.dlopen", "socket.connect", "urllib.Request")
    from modelseal.scanning.formats.hdf5 import _READER
    seen, readers = [], []

    def hook(event, args):
        if event == "subprocess.Popen" and list(args[1][:3]) == [sys.executable, "-c", _READER]:
            readers.append(args[1][3])  # the one child a scan starts: HDF5's reader, killable when it loops
            return
        if event in FORBIDDEN or event.startswith(("os.exec", "os.spawn")):
            seen.append(event)
            raise RuntimeError(f"audited event during a scan: {event}")

    sys.addaudithook(hook)
    results = scan_paths([Path(p) for p in sys.argv[1:]])
    print(json.dumps({"files": len(results), "seen": seen, "hdf5_readers": len(readers),
                      "flagged": sum(1 for r in results if r.findings)}))
""")


def test_scanning_the_whole_corpus_triggers_no_audited_event(tmp_path: Path) -> None:
    corpus = FIXTURES / "peer-corpora"
    completed = subprocess.run(
        [sys.executable, "-c", AUDITED_SCAN, str(corpus)], capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["seen"] == []
    assert report["hdf5_readers"] > 0  # the exemption above is exercised, and narrow
    assert report["files"] > 150 and report["flagged"] > 100
