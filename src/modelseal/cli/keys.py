"""The signing key a command names, on a PKCS#11 token or in a PEM file (imports stay lazy: the token's
library and cryptography are paid for only by commands that sign)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modelseal.errors import InputError

if TYPE_CHECKING:
    from modelseal.signing.keys import SigningKey


def open_signing_key(private_key: Path | None, password: str | None, pkcs11_uri: str | None) -> SigningKey:
    """The key on a PKCS#11 token by URI, else from a PEM file."""
    if pkcs11_uri is not None:
        from modelseal.signing.pkcs11 import TokenKey

        return TokenKey.open(pkcs11_uri)
    if private_key is None:
        raise InputError("no signing key: give a private key file or a PKCS#11 URI")
    from modelseal.signing.keys import SoftwareKey

    return SoftwareKey.from_file(private_key, password)
