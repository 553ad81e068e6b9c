"""A key behind any program: `--signer-command CMD` hands signing to a process, so an HSM, a KMS or a Vault that
modelseal has no client for signs without a new dependency. The protocol:

    CMD public-key          prints the PEM public key (EC P-256, P-384 or P-521) on stdout, exits 0
    CMD sign ALGORITHM      reads a digest (raw bytes: 32, 48 or 64 for sha256, sha384, sha512) on stdin,
                            prints the ECDSA signature over it on stdout, DER (raw or base64), exits 0

CMD is split like a shell command line (no shell runs it). The digest is the hash OMS pairs with the key's curve;
every signature is checked against the public key before it is used."""

from __future__ import annotations

import base64
import binascii
import hashlib
import shlex
import subprocess

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelseal.errors import InputError, ServiceError
from modelseal.signing.keys import SUPPORTED_CURVES, hash_for, signature_valid

TIMEOUT = 120  # seconds: a token may ask a person to touch it
MAX_OUTPUT = 1 << 20


class CommandKey:
    """A `SigningKey` whose private half is behind a program."""

    def __init__(self, command: str) -> None:
        self.command = shlex.split(command)
        if not self.command:
            raise InputError("--signer-command is empty")
        pem = self._run(["public-key"], b"")
        try:
            key = serialization.load_pem_public_key(pem[pem.find(b"-----BEGIN") :])
        except ValueError as exc:
            raise InputError(f"{self.command[0]} public-key did not print a PEM public key") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in (
            "secp256r1",
            "secp384r1",
            "secp521r1",
        ):
            raise InputError(f"{self.command[0]} public-key: not an EC key on {', '.join(SUPPORTED_CURVES)}")
        self.public = key

    def _run(self, arguments: list[str], stdin: bytes) -> bytes:
        try:
            done = subprocess.run(
                [*self.command, *arguments], input=stdin, capture_output=True, timeout=TIMEOUT, check=False
            )
        except FileNotFoundError as exc:
            raise InputError(f"signer command not found: {self.command[0]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(f"the signer command did not answer within {TIMEOUT} s") from exc
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise ServiceError(
                f"the signer command `{shlex.join(self.command)} {' '.join(arguments)}` exited {done.returncode}",
                details=tuple(said),
            )
        return done.stdout[:MAX_OUTPUT]

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.public

    def sign(self, data: bytes) -> bytes:
        algorithm = hash_for(self.public).name
        output = self._run(["sign", algorithm], hashlib.new(algorithm, data).digest())
        signature = output if output[:1] == b"\x30" else _base64(output)
        if not signature_valid(self.public, signature, data):
            raise ServiceError("the signer command's signature does not verify with its public key")
        return signature


def _base64(text: bytes) -> bytes:
    try:
        return base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServiceError("the signer command printed neither DER nor base64") from exc
