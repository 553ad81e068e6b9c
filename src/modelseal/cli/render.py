"""Turn results and errors into terminal text or stable JSON. No logic lives here."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from modelseal.errors import ModelsealError, VerificationError

if TYPE_CHECKING:  # signing types only: `modelseal scan` must not pay for importing cryptography
    from rich.progress import Progress, TaskID

    from modelseal.attest.attest import AttestResult
    from modelseal.hashing.reader import ProgressCallback
    from modelseal.oms.manifest import Manifest
    from modelseal.signature import SignResult, VerifyResult

JSON_SCHEMA_VERSION = 1

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"schema_version": JSON_SCHEMA_VERSION, **document}, indent=2, sort_keys=True) + "\n")


def _serialization(manifest: Manifest) -> dict[str, Any]:
    s = manifest.serialization
    return {
        "method": s.method,
        "hash_type": s.hash_type,
        "allow_symlinks": s.allow_symlinks,
        "shard_size": s.shard_size,
        "ignore_paths": list(s.ignore_paths) if s.ignore_paths is not None else None,
    }


def manifest_json(manifest: Manifest) -> dict[str, Any]:
    return {
        "root_digest": {"sha256": manifest.root_digest()},
        "serialization": _serialization(manifest),
        "resources": [{"name": r.name, "algorithm": r.algorithm, "digest": r.digest} for r in manifest.resources],
    }


def warnings(lines: tuple[str, ...]) -> None:
    for line in lines:
        err.print(f"[yellow]warning:[/] {escape(line)}")


def signed(result: SignResult, as_json: bool) -> None:
    warnings(result.warnings)
    if as_json:
        metadata = str(result.metadata) if result.metadata else None
        print_json(
            {
                "result": "signed",
                "signature": str(result.signature),
                "metadata": metadata,
                **manifest_json(result.manifest),
            }
        )
        return
    m = result.manifest
    out.print(
        f"[green]Signed[/] {escape(m.model_name)}: {len(m.resources)} {m.serialization.method} "
        f"({m.serialization.hash_type}) → {escape(str(result.signature))}"
    )
    out.print(f"root digest sha256:{m.root_digest()}")
    if result.metadata:
        out.print(f"metadata bound → {escape(str(result.metadata))}")


def verified(result: VerifyResult, as_json: bool) -> None:
    warnings(result.warnings)
    if as_json:
        print_json(
            {
                "result": "verified",
                "model": str(result.model),
                "signature": str(result.signature),
                "signer": result.signer.to_json(),
                "files_verified": result.files_verified,
                "unsigned_files_ignored": list(result.unsigned_ignored),
                "excluded_by_signer": list(result.excluded),
                "excluded_present": list(result.excluded_present),
                **manifest_json(result.manifest),
            }
        )
        return
    s = result.manifest.serialization
    out.print(
        f"[green]Verified[/] {escape(str(result.model))}: {result.files_verified} file(s), "
        f"{s.method}/{s.hash_type}, signed by {escape(result.signer.summary)}"
    )
    out.print(f"root digest sha256:{result.manifest.root_digest()}")
    if result.unsigned_ignored:
        out.print(
            f"[yellow]{len(result.unsigned_ignored)} unsigned file(s) ignored[/]: "
            f"{escape(', '.join(result.unsigned_ignored[:10]))}"
        )
    if result.excluded:
        out.print(f"excluded by the signer: {escape(', '.join(result.excluded[:10]))}")
    if result.excluded_present:
        out.print(
            f"[yellow]present but not verified[/] (excluded from the signature): "
            f"{escape(', '.join(result.excluded_present[:10]))}; `modelseal check` scans them and fails unless "
            "the policy allows them"
        )


def attested(result: AttestResult, as_json: bool) -> None:
    statement = result.attestation
    worst = statement.worst
    if as_json:
        print_json(
            {
                "result": "attested",
                "attestation": str(result.path),
                "root_digest": {"sha256": statement.root_digest},
                "files": len(statement.results),
                "worst": worst.name if worst is not None else None,
            }
        )
        return
    verdict = f"worst finding {worst.name}" if worst is not None else "no findings"
    out.print(f"[green]Attested[/] scan of {len(statement.results)} file(s) ({verdict}) → {escape(str(result.path))}")
    out.print(f"subject sha256:{statement.root_digest}")


def bom_attested(where: str, root_digest: str, fmt: str, as_json: bool) -> None:
    if as_json:
        print_json({"result": "attested", "attestation": where, "format": fmt, "root_digest": {"sha256": root_digest}})
        return
    out.print(f"[green]Attested[/] {fmt} ML-BOM → {escape(where)}")
    out.print(f"subject sha256:{root_digest}")


def digested(manifest: Manifest, as_json: bool) -> None:
    if as_json:
        print_json(manifest_json(manifest))
        return
    out.print(manifest.root_digest())


def error(exc: ModelsealError, as_json: bool) -> None:
    failed = isinstance(exc, VerificationError)
    if as_json:
        print_json({"result": "failed" if failed else "error", "error": exc.message, "details": list(exc.details)})
    label = "[red bold]VERIFICATION FAILED:[/]" if failed else "[red]error:[/]"
    err.print(f"{label} {escape(exc.message)}")
    for line in exc.details:
        err.print(f"  - {escape(line)}")


def internal_error(exc: BaseException) -> None:
    err.print(f"[red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))}")
    err.print("  - no verdict was reached; set MODELSEAL_DEBUG=1 to see the traceback, and please report it")


@contextmanager
def hashing_progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A live bytes/speed display on stderr while hashing, only for humans at a terminal."""
    if not enabled or not err.is_terminal:
        yield None
        return
    from rich.progress import (  # lazy: only a hashing command at a terminal draws a bar
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("hashing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        yield _HashingBar(bar, bar.add_task("hashing", total=None))


class _HashingBar:
    """Bytes hashed so far; the total (and so the ETA) once the model has been listed."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self.bar, self.task = bar, task

    def __call__(self, done: int) -> None:
        self.bar.advance(self.task, done)

    def set_total(self, total: int) -> None:
        self.bar.update(self.task, total=total)
