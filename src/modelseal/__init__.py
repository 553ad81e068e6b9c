"""modelseal: sign, verify and scan machine-learning models.

The public API is re-exported here, lazily: `import modelseal` stays cheap (the CLI and the hashing helper
processes import submodules without paying for cryptography). Everything else is internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "BundleFormatError": "modelseal.errors",
    "FileChangedError": "modelseal.errors",
    "InputError": "modelseal.errors",
    "ModelTreeError": "modelseal.errors",
    "ModelsealError": "modelseal.errors",
    "ServiceError": "modelseal.errors",
    "SymlinkError": "modelseal.errors",
    "VerificationError": "modelseal.errors",
    "SignResult": "modelseal.signature",
    "VerifyResult": "modelseal.signature",
    "digest": "modelseal.signature",
    "sign": "modelseal.signature",
    "verify": "modelseal.signature",
    "CertificateSigner": "modelseal.signing.certificate",
    "CertificateVerifier": "modelseal.signing.certificate",
    "KeySigner": "modelseal.signing.key",
    "KeyVerifier": "modelseal.signing.key",
    "SigstoreIdentity": "modelseal.signing.identity",
    "SigstoreOptions": "modelseal.signing.sigstore_sign",
    "SigstoreSigner": "modelseal.signing.sigstore_sign",
    "SigstoreTrust": "modelseal.signing.sigstore",
    "SigstoreVerifier": "modelseal.signing.sigstore",
    "TokenKey": "modelseal.signing.pkcs11",
    "load_trust_policy": "modelseal.policy.trust",
    "scan": "modelseal.scanning.scanner",
    "check": "modelseal.attest.check",
    "CheckReport": "modelseal.attest.check",
    "attest_scan": "modelseal.attest.attest",
    "FileResult": "modelseal.scanning.findings",
    "Finding": "modelseal.scanning.findings",
    "Severity": "modelseal.scanning.findings",
}

if TYPE_CHECKING:
    from modelseal.attest.attest import attest_scan
    from modelseal.attest.check import CheckReport, check
    from modelseal.errors import (
        BundleFormatError,
        FileChangedError,
        InputError,
        ModelsealError,
        ModelTreeError,
        ServiceError,
        SymlinkError,
        VerificationError,
    )
    from modelseal.policy.trust import load_trust_policy
    from modelseal.scanning.findings import FileResult, Finding, Severity
    from modelseal.scanning.scanner import scan
    from modelseal.signature import SignResult, VerifyResult, digest, sign, verify
    from modelseal.signing.certificate import CertificateSigner, CertificateVerifier
    from modelseal.signing.identity import SigstoreIdentity
    from modelseal.signing.key import KeySigner, KeyVerifier
    from modelseal.signing.pkcs11 import TokenKey
    from modelseal.signing.sigstore import SigstoreTrust, SigstoreVerifier
    from modelseal.signing.sigstore_sign import SigstoreOptions, SigstoreSigner


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'modelseal' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BundleFormatError",
    "CertificateSigner",
    "CertificateVerifier",
    "CheckReport",
    "FileChangedError",
    "FileResult",
    "Finding",
    "InputError",
    "KeySigner",
    "KeyVerifier",
    "ModelTreeError",
    "ModelsealError",
    "ServiceError",
    "Severity",
    "SignResult",
    "SigstoreIdentity",
    "SigstoreOptions",
    "SigstoreSigner",
    "SigstoreTrust",
    "SigstoreVerifier",
    "SymlinkError",
    "TokenKey",
    "VerificationError",
    "VerifyResult",
    "__version__",
    "attest_scan",
    "check",
    "digest",
    "load_trust_policy",
    "scan",
    "sign",
    "verify",
]
