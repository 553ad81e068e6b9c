"""Sigstore bundle v0.3 + DSSE envelope: read strictly, write canonically, and atomically."""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelseal.errors import BundleFormatError, InputError

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
_ACCEPTED_MEDIA_TYPES = (
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
)
PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_BUNDLE_BYTES = 64 << 20  # a signature of ~400,000 files; larger is refused before it is read
MAX_JSON_DEPTH = 32  # a bundle nests 7 levels, a statement 5; the bound leaves room for extensions


def pae(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """DSSE pre-authentication encoding: the exact bytes that are signed."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def legacy_pae(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """The buggy encoding model-signing v0.2 signed (`repr` of the payload bytes, 'DSSEV1')."""
    return f"DSSEV1 {len(payload_type)} {payload_type} {len(payload)} {payload!r}".encode()


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle. `method` is what the verification material says: key, certificate or sigstore."""

    method: str
    verification_material: dict[str, Any]
    payload: bytes
    payload_type: str
    signature: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)  # as read: Sigstore verification needs it whole

    def certificates_der(self) -> list[bytes]:
        """The DER certificates of an x509 chain bundle, leaf first."""
        chain = self.verification_material.get("x509CertificateChain", {}).get("certificates", [])
        return [_b64(c.get("rawBytes", "") if isinstance(c, dict) else "", "certificate") for c in chain]

    def timestamps(self) -> list[bytes]:
        """The RFC 3161 TimeStampResponses (DER) in `timestampVerificationData`, if any."""
        data = self.verification_material.get("timestampVerificationData")
        entries = data.get("rfc3161Timestamps") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return []
        return [_b64(e.get("signedTimestamp") if isinstance(e, dict) else None, "a timestamp") for e in entries]

    def public_key_hint(self) -> str | None:
        key = self.verification_material.get("publicKey", {})
        hint = key.get("hint") if isinstance(key, dict) else None
        return hint if isinstance(hint, str) else None

    def to_json(self) -> bytes:
        if self.raw:
            return self.raw  # a bundle read or produced elsewhere (Sigstore) is written back byte for byte
        document = {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": self.verification_material,
            "dsseEnvelope": {
                "payload": base64.b64encode(self.payload).decode("ascii"),
                "payloadType": self.payload_type,
                "signatures": [{"sig": base64.b64encode(self.signature).decode("ascii"), "keyid": ""}],
            },
        }
        return json.dumps(document, indent=2, sort_keys=True).encode("utf-8")


def _fail(reason: str) -> BundleFormatError:
    return BundleFormatError(f"the signature file is not a valid OMS bundle: {reason}")


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise _fail(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail(f"{what} is not valid base64") from exc


def _method(material: dict[str, Any]) -> str:
    if "x509CertificateChain" in material:
        certificates = (
            material["x509CertificateChain"].get("certificates")
            if isinstance(material["x509CertificateChain"], dict)
            else None
        )
        if not isinstance(certificates, list) or not certificates:
            raise _fail("x509CertificateChain has no certificates")
        return "certificate"
    if "certificate" in material:
        if not material.get("tlogEntries"):
            raise _fail("a Sigstore bundle needs at least one transparency log entry (tlogEntries)")
        return "sigstore"
    if "publicKey" in material:
        if not isinstance(material["publicKey"], dict):
            raise _fail("publicKey is not an object")
        return "key"
    raise _fail("verificationMaterial has no publicKey, x509CertificateChain or certificate")


def load_json(data: bytes) -> Any:
    """Parse JSON nested no deeper than MAX_JSON_DEPTH; ValueError (with the reason) otherwise."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("not UTF-8 JSON" if data.strip() else "empty") from exc
    except RecursionError as exc:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
    level: list[Any] = [document]
    for _ in range(MAX_JSON_DEPTH + 1):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return document
    raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def _too_large() -> BundleFormatError:
    return _fail(f"larger than {MAX_BUNDLE_BYTES >> 20} MiB, the most a model signature may be")


def parse_bundle(data: bytes) -> Bundle:
    """Parse the bundle structure; nothing in it is trusted until its signature verifies."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise _too_large()  # a file that grew while read, or a pipe
    try:
        document = load_json(data)
    except ValueError as exc:
        raise _fail("the file is empty" if str(exc) == "empty" else str(exc)) from exc
    if not isinstance(document, dict):
        raise _fail("the top level is not a JSON object")
    media_type = document.get("mediaType")
    if media_type not in _ACCEPTED_MEDIA_TYPES:
        raise _fail(f"mediaType {media_type!r} is not a Sigstore bundle v0.2/v0.3")
    material = document.get("verificationMaterial")
    if not isinstance(material, dict):
        raise _fail("verificationMaterial is missing")
    envelope = document.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        raise _fail("dsseEnvelope is missing (message signatures are not model signatures)")
    payload_type = envelope.get("payloadType")
    if payload_type != PAYLOAD_TYPE:
        raise _fail(f"payloadType {payload_type!r} is not {PAYLOAD_TYPE!r}")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1 or not isinstance(signatures[0], dict):
        raise _fail("the envelope must carry exactly one signature")
    keyid = signatures[0].get("keyid", "")
    if keyid not in ("", None):
        raise _fail(f"unexpected keyid {keyid!r} (OMS writes an empty keyid)")
    return Bundle(
        method=_method(material),
        verification_material=material,
        payload=_b64(envelope.get("payload"), "payload"),
        payload_type=payload_type,
        signature=_b64(signatures[0].get("sig"), "signature"),
        raw=data,
    )


def read_bundle(path: Path) -> Bundle:
    """A bundle file, read within its bound and parsed (nothing in it is trusted yet)."""
    return parse_bundle(read_bundle_bytes(path))


def read_bundle_bytes(path: Path) -> bytes:
    """Read at most MAX_BUNDLE_BYTES (+1, to tell a larger file): a 3 GiB model.sig costs nothing."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_BUNDLE_BYTES:
                raise _too_large()
            return handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read signature {path}: {exc.strerror}") from exc


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, data: bytes, what: str = "signature") -> None:
    """Write via a temporary file in the same directory and rename: readers see the old file or the new one."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError(f"cannot write {what} {path}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as open() would create it (mkstemp makes 0600), like model-signing
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {what} {path}: {exc.strerror}") from exc
        raise
