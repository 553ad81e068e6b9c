"""The one place where outcomes become exit codes (scanner convention: bandit, pip-audit, ClamAV)."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from modelseal.errors import InputError, ModelsealError, VerificationError

if TYPE_CHECKING:
    from modelseal.attest.check import CheckReport
    from modelseal.scanning.report import ScanSummary


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # verification failed (or findings at or above the threshold)
    USAGE = 2  # usage or input error
    INCONCLUSIVE = 3  # the job could not be completed, so no verdict
    INTERRUPTED = 130


def for_error(error: BaseException) -> ExitCode:
    """Exit code for an error that reached the CLI."""
    if isinstance(error, VerificationError):
        return ExitCode.FAILED
    if isinstance(error, InputError):
        return ExitCode.USAGE
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, ModelsealError):
        return ExitCode.INCONCLUSIVE
    return ExitCode.INCONCLUSIVE


_BY_VERDICT = {"passed": ExitCode.OK, "failed": ExitCode.FAILED, "inconclusive": ExitCode.INCONCLUSIVE}


def for_scan(summary: ScanSummary) -> ExitCode:
    return _BY_VERDICT[summary.verdict]


def for_check(report: CheckReport) -> ExitCode:
    return _BY_VERDICT.get(report.verdict.value, ExitCode.INCONCLUSIVE)


def for_verdicts(verdicts: list[str]) -> ExitCode:
    """Many models' verdicts: failed if one failed, else inconclusive if one was, else OK."""
    for verdict in ("failed", "inconclusive"):
        if verdict in verdicts:
            return _BY_VERDICT[verdict]
    return ExitCode.OK
