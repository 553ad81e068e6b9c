"""Check a model before a framework loads it, in one line of the user's code:

    from modelseal import guard
    state = guard.torch_load("model.pt", policy="trust.toml")
    model = guard.from_pretrained(AutoModel, "./llama", policy="trust.toml")

With a trust policy, the model must pass `check` (trusted signature, clean scan); without one, it must scan
clean. Anything else raises `UntrustedModelError` and the framework is never called.

`torch_load` opens the file before checking and hands that same open file to torch, after proving it is the
file that was checked (device, inode, size, mtime, ctime): a file swapped in after the check is refused; an in-place
write through a shared mapping is not visible to stat (README: What each mode protects against). A directory
(`from_pretrained`) is loaded by path, so keep it where only the loading process can write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from modelseal.errors import VerificationError
from modelseal.tree import identity_of


class UntrustedModelError(VerificationError):
    """The guard refused to hand the model to the framework."""


def ensure_trusted(model: str | Path, policy: str | Path | None = None) -> None:
    """Raise `UntrustedModelError` unless `model` passes `check` under `policy` (or scans clean without one)."""
    model = Path(model)
    if policy is not None:
        from modelseal.attest.check import Outcome, check

        report = check(model, Path(policy))
        if report.verdict is not Outcome.PASSED:
            lines = tuple(f"{s.name}: {s.outcome.value}: {s.summary}" for s in report.steps)
            details = lines + tuple(line for s in report.steps for line in s.details[:5])
            raise UntrustedModelError(f"modelseal check {report.verdict.value} for {model}", details=details)
        return
    from modelseal.attest.check import Outcome, scan_step
    from modelseal.scanning.findings import Severity
    from modelseal.scanning.report import ScanSummary
    from modelseal.scanning.scanner import scan_paths

    step = scan_step(ScanSummary(tuple(scan_paths([model])), Severity.HIGH), "scanned now")
    if step.outcome is not Outcome.PASSED:
        raise UntrustedModelError(f"modelseal refused to load {model}: {step.summary}", details=step.details)


def torch_load(path: str | Path, *, policy: str | Path | None = None, **kwargs: Any) -> Any:
    """`torch.load(path, **kwargs)`, only after `path` passed the check; torch reads the very file checked."""
    import torch

    with open(path, "rb") as handle:
        opened = identity_of(os.fstat(handle.fileno()))
        ensure_trusted(path, policy)
        if identity_of(os.stat(path)) != opened:
            raise UntrustedModelError(f"{path} was replaced while it was being checked")
        return torch.load(handle, **kwargs)


def from_pretrained(loader: Any, directory: str | Path, *, policy: str | Path | None = None, **kwargs: Any) -> Any:
    """`loader.from_pretrained(directory, **kwargs)` (a transformers/diffusers class), after the check."""
    ensure_trusted(directory, policy)
    return loader.from_pretrained(directory, **kwargs)
