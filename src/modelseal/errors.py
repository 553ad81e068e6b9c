"""One error hierarchy for the whole package.

Security failures (`VerificationError`) are kept apart from operational ones (`InputError`), so a caller can
tell "this model must not be trusted" from "you asked for something impossible". Only the CLI turns them into
exit codes (see `modelseal.cli.exit_codes`).
"""

from __future__ import annotations


class ModelsealError(Exception):
    """Root of every error modelseal raises on purpose."""

    def __init__(self, message: str, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def diagnostics(self) -> str:
        """A human-readable explanation: the message, then one line per detail."""
        return "\n".join([self.message, *(f"  - {line}" for line in self.details)])

    def __str__(self) -> str:
        return self.diagnostics()


class InputError(ModelsealError):
    """The request cannot be carried out: a missing file, a bad key, an unusable model, bad options."""


class ModelTreeError(InputError):
    """The model directory cannot be enumerated under the requested rules (empty, bad names, symlinks)."""


class SymlinkError(ModelTreeError):
    """A symbolic link was found where the symlink policy forbids one."""


class UnreadableFileError(ModelsealError):
    """A file of the model could not be read (permissions, I/O error): no verdict either way, so inconclusive."""


class FileChangedError(UnreadableFileError):
    """A file changed while it was being hashed, so no digest of it can be trusted: no verdict (inconclusive)."""


class ServiceError(ModelsealError):
    """A service the request needs (Sigstore's Fulcio, Rekor or TUF repository, an OIDC issuer) could not be
    reached or refused it: no verdict was reached and nothing was written."""


class VerificationError(ModelsealError):
    """The signature, the signer or the model's contents did not verify: do not trust this model."""


class BundleFormatError(VerificationError):
    """The signature file is not a well-formed OMS / Sigstore bundle."""
