"""PKCS#11 signing on a real SoftHSM2 token (initialised here in a temporary directory with its own config):
the key stays on the token, the signature verifies with modelseal and with the real model-signing CLI, and the
reference's own PKCS#11 signatures verify with modelseal."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelseal import InputError, KeyVerifier, verify
from modelseal.signing.pkcs11 import TokenKey
from modelseal.signing.pkcs11_uri import Pkcs11Uri
from tests.conftest import Pki, issue_certificate, write_certificates
from tests.integration.test_cli import modelseal
from tests.integration.test_interop import reference

PIN, SO_PIN, TOKEN = "1234", "5678", "modelseal-test"
MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
CURVE_OIDS = {
    "P-256": bytes.fromhex("06082a8648ce3d030107"),
    "P-384": bytes.fromhex("06052b81040022"),
    "P-521": bytes.fromhex("06052b81040023"),
}


@dataclass(frozen=True)
class Token:
    module: str
    directory: Path

    def uri(self, label: str, *, pin: str | None = PIN, token: str = TOKEN) -> str:
        query = f"module-path={self.module}" + (f"&pin-value={pin}" if pin is not None else "")
        return f"pkcs11:token={token};object={label}?{query}"


def _generate_key_pair(module: str, label: str, curve: str) -> None:
    """An EC key pair generated on the token; the private key is sensitive and not extractable."""
    import PyKCS11

    library = PyKCS11.PyKCS11Lib()
    library.load(module)
    slot = next(s for s in library.getSlotList(tokenPresent=True) if library.getTokenInfo(s).label.strip() == TOKEN)
    session = library.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    session.login(PIN)
    common: list[tuple[int, Any]] = [(PyKCS11.CKA_TOKEN, True), (PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_ID, (7,))]
    public = [*common, (PyKCS11.CKA_EC_PARAMS, tuple(CURVE_OIDS[curve])), (PyKCS11.CKA_VERIFY, True)]
    private = [
        *common,
        (PyKCS11.CKA_SIGN, True),
        (PyKCS11.CKA_PRIVATE, True),
        (PyKCS11.CKA_SENSITIVE, True),
        (PyKCS11.CKA_EXTRACTABLE, False),
    ]
    session.generateKeyPair(public, private, mecha=PyKCS11.Mechanism(PyKCS11.CKM_EC_KEY_PAIR_GEN, None))
    session.logout()
    session.closeSession()


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    """A fresh SoftHSM2 token with one key per OMS curve (labels 'key-P-256', ...)."""
    module = next((m for m in MODULE_CANDIDATES if Path(m).is_file()), None)
    assert module and shutil.which("softhsm2-util"), "SoftHSM2 is missing: run scripts/install-test-deps (apt softhsm2)"
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(config))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
            check=True,
            capture_output=True,
        )
        for curve in CURVE_OIDS:
            _generate_key_pair(module, f"key-{curve}", curve)
        yield Token(module, directory)


def _export_public_key(token: Token, label: str) -> Path:
    """The consumer's copy of the token's public key, exported with `modelseal public-key`."""
    path = token.directory / f"{label}.pub"
    result = modelseal("public-key", "--pkcs11-uri", token.uri(label), "--output", path)
    assert result.returncode == 0, result.stderr
    return path


@pytest.mark.parametrize("curve", list(CURVE_OIDS))
def test_sign_on_token_verifies_with_modelseal_and_reference(token: Token, model_dir: Path, curve: str) -> None:
    label = f"key-{curve}"
    signed = modelseal("sign", "pkcs11-key", model_dir, "--pkcs11-uri", token.uri(label))
    assert signed.returncode == 0, signed.stderr
    public_key = _export_public_key(token, label)
    ours = modelseal("verify", "key", model_dir, "--public-key", public_key)
    assert ours.returncode == 0, ours.stderr
    theirs = reference("verify", "key", model_dir, "--signature", model_dir / "model.sig", "--public_key", public_key)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr


def test_token_signature_is_rejected_by_another_key(token: Token, model_dir: Path) -> None:
    modelseal("sign", "pkcs11-key", model_dir, "--pkcs11_uri", token.uri("key-P-256"))
    with pytest.raises(Exception, match="does not verify"):
        verify(model_dir, KeyVerifier.from_file(_export_public_key(token, "key-P-384")))


def test_reference_pkcs11_signature_verifies_with_modelseal(token: Token, model_dir: Path) -> None:
    signature = model_dir / "model.sig"
    made = reference("sign", "pkcs11-key", model_dir, "--signature", signature, "--pkcs11_uri", token.uri("key-P-256"))
    assert made.returncode == 0, made.stdout + made.stderr
    result = verify(model_dir, KeyVerifier.from_file(_export_public_key(token, "key-P-256")))
    assert result.files_verified == 5


def test_pkcs11_certificate_chain(token: Token, model_dir: Path, pki: Pki) -> None:
    """The token's key certified by an intermediate: verified against the root by both tools."""
    key = TokenKey.open(token.uri("key-P-384"))
    try:
        public = key.public_key()
    finally:
        key.close()

    class _CertifiedPublicKey:  # issue_certificate only needs public_key() of the subject key
        def public_key(self) -> Any:
            return public

    leaf = issue_certificate("HSM Publisher", _CertifiedPublicKey(), pki.intermediate_pair, ca=False)  # type: ignore[arg-type]
    leaf_path = write_certificates(pki.directory / "hsm.pem", leaf)
    signed = modelseal(
        "sign",
        "pkcs11-certificate",
        model_dir,
        "--pkcs11-uri",
        token.uri("key-P-384"),
        "--signing-certificate",
        leaf_path,
        "--certificate-chain",
        pki.intermediate,
    )
    assert signed.returncode == 0, signed.stderr
    ours = modelseal("verify", "certificate", model_dir, "--certificate-chain", pki.root, "--identity", "HSM Publisher")
    assert ours.returncode == 0, ours.stderr
    theirs = reference(
        "verify", "certificate", model_dir, "--signature", model_dir / "model.sig", "--certificate_chain", pki.root
    )
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr


