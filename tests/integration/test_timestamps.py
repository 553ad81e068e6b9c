"""RFC 3161 timestamps against a real responder on 127.0.0.1 (`openssl ts -reply` behind tests/tsa_server.py, with
a TSA certificate made here): a certificate signature stays verifiable after its certificate expires, judged at
the signing time the token proves; tokens from after expiry, over other bytes or from an untrusted TSA fail;
model-signing 1.1.1 ignores the timestamp and still verifies."""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import NOW, Pki, write_certificates, write_private_key
from tests.integration.test_cli import modelseal, no_traceback
from tests.integration.test_interop import reference
from tests.servers import make_tsa, tsa_server


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("tsa")
    root = make_tsa(directory)
    with tsa_server(directory) as url:
        yield url, root


def short_lived_leaf(pki: Pki, seconds: float) -> tuple[Path, Path]:
    """A code-signing leaf under the test PKI that expires `seconds` from now."""
    from tests.conftest import issue_certificate

    key = ec.generate_private_key(ec.SECP256R1())
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    leaf = issue_certificate("Short-lived Publisher", key, pki.intermediate_pair, ca=False, not_after=expires)
    return write_private_key(pki.directory / "short.key", key), write_certificates(pki.directory / "short.pem", leaf)


def sign(model: Path, key: Path, cert: Path, pki: Pki, *extra: str | Path) -> None:
    result = modelseal(
        "sign",
        "certificate",
        model,
        "--private-key",
        key,
        "--signing-certificate",
        cert,
        "--certificate-chain",
        pki.intermediate,
        *extra,
    )
    assert result.returncode == 0, result.stderr


def verify(model: Path, pki: Pki, *extra: str | Path) -> tuple[int, str]:
    result = modelseal("verify", "certificate", model, "--certificate-chain", pki.root, *extra)
    no_traceback(result)
    return result.returncode, result.stdout + result.stderr


def test_an_expired_certificate_verifies_at_the_time_its_timestamp_proves(
    tsa: tuple[str, Path], pki: Pki, model_dir: Path
) -> None:
    url, root = tsa
    key, cert = short_lived_leaf(pki, 4)
    sign(model_dir, key, cert, pki, "--tsa-url", url)
    bundle = json.loads((model_dir / "model.sig").read_text())
    assert bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]
    theirs = reference(
        "verify",
        "certificate",
        model_dir,
        "--signature",
        model_dir / "model.sig",
        "--certificate_chain",
        pki.root,
        "--certificate_chain",
        pki.intermediate,
    )
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr  # the timestamp is ignored there, and harmless
    time.sleep(5)  # the leaf has expired now
    code, output = verify(model_dir, pki)
    assert code == 1 and "expired" in output and "--tsa-certificate" in output
    code, output = verify(model_dir, pki, "--tsa-certificate", root, "--json")
    assert code == 0, output
    assert "timestamped" in json.loads(output)["signer"]


def test_a_timestamp_from_after_expiry_does_not_help(tsa: tuple[str, Path], pki: Pki, model_dir: Path) -> None:
    url, root = tsa
    key, cert = pki.leaf("Expired Publisher", not_after=NOW - datetime.timedelta(hours=1))
    sign(model_dir, key, cert, pki, "--tsa-url", url)
    code, output = verify(model_dir, pki, "--tsa-certificate", root)
    assert code == 1 and "expired" in output and "timestamped signing time" in output


def test_a_timestamp_over_other_bytes_or_from_an_untrusted_tsa_fails(
    tsa: tuple[str, Path], pki: Pki, model_dir: Path, tmp_path: Path
) -> None:
    url, root = tsa
    sign(model_dir, pki.leaf_key, pki.leaf_cert, pki, "--tsa-url", url)
    assert verify(model_dir, pki, "--tsa-certificate", root)[0] == 0
    stranger = make_tsa(tmp_path / "other-tsa", "Other TSA")
    code, output = verify(model_dir, pki, "--tsa-certificate", stranger)
    assert code == 1 and "not from a trusted timestamp authority" in output

    other = tmp_path / "other-model"
    other.mkdir()
    (other / "weights.bin").write_bytes(b"other weights")
    sign(other, pki.leaf_key, pki.leaf_cert, pki, "--tsa-url", url)
    borrowed = json.loads((other / "model.sig").read_text())["verificationMaterial"]["timestampVerificationData"]
    document = json.loads((model_dir / "model.sig").read_text())
    document["verificationMaterial"]["timestampVerificationData"] = borrowed
    (model_dir / "model.sig").write_text(json.dumps(document))
    code, output = verify(model_dir, pki, "--tsa-certificate", root)
    assert code == 1 and "covers other bytes" in output
    document["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"] = (
        base64.b64encode(b"\x30\x03\x02\x01\x00").decode()
    )
    (model_dir / "model.sig").write_text(json.dumps(document))
    code, output = verify(model_dir, pki, "--tsa-certificate", root)
    assert code == 1, output


def test_an_unreachable_tsa_stops_signing_before_anything_is_written(pki: Pki, model_dir: Path) -> None:
    from tests.servers import free_port

    result = modelseal(
        "sign",
        "certificate",
        model_dir,
        "--private-key",
        pki.leaf_key,
        "--signing-certificate",
        pki.leaf_cert,
        "--tsa-url",
        f"http://127.0.0.1:{free_port()}/",
    )
    assert result.returncode == 3 and "cannot reach the timestamp authority" in result.stderr, result.stderr
    assert not (model_dir / "model.sig").exists()
    no_traceback(result)


def test_a_trust_policy_names_the_timestamp_authority(tsa: tuple[str, Path], pki: Pki, model_dir: Path) -> None:
    url, root = tsa
    key, cert = short_lived_leaf(pki, 3)
    sign(model_dir, key, cert, pki, "--tsa-url", url)
    time.sleep(4)
    policy = model_dir.parent / "trust.toml"
    signer = f'[[signers]]\nname = "publisher"\nmethod = "certificate"\ncertificate-chain = ["{pki.root}"]\n'
    policy.write_text(f"version = 1\n{signer}")
    assert modelseal("verify", "--policy", policy, model_dir).returncode == 1
    policy.write_text(f'version = 1\n{signer}tsa-certificates = ["{root}"]\n')
    checked = modelseal("check", model_dir, "--policy", policy)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    key, cert = pki.leaf_key, pki.leaf_cert
    attest = ("attest", "scan", model_dir, "--private-key", key, "--signing-certificate", cert, "--tsa-url", url)
    assert modelseal(*attest, "--certificate-chain", pki.intermediate).returncode == 0
    attestation = json.loads((model_dir / "model.scan.sig").read_text())
    assert attestation["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
