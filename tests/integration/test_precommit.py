"""The pre-commit hook, run by the real pre-commit on a temporary git repository from this project's
`.pre-commit-hooks.yaml` (pre-commit builds its own environment from the repository, as users get it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.scanning.pickles import system

LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n"
)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One hook environment for the module: pre-commit installs modelseal into it once."""
    yield tmp_path_factory.mktemp("pre-commit-home")


def run_hook(repository: Path, home: Path, *files: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "160"}
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "modelseal-scan", "--verbose", "--files"]
    return subprocess.run(
        [*command, *files], cwd=repository, env=environment, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with a benign pickle, a booby-trapped one and a Git LFS pointer, all staged."""
    import pickle

    root = tmp_path / "repo"
    root.mkdir()
    (root / "benign.pkl").write_bytes(pickle.dumps({"weights": [0.1, 0.2]}))
    (root / "evil.pkl").write_bytes(system("touch /tmp/never"))
    (root / "model.safetensors").write_text(LFS_POINTER)
    for command in (["init", "-q"], ["add", "."]):
        subprocess.run(["git", *command], cwd=root, check=True)
    return root


def test_hook_fails_on_a_malicious_staged_file(repository: Path, pre_commit_home: Path) -> None:
    result = run_hook(repository, pre_commit_home, "benign.pkl", "evil.pkl")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "modelseal scan (model files)" in result.stdout and "Failed" in result.stdout
    assert "evil.pkl" in result.stdout and "would run:" in result.stdout and "touch /tmp/never" in result.stdout


def test_hook_passes_clean_files_and_reports_lfs_pointers_as_skipped(repository: Path, pre_commit_home: Path) -> None:
    result = run_hook(repository, pre_commit_home, "benign.pkl", "model.safetensors")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout
    assert "model.safetensors git-lfs-pointer (skipped, not clean)" in result.stdout
    assert "1 file(s) skipped, not clean" in result.stdout and "PASS: 1 file(s)" in result.stdout
