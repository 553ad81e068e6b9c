"""The one place where outcomes become exit codes (scanner convention: bandit, pip-audit, ClamAV)."""

from __future__ import annotations

from enum import IntEnum

from modelseal.errors import InputError, ModelsealError, VerificationError


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
