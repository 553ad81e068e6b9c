"""A `--signer-command` for the tests, backed by the SoftHSM2 token of tests/integration/test_pkcs11.py: the
protocol of modelseal.signing.command, implemented with PyKCS11 alone (no modelseal code), as an HSM vendor's
script would be.

Usage: signer_softhsm.py MODULE TOKEN LABEL PIN public-key | sign ALGORITHM   (SOFTHSM2_CONF names the token store)
"""

from __future__ import annotations

import sys

import PyKCS11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

CURVES = {
    bytes.fromhex("06082a8648ce3d030107"): ec.SECP256R1(),
    bytes.fromhex("06052b81040022"): ec.SECP384R1(),
    bytes.fromhex("06052b81040023"): ec.SECP521R1(),
}


def main() -> int:
    module, token, label, pin, command = sys.argv[1:6]
    library = PyKCS11.PyKCS11Lib()
    library.load(module)
    slot = next(s for s in library.getSlotList(tokenPresent=True) if library.getTokenInfo(s).label.strip() == token)
    session = library.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
    session.login(pin)
    try:
        if command == "public-key":
            (public,) = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_LABEL, label)])
            params, point = session.getAttributeValue(public, [PyKCS11.CKA_EC_PARAMS, PyKCS11.CKA_EC_POINT])
            encoded = bytes(point)[2:] if bytes(point)[1] < 0x80 else bytes(point)[3:]  # the DER OCTET STRING
            key = ec.EllipticCurvePublicKey.from_encoded_point(CURVES[bytes(params)], encoded)
            sys.stdout.buffer.write(
                key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            )
            return 0
        if command == "sign":
            digest = sys.stdin.buffer.read()
            (private,) = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, label)])
            raw = bytes(session.sign(private, digest, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)))
            half = len(raw) // 2
            der = encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
            sys.stdout.buffer.write(der)
            return 0
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    finally:
        session.logout()
        session.closeSession()


if __name__ == "__main__":
    sys.exit(main())
