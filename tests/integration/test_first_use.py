"""What a new user runs into first (issue 10, "found when tried as a new user would"): file permissions of what
modelseal writes, signatures kept apart from the model, unreadable files, non-signatures given to inspect, and an
encrypted key at a terminal."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import KeyPair, copy_tree, without_root_privileges
from tests.integration.test_cli import modelseal, no_traceback


def _with_umask(mask: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelseal", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(mask),
    )


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_signature_files_get_the_umask_permissions(
    model_dir: Path, make_key_pair: Callable[..., KeyPair], mask: int, mode: int
) -> None:
    pair = make_key_pair()
    assert _with_umask(mask, "sign", "key", model_dir, "--private-key", pair.private).returncode == 0
    assert (model_dir / "model.sig").stat().st_mode & 0o777 == mode


def test_a_signature_kept_elsewhere_verifies_a_copy_that_carries_its_own(
    model_dir: Path, make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    pair = make_key_pair()
    elsewhere = tmp_path / "release.sig"
    assert modelseal("sign", "key", model_dir, "--private-key", pair.private, "--signature", elsewhere).returncode == 0
    copy = copy_tree(model_dir, tmp_path / "copy")
    for name in ("model.sig", "model.scan.sig", "model.meta.sig"):
        shutil.copy(elsewhere, copy / name)  # the publisher's copy carries its own signature and attestations
    result = modelseal("verify", "key", copy, "--public-key", pair.public, "--signature", elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_on_an_unreadable_file_is_inconclusive(
    model_dir: Path, make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    pair = make_key_pair()
    assert modelseal("sign", "key", model_dir, "--private-key", pair.private).returncode == 0
    policy = tmp_path / "trust.toml"
    policy.write_text(f'version = 1\n\n[[signers]]\nname = "me"\nmethod = "key"\npublic-key = "{pair.public}"\n')
    (model_dir / "weights.bin").chmod(0)
    try:
        command = without_root_privileges("check", model_dir, "--policy", policy)
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    finally:
        (model_dir / "weights.bin").chmod(0o644)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "weights.bin" in result.stderr and "Permission denied" in result.stderr


@pytest.mark.parametrize("content", [b"hello\n", b'{"a": 1}', b"[" * 100_000, b""])
def test_inspect_of_a_file_that_is_not_a_signature(tmp_path: Path, content: bytes) -> None:
    sample = tmp_path / "not-a-signature"
    sample.write_bytes(content)
    result = modelseal("inspect", sample)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is not a modelseal signature or attestation" in result.stderr
    assert "VERIFICATION FAILED" not in result.stdout + result.stderr
    no_traceback(result)


def test_an_encrypted_key_is_asked_for_at_a_terminal(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair(password=b"correct horse")
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "modelseal", "sign", "key", str(model_dir), "--private-key", str(pair.private)],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: getpass reads the pseudo-terminal on standard input
    )
    os.close(secondary)
    assert process.stderr is not None
    prompt = b""
    while b"Password for" not in prompt:  # answer only once asked: getpass flushes what was typed before
        ready, _, _ = select.select([process.stderr], [], [], 60)
        assert ready, f"no password prompt; got {prompt!r}"
        chunk = os.read(process.stderr.fileno(), 4096)
        assert chunk, f"exited without asking; got {prompt!r}"
        prompt += chunk
    os.write(primary, b"correct horse\n")
    _, rest = process.communicate(timeout=120)
    stderr = prompt + rest
    os.close(primary)
    assert process.returncode == 0, stderr
    assert (model_dir / "model.sig").is_file()
    assert b"correct horse" not in stderr