def test_certificate_of_another_key_is_refused(token: Token, model_dir: Path, pki: Pki) -> None:
    result = modelseal(
        "sign", "pkcs11-certificate", model_dir, "--pkcs11-uri", token.uri("key-P-256"),
        "--signing-certificate", pki.leaf_cert,
    )  # fmt: skip
    assert result.returncode == 2 and "does not belong to the certificate" in result.stderr
    assert not (model_dir / "model.sig").exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (lambda t: t.uri("key-P-256", pin="97531"), "the token refused the PIN"),
        (lambda t: t.uri("no-such-key"), "no EC private key on the token matches"),
        (lambda t: t.uri("key-P-256", token="other"), "no token matches"),
        (lambda t: t.uri("key-P-256", pin=None), "log in with pin-value= or pin-source="),
        (lambda t: "pkcs11:object=k?module-path=/nonexistent/module.so", "does not exist"),
        (lambda t: "pkcs11:token=x", "name the key with 'object='"),
        (lambda t: "pkcs11:object=k;colour=red", "unknown attribute 'colour'"),
        (lambda t: "https://example.com/key", "must start with 'pkcs11:'"),
    ],
    ids=[
        "wrong pin",
        "no such key",
        "no such token",
        "no pin",
        "no module",
        "no object",
        "bad attribute",
        "not pkcs11",
    ],
)
def test_bad_uri_or_token_is_a_clear_error(token: Token, model_dir: Path, uri: Any, message: str) -> None:
    result = modelseal("sign", "pkcs11-key", model_dir, "--pkcs11-uri", uri(token))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "97531" not in result.stderr  # a PIN given in the URI is never echoed
    assert not (model_dir / "model.sig").exists()


def test_pin_from_pin_source_file(token: Token, model_dir: Path) -> None:
    pin_file = token.directory / "pin.txt"
    pin_file.write_text(PIN + "\n")
    uri = f"pkcs11:token={TOKEN};object=key-P-521?module-path={token.module}&pin-source=file:{pin_file}"
    result = modelseal("sign", "pkcs11-key", model_dir, "--pkcs11-uri", uri)
    assert result.returncode == 0, result.stderr
    assert verify(model_dir, KeyVerifier.from_file(_export_public_key(token, "key-P-521"))).files_verified == 5


def test_uri_percent_decoding_and_id() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=My%20Token;id=%01%ff?module-name=softhsm2&pin-value=1%3D2")
    assert uri.text_attribute("token") == "My Token"
    assert uri.object_id == b"\x01\xff"
    assert uri.pin() == "1=2"
    with pytest.raises(InputError, match="either pin-value or pin-source"):
        Pkcs11Uri.parse("pkcs11:object=k?pin-value=1&pin-source=/p")


@pytest.mark.parametrize("curve", ["P-256", "P-521"])
def test_a_signer_command_backed_by_the_token_signs_for_any_hsm(token: Token, model_dir: Path, curve: str) -> None:
    """--signer-command runs tests/signer_softhsm.py, which speaks PKCS#11 itself: modelseal sees only digests
    going out and signatures coming back, and the result is an ordinary key signature."""
    import shlex
    import sys

    script = Path(__file__).parents[1] / "signer_softhsm.py"
    command = shlex.join([sys.executable, str(script), token.module, TOKEN, f"key-{curve}", PIN])
    env = {"SOFTHSM2_CONF": str(token.directory / "softhsm2.conf")}
    exported = token.directory / f"command-{curve}.pub"
    assert modelseal("public-key", "--signer-command", command, "--output", exported, env=env).returncode == 0
    assert exported.read_bytes() == _export_public_key(token, f"key-{curve}").read_bytes()
    signed = modelseal("sign", "key", model_dir, "--signer-command", command, env=env)
    assert signed.returncode == 0, signed.stderr
    assert modelseal("verify", "key", model_dir, "--public-key", exported).returncode == 0
    theirs = reference("verify", "key", model_dir, "--signature", model_dir / "model.sig", "--public_key", exported)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    wrong = modelseal("sign", "key", model_dir, "--signer-command", command.replace(PIN, "0000"), env=env)
    assert wrong.returncode == 3 and "exited 1" in wrong.stderr, wrong.stderr
    both = modelseal("sign", "key", model_dir, "--signer-command", command, "--private-key", exported)
    assert both.returncode == 2 and "exactly one signing key" in both.stderr
