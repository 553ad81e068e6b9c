"""EC keys held on a PKCS#11 token (HSM, smart card, SoftHSM2): the digest goes in, a signature comes out, and
the private key never leaves the token. Needs the `pkcs11` extra (PyKCS11)."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from modelseal.errors import InputError
from modelseal.signing.keys import SUPPORTED_CURVES
from modelseal.signing.pkcs11_uri import Pkcs11Uri, redact

# DER-encoded named-curve OIDs, as tokens report them in CKA_EC_PARAMS, with the curve and OMS hash.
_CURVES: dict[bytes, tuple[ec.EllipticCurve, str]] = {
    bytes.fromhex("06082a8648ce3d030107"): (ec.SECP256R1(), "sha256"),
    bytes.fromhex("06052b81040022"): (ec.SECP384R1(), "sha384"),
    bytes.fromhex("06052b81040023"): (ec.SECP521R1(), "sha512"),
}
_RAW_POINT_LENGTHS = (65, 97, 133)  # uncompressed P-256, P-384, P-521 points
_TOKEN_ATTRIBUTES = {"token": "label", "manufacturer": "manufacturerID", "serial": "serialNumber", "model": "model"}


def _library() -> Any:
    try:
        import PyKCS11
    except ImportError as exc:
        raise InputError(
            "PKCS#11 signing needs PyKCS11", details=("install it with: pip install 'modelseal[pkcs11]'",)
        ) from exc
    return PyKCS11


def _der_octet_string(data: bytes) -> bytes:
    """The content of a DER OCTET STRING (CKA_EC_POINT is wrapped in one); raw points pass through."""
    if len(data) in _RAW_POINT_LENGTHS and data[0] == 0x04:
        return data  # some tokens return the bare uncompressed point 0x04 || X || Y
    if len(data) < 2 or data[0] != 0x04:
        raise InputError("the token's EC point is not a DER OCTET STRING")
    length, offset = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if offset + length != len(data):
        raise InputError("the token's EC point is not a DER OCTET STRING")
    return data[offset:]


@dataclass
class TokenKey:
    """A logged-in session on the token holding the key the URI names."""

    uri: Pkcs11Uri
    session: Any
    private_handle: Any
    public: ec.EllipticCurvePublicKey
    hash_name: str

    @classmethod
    def open(cls, uri_text: str) -> TokenKey:
        pkcs11 = _library()
        uri = Pkcs11Uri.parse(uri_text)
        library = pkcs11.PyKCS11Lib()
        module = uri.module()
        try:
            library.load(str(module))
        except pkcs11.PyKCS11Error as exc:
            raise InputError(f"cannot load PKCS#11 module {module}: {exc}") from exc
        slot = _find_slot(pkcs11, library, uri)
        try:
            session = library.openSession(slot, pkcs11.CKF_SERIAL_SESSION)
        except pkcs11.PyKCS11Error as exc:
            raise InputError(f"cannot open a session on the token: {exc}") from exc
        pin = uri.pin()
        if pin is not None:
            try:
                session.login(pin)
            except pkcs11.PyKCS11Error as exc:
                session.closeSession()
                raise InputError(f"the token refused the PIN: {exc}", details=(redact(uri.text),)) from exc
        private = _find_object(pkcs11, session, uri, pkcs11.CKO_PRIVATE_KEY)
        public_handle = _find_object(pkcs11, session, uri, pkcs11.CKO_PUBLIC_KEY)
        params, point = session.getAttributeValue(public_handle, [pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT])
        curve = _CURVES.get(bytes(params or b""))
        if curve is None:
            raise InputError(
                f"the key {redact(uri.text)} is not an EC key on {', '.join(SUPPORTED_CURVES)}",
                details=("OMS v1.0 signatures use EC P-256, P-384 or P-521 keys",),
            )
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve[0], _der_octet_string(bytes(point)))
        return cls(uri, session, private, public, curve[1])

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.public

    def sign(self, data: bytes) -> bytes:
        pkcs11 = _library()
        digest = hashlib.new(self.hash_name, data).digest()
        try:
            raw = bytes(self.session.sign(self.private_handle, digest, pkcs11.Mechanism(pkcs11.CKM_ECDSA, None)))
        except pkcs11.PyKCS11Error as exc:
            raise InputError(f"the token could not sign: {exc}", details=(redact(self.uri.text),)) from exc
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def close(self) -> None:
        pkcs11 = _library()
        with contextlib.suppress(pkcs11.PyKCS11Error):  # not logged in: nothing to undo
            self.session.logout()
        self.session.closeSession()


def _token_matches(info: Any, uri: Pkcs11Uri) -> bool:
    for attribute, field in _TOKEN_ATTRIBUTES.items():
        wanted = uri.text_attribute(attribute)
        if wanted is not None and str(getattr(info, field)).strip() != wanted:
            return False
    return True


def _find_slot(pkcs11: Any, library: Any, uri: Pkcs11Uri) -> Any:
    wanted_slot = uri.text_attribute("slot-id")
    labels: list[str] = []
    for slot in library.getSlotList(tokenPresent=True):
        if wanted_slot is not None and str(slot) != wanted_slot:
            continue
        info = library.getTokenInfo(slot)
        if _token_matches(info, uri):
            return slot
        if str(info.label).strip():
            labels.append(str(info.label).strip())
    found = ", ".join(repr(label) for label in labels) or "none initialised"
    raise InputError(f"no token matches {redact(uri.text)}", details=(f"tokens present: {found}",))


def _find_object(pkcs11: Any, session: Any, uri: Pkcs11Uri, kind: int) -> Any:
    template: list[tuple[int, Any]] = [(pkcs11.CKA_CLASS, kind), (pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC)]
    label = uri.text_attribute("object")
    if label is not None:
        template.append((pkcs11.CKA_LABEL, label))
    if uri.object_id is not None:
        template.append((pkcs11.CKA_ID, tuple(uri.object_id)))
    handles = session.findObjects(template)
    what = "private key" if kind == pkcs11.CKO_PRIVATE_KEY else "public key"
    if not handles:
        hint = "log in with pin-value= or pin-source= to see private keys" if uri.pin() is None else None
        raise InputError(f"no EC {what} on the token matches {redact(uri.text)}", details=(hint,) if hint else ())
    if len(handles) > 1:
        raise InputError(f"{len(handles)} {what}s match {redact(uri.text)}: name one with object= and id=")
    return handles[0]
