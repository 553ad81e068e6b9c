"""AWS KMS keys against moto's standalone server on 127.0.0.1, through the real boto3 client: the key never
leaves the KMS, the signature is an ordinary key signature that modelseal and model-signing 1.1.1 verify.

moto 5.2.5 signs `MessageType=DIGEST` requests by hashing the digest once more (AWS does not), while `RAW` ones
(up to AWS's 4,096 bytes) are signed as AWS does. So the RAW path is tested end to end, and for DIGEST the request
modelseal builds is checked, and moto's wrong signature is caught before it is used."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelseal.signing.kms import RAW_LIMIT, sign_request
from tests.integration.test_cli import modelseal, no_traceback
from tests.integration.test_interop import reference
from tests.servers import moto_server


@pytest.fixture(scope="module")
def kms() -> Iterator[dict[str, str]]:
    with moto_server() as environment:
        import boto3

        client = boto3.client(
            "kms",
            endpoint_url=environment["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for spec in ("ECC_NIST_P256", "ECC_NIST_P384"):
            key = client.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
            client.create_alias(AliasName=f"alias/models-{spec[-3:]}", TargetKeyId=key)
        key = client.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
        client.create_alias(AliasName="alias/encryption", TargetKeyId=key)
        yield environment


@pytest.mark.parametrize("curve", ["256", "384"])
def test_a_kms_key_signs_and_both_verifiers_accept(
    kms: dict[str, str], model_dir: Path, tmp_path: Path, curve: str
) -> None:
    uri = f"awskms:///alias/models-{curve}"
    public = tmp_path / "kms.pub"
    exported = modelseal("public-key", "--kms-uri", uri, "--output", public, env=kms)
    assert exported.returncode == 0, exported.stderr
    signed = modelseal("sign", "key", model_dir, "--kms-uri", uri, env=kms)
    assert signed.returncode == 0, signed.stderr
    assert modelseal("verify", "key", model_dir, "--public-key", public).returncode == 0
    theirs = reference("verify", "key", model_dir, "--signature", model_dir / "model.sig", "--public_key", public)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr


def test_the_endpoint_may_be_named_in_the_uri(kms: dict[str, str], model_dir: Path) -> None:
    endpoint = kms["AWS_ENDPOINT_URL"].removeprefix("http://")
    env = {k: v for k, v in kms.items() if k != "AWS_ENDPOINT_URL"}
    signed = modelseal("sign", "key", model_dir, "--kms-uri", f"awskms://{endpoint}/alias/models-256", env=env)
    assert signed.returncode == 0, signed.stderr


def test_a_long_message_goes_as_a_digest_and_a_wrong_signature_is_caught(kms: dict[str, str], tmp_path: Path) -> None:
    message = os.urandom(RAW_LIMIT + 1)
    request = sign_request("alias/k", "ECDSA_SHA_256", "sha256", message)
    assert request["MessageType"] == "DIGEST" and request["Message"] == hashlib.sha256(message).digest()
    assert sign_request("alias/k", "ECDSA_SHA_384", "sha384", message[:RAW_LIMIT])["MessageType"] == "RAW"
    model = tmp_path / "many-files"
    model.mkdir()
    for n in range(60):  # a statement of 60 resources is far over 4,096 bytes
        (model / f"shard-{n:03}.bin").write_bytes(bytes([n]) * 10)
    signed = modelseal("sign", "key", model, "--kms-uri", "awskms:///alias/models-256", env=kms)
    assert signed.returncode == 3, signed.stderr  # moto signs another message than AWS would: refused, not written
    assert "does not verify" in signed.stderr and "MessageType=DIGEST" in signed.stderr
    assert not (model / "model.sig").exists()


def test_kms_errors_are_clear(kms: dict[str, str], model_dir: Path) -> None:
    missing = modelseal("sign", "key", model_dir, "--kms-uri", "awskms:///alias/nothing", env=kms)
    assert missing.returncode == 3 and "NotFoundException" in missing.stderr, missing.stderr
    wrong = modelseal("sign", "key", model_dir, "--kms-uri", "awskms:///alias/encryption", env=kms)
    assert wrong.returncode == 2 and "not a signing key" in wrong.stderr, wrong.stderr
    bad = modelseal("sign", "key", model_dir, "--kms-uri", "kms:alias/x", env=kms)
    assert bad.returncode == 2 and "not a KMS key URI" in bad.stderr
    for result in (missing, wrong, bad):
        no_traceback(result)


def test_a_trust_policy_names_a_kms_key(kms: dict[str, str], model_dir: Path, tmp_path: Path) -> None:
    assert modelseal("sign", "key", model_dir, "--kms-uri", "awskms:///alias/models-256", env=kms).returncode == 0
    policy = tmp_path / "trust.toml"
    policy.write_text(
        'version = 1\n[[signers]]\nname = "kms"\nmethod = "key"\nkms-uri = "awskms:///alias/models-256"\n'
    )
    attested = modelseal("attest", "scan", model_dir, "--kms-uri", "awskms:///alias/models-256", env=kms)
    assert attested.returncode == 0, attested.stderr
    checked = modelseal("check", model_dir, "--policy", policy, env=kms)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[policy signer: kms]" in checked.stdout and "(from the attestation)" in checked.stdout
    other = tmp_path / "other.toml"
    other.write_text(policy.read_text().replace("models-256", "models-384"))
    refused = modelseal("verify", "--policy", other, model_dir, env=kms)
    assert refused.returncode == 1, refused.stdout + refused.stderr
