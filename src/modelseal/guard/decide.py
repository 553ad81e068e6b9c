"""The guards' one decision, on a path or on the very bytes a loader is about to read.

`torch_load` opens the file before checking and hands that same open file to torch, after proving it is the
file that was checked (device, inode, size, mtime, ctime): a file swapped in after the check is refused; an in-place
write through a shared mapping is not visible to stat (README: What each mode protects against). A directory
(`from_pretrained`) is loaded by path, so keep it where only the loading process can write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from modelseal.errors import VerificationError
from modelseal.tree import identity_of

if TYPE_CHECKING:
    from modelseal.attest.check import CheckReport


class UntrustedModelError(VerificationError):
    """The guard refused to hand the model to the framework."""


def ensure_trusted(model: str | Path, policy: str | Path | None = None) -> None:
    """Raise `UntrustedModelError` unless `model` passes `check` under `policy` (or scans clean without one)."""
    model = Path(model)
    if policy is not None:
        from modelseal.attest.check import Outcome, check

        report = check(model, Path(policy))
        if report.verdict is not Outcome.PASSED:
            raise UntrustedModelError(f"modelseal check {report.verdict.value} for {model}", details=_lines(report))
        return
    from modelseal.attest.check import Outcome, scan_step
    from modelseal.scanning.findings import Severity
    from modelseal.scanning.report import ScanSummary
    from modelseal.scanning.scanner import scan_paths

    step = scan_step(ScanSummary(tuple(scan_paths([model])), Severity.HIGH), "scanned now")
    if step.outcome is not Outcome.PASSED:
        raise UntrustedModelError(f"modelseal refused to load {model}: {step.summary}", details=step.details)


def ensure_trusted_bytes(data: bytes, source: Path | None, policy: str | Path | None = None) -> None:
    """Raise `UntrustedModelError` unless `data` (what the loader will unpickle, read once) scans clean and, with
    a policy, is byte for byte what a trusted signature vouches for at `source`: the loader gets these bytes, so
    nothing written to the file after the check reaches it."""
    name = source.name if source is not None else "stream.pkl"
    with tempfile.TemporaryDirectory(prefix="modelseal-guard-") as private:
        copy = Path(private) / name
        copy.write_bytes(data)
        if policy is None:
            ensure_trusted(copy)  # the scan, under the file's own name
            return
        if source is None or not source.is_file():
            raise UntrustedModelError(
                "the policy asks for a signature, but the loader was given a stream with no file behind it",
                details=("load from a path (or an open file) whose signature the policy trusts",),
            )
        from modelseal.attest.check import Outcome, check
        from modelseal.layout import default_signature_path
        from modelseal.oms.manifest import SINGLE_FILE_COMPAT_NAME
        from modelseal.oms.options import HashingOptions
        from modelseal.signature import digest_tree

        report = check(source, Path(policy))  # signed, and scanned; the digest below proves data is those bytes
        if report.verdict is not Outcome.PASSED or report.manifest is None:
            raise UntrustedModelError(f"modelseal check {report.verdict.value} for {source}", details=_lines(report))
        signed = report.manifest.serialization
        compat = any(r.name.startswith(SINGLE_FILE_COMPAT_NAME) for r in report.manifest.resources)
        loaded, _ = digest_tree(
            copy, HashingOptions.reproducing(signed, compat=compat), signature=default_signature_path(copy)
        )
        if loaded.root_digest() != report.root_digest:
            raise UntrustedModelError(f"{source} changed between the check and the load: the bytes read are not signed")


def _lines(report: CheckReport) -> tuple[str, ...]:
    lines = tuple(f"{s.name}: {s.outcome.value}: {s.summary}" for s in report.steps)
    return lines + tuple(line for s in report.steps for line in s.details[:5])


def torch_load(path: str | Path, *, policy: str | Path | None = None, **kwargs: Any) -> Any:
    """`torch.load(path, **kwargs)`, only after `path` passed the check; torch reads the very file checked."""
    import torch

    with pinned(path, policy) as handle:
        return torch.load(handle, **kwargs)


@contextlib.contextmanager
def pinned(path: str | os.PathLike[str], policy: str | Path | None) -> Iterator[IO[bytes]]:
    """The file at `path`, opened first, then checked, and still the file the path names once checked: a file
    swapped in meanwhile is refused, and the loader gets the open file that was checked."""
    with open(path, "rb") as handle:
        opened = identity_of(os.fstat(handle.fileno()))
        ensure_trusted(Path(path), policy)
        if identity_of(os.stat(path)) != opened:
            raise UntrustedModelError(f"{path} was replaced while it was being checked")
        yield handle


def from_pretrained(loader: Any, directory: str | Path, *, policy: str | Path | None = None, **kwargs: Any) -> Any:
    """`loader.from_pretrained(directory, **kwargs)` (a transformers/diffusers class), after the check."""
    ensure_trusted(directory, policy)
    return loader.from_pretrained(directory, **kwargs)
