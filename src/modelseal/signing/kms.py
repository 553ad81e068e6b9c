"""Keys held by a cloud KMS: the private key never leaves it, the signature is an ordinary OMS key signature
(model-signing verifies it with the public key). AWS KMS through boto3: `awskms:///KEY` or
`awskms://ENDPOINT/KEY`, KEY being a key id, `alias/NAME` or an ARN; region, credentials and `AWS_ENDPOINT_URL`
come from the usual AWS settings.

AWS signs up to 4,096 bytes given whole (`MessageType=RAW`, hashed by KMS with the algorithm named); longer
messages are hashed here and sent as `MessageType=DIGEST`. Every signature is checked against the public key
before it is used, so a KMS (or an emulator) that signs something else fails here, not at a verifier."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelseal.errors import InputError, ServiceError
from modelseal.signing.keys import SUPPORTED_CURVES, hash_for, signature_valid

RAW_LIMIT = 4096  # AWS KMS: the largest message it takes whole
_ALGORITHMS = {"secp256r1": "ECDSA_SHA_256", "secp384r1": "ECDSA_SHA_384", "secp521r1": "ECDSA_SHA_512"}
_URI = re.compile(r"^awskms://(?P<endpoint>[^/]*)/(?P<key>.+)$")


@dataclass(frozen=True)
class KmsUri:
    endpoint: str | None  # host[:port], or None for the configured endpoint
    key_id: str

    @classmethod
    def parse(cls, text: str) -> KmsUri:
        match = _URI.match(text)
        if not match:
            raise InputError(
                f"not a KMS key URI: {text!r}",
                details=("write awskms:///KEY-ID, awskms:///alias/NAME or awskms:///arn:aws:kms:…",),
            )
        return cls(match["endpoint"] or None, match["key"])

    def endpoint_url(self) -> str | None:
        if self.endpoint is None:
            return None
        local = self.endpoint.split(":")[0] in ("localhost", "127.0.0.1")
        return f"{'http' if local else 'https'}://{self.endpoint}"


def sign_request(key_id: str, algorithm: str, hash_name: str, message: bytes) -> dict[str, Any]:
    """The KMS `Sign` request for `message`: whole up to 4,096 bytes, else its digest."""
    if len(message) <= RAW_LIMIT:
        return {"KeyId": key_id, "Message": message, "MessageType": "RAW", "SigningAlgorithm": algorithm}
    digest = hashlib.new(hash_name, message).digest()
    return {"KeyId": key_id, "Message": digest, "MessageType": "DIGEST", "SigningAlgorithm": algorithm}


class KmsKey:
    """A `SigningKey` whose private half stays in AWS KMS."""

    def __init__(self, uri_text: str) -> None:
        self.uri = KmsUri.parse(uri_text)
        try:
            import boto3
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError as exc:
            raise InputError("KMS keys need the kms extra", details=("pip install 'modelseal[kms]'",)) from exc
        self._errors = (BotoCoreError, ClientError)
        self._client = boto3.client("kms", endpoint_url=self.uri.endpoint_url())
        answer = self._call("GetPublicKey", KeyId=self.uri.key_id)
        if answer.get("KeyUsage") not in (None, "SIGN_VERIFY"):
            raise InputError(f"KMS key {self.uri.key_id} is not a signing key ({answer.get('KeyUsage')})")
        key = serialization.load_der_public_key(answer["PublicKey"])
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _ALGORITHMS:
            raise InputError(
                f"KMS key {self.uri.key_id} is not an EC key on {', '.join(SUPPORTED_CURVES)}",
                details=("create it with KeySpec ECC_NIST_P256, ECC_NIST_P384 or ECC_NIST_P521",),
            )
        self.public = key
        self.algorithm = _ALGORITHMS[key.curve.name]

    def _call(self, operation: str, **arguments: Any) -> dict[str, Any]:
        method = {"GetPublicKey": self._client.get_public_key, "Sign": self._client.sign}[operation]
        try:
            answer: dict[str, Any] = method(**arguments)
        except self._errors as exc:
            response = getattr(exc, "response", None) or {}
            code = response.get("Error", {}).get("Code", type(exc).__name__)
            message = response.get("Error", {}).get("Message", str(exc))
            raise ServiceError(f"KMS {operation} for {self.uri.key_id} failed: {code}: {message}") from exc
        return answer

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.public

    def sign(self, data: bytes) -> bytes:
        request = sign_request(self.uri.key_id, self.algorithm, hash_for(self.public).name, data)
        signature = bytes(self._call("Sign", **request)["Signature"])
        if not signature_valid(self.public, signature, data):
            raise ServiceError(
                f"KMS returned a signature that does not verify with key {self.uri.key_id}'s public key",
                details=(f"the request was MessageType={request['MessageType']}: the KMS signed other bytes",),
            )
        return signature
