"""modelseal: sign, verify and scan machine-learning models.

The public API is re-exported here; everything else is internal and may change.
"""

from __future__ import annotations

from modelseal.errors import (
    BundleFormatError,
    FileChangedError,
    InputError,
    ModelsealError,
    ModelTreeError,
    VerificationError,
)
from modelseal.signature import SignResult, VerifyResult, digest, sign, verify
from modelseal.signing.certificate import CertificateSigner, CertificateVerifier
from modelseal.signing.key import KeySigner, KeyVerifier

__version__ = "0.1.0"

__all__ = [
    "BundleFormatError",
    "CertificateSigner",
    "CertificateVerifier",
    "FileChangedError",
    "InputError",
    "KeySigner",
    "KeyVerifier",
    "ModelTreeError",
    "ModelsealError",
    "SignResult",
    "VerificationError",
    "VerifyResult",
    "__version__",
    "digest",
    "sign",
    "verify",
]
