"""Sign/verify round trips and the fail-closed matrix, on key and certificate signatures."""

from __future__ import annotations

import datetime
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from modelseal import (
    CertificateSigner,
    CertificateVerifier,
    InputError,
    KeySigner,
    KeyVerifier,
    ModelTreeError,
    VerificationError,
    digest,
    sign,
    verify,
)
from modelseal.oms.bundle import read_bundle
from modelseal.signing.base import Signer, Verifier
from tests.conftest import NOW, KeyPair, Pki, concurrent_writer, copy_tree

Method = Callable[[], tuple[Signer, Verifier]]


@pytest.fixture(params=["key", "certificate"])
def method(request: pytest.FixtureRequest, make_key_pair: Callable[..., KeyPair], pki: Pki) -> Method:
    def make() -> tuple[Signer, Verifier]:
        if request.param == "key":
            pair = make_key_pair("P-384")
            return KeySigner.from_file(pair.private), KeyVerifier.from_file(pair.public)
        signer = CertificateSigner.from_files(pki.leaf_key, pki.leaf_cert, [pki.intermediate])
        return signer, CertificateVerifier.from_files([pki.root])

    return make


# --- round trips -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", ["P-256", "P-384", "P-521"])
@pytest.mark.parametrize("hash_type", ["sha256", "blake2b", "blake3"])
def test_key_round_trip_every_curve_and_hash(
    curve: str, hash_type: str, model_dir: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair = make_key_pair(curve)
    signed = sign(model_dir, KeySigner.from_file(pair.private), hash_type=hash_type)
    result = verify(model_dir, KeyVerifier.from_file(pair.public))
    assert result.manifest.serialization.hash_type == hash_type
    assert result.files_verified == 5
    assert result.manifest.root_digest() == signed.manifest.root_digest()


def test_shards_round_trip_and_auto_detect(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    sign(model_dir, KeySigner.from_file(pair.private), shard_size=65536, hash_type="blake3")
    result = verify(model_dir, KeyVerifier.from_file(pair.public))
    assert result.manifest.serialization.method == "shards"
    assert result.manifest.serialization.shard_size == 65536
    names = [r.name for r in result.manifest.resources]
    assert "weights.bin:0:65536" in names and "weights.bin:196608:200000" in names
    assert not any(n.startswith("sub/deeper/empty") for n in names), "zero-byte files have no shards"


def test_certificate_round_trip_reports_signer(model_dir: Path, pki: Pki) -> None:
    sign(model_dir, CertificateSigner.from_files(pki.leaf_key, pki.leaf_cert, [pki.intermediate]))
    result = verify(model_dir, CertificateVerifier.from_files([pki.root], identity="ml@example.com"))
    assert result.signer.summary == "CN=Model Publisher"
    assert "Test Root" in result.signer.details["chain"]


def test_encrypted_key_with_password(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair("P-256", password=b"s3cret")
    with pytest.raises(InputError, match="encrypted"):
        KeySigner.from_file(pair.private)
    with pytest.raises(InputError, match="wrong password"):
        KeySigner.from_file(pair.private, "wrong")
    sign(model_dir, KeySigner.from_file(pair.private, "s3cret"))
    verify(model_dir, KeyVerifier.from_file(pair.public))


def test_signature_is_byte_reproducible(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    first = sign(model_dir, KeySigner.from_file(pair.private)).signature.read_bytes()
    second = sign(model_dir, KeySigner.from_file(pair.private)).signature.read_bytes()
    assert first == second


def test_single_file_model_spec_and_reference_names(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(1000))
    signed = sign(weights, KeySigner.from_file(pair.private))
    assert signed.signature == tmp_path / "weights.bin.sig"
    assert [r.name for r in signed.manifest.resources] == ["weights.bin"]
    compat = sign(weights, KeySigner.from_file(pair.private), compat=True, signature=tmp_path / "compat.sig")
    assert [r.name for r in compat.manifest.resources] == ["."]
    for signature in (signed.signature, compat.signature):
        verify(weights, KeyVerifier.from_file(pair.public), signature=signature)


def test_reference_compat_shard_spelling(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    signed = sign(model_dir, KeySigner.from_file(pair.private), shard_size=100_000, compat=True)
    payload = json.loads(read_bundle(signed.signature).payload)
    assert payload["predicate"]["serialization"]["shard_size"] == 100000.0
    assert {r["algorithm"] for r in payload["predicate"]["resources"]} == {"sha256-sharded-100000"}
    verify(model_dir, KeyVerifier.from_file(pair.public))


def test_ignore_paths_are_recorded_and_applied_on_verify(
    model_dir: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair = make_key_pair()
    signed = sign(model_dir, KeySigner.from_file(pair.private), ignore_paths=["sub/deeper"])
    assert signed.manifest.serialization.ignore_paths == (
        ".git",
        ".gitattributes",
        ".github",
        ".gitignore",
        "model.bom.sig",
        "model.meta.sig",
        "model.scan.sig",
        "model.sig",
        "sub/deeper",
    )
    (model_dir / "sub" / "deeper" / "scratch.log").write_text("not signed, ignored by the recorded rules")
    assert verify(model_dir, KeyVerifier.from_file(pair.public)).files_verified == 4


def test_ignore_unsigned_files_lists_them(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    sign(model_dir, KeySigner.from_file(pair.private))
    (model_dir / "notes.txt").write_text("added later")
    result = verify(model_dir, KeyVerifier.from_file(pair.public), ignore_unsigned_files=True)
    assert result.unsigned_ignored == ("notes.txt",)


def test_digest_equals_signed_subject(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    signed = sign(model_dir, KeySigner.from_file(pair.private))
    manifest, _ = digest(model_dir, signature=model_dir / "model.sig")
    subject = json.loads(read_bundle(signed.signature).payload)["subject"][0]["digest"]["sha256"]
    assert manifest.root_digest() == subject


# --- fail closed ------------------------------------------------------------------------------------------------


def _flip(model: Path) -> None:
    data = bytearray((model / "weights.bin").read_bytes())
    data[12345] ^= 0x80
    (model / "weights.bin").write_bytes(bytes(data))


TAMPERING: dict[str, tuple[Callable[[Path], None], str]] = {
    "flipped byte": (_flip, r"modified: 'weights.bin': signed sha256 [0-9a-f]{64}, now [0-9a-f]{64}"),
    "file added": (lambda m: (m / "extra.py").write_text("import os"), "unsigned: 'extra.py'"),
    "file removed": (lambda m: (m / "config.json").unlink(), "missing:  'config.json'"),
    "file renamed": (lambda m: (m / "config.json").rename(m / "config2.json"), "missing:  'config.json'"),
    "file truncated": (lambda m: os.truncate(m / "weights.bin", 100), "modified: 'weights.bin'"),
    "empty file filled": (lambda m: (m / "sub/deeper/empty").write_bytes(b"\0"), "modified: 'sub/deeper/empty'"),
    "replaced by symlink": (
        lambda m: (
            (m / "weights.bin").rename(m.parent / "elsewhere.bin"),
            (m / "weights.bin").symlink_to(m.parent / "elsewhere.bin"),
        ),
        "symbolic link",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected(case: str, method: Method, model_dir: Path) -> None:
    signer, verifier = method()
    sign(model_dir, signer)
    tamper, message = TAMPERING[case]
    tamper(model_dir)
    with pytest.raises(VerificationError, match=message):
        verify(model_dir, verifier)


def test_renamed_file_reports_both_names(method: Method, model_dir: Path) -> None:
    signer, verifier = method()
    sign(model_dir, signer)
    (model_dir / "config.json").rename(model_dir / "config2.json")
    with pytest.raises(VerificationError) as failure:
        verify(model_dir, verifier)
    assert any("config2.json" in line for line in failure.value.details)


def test_signature_from_another_key_fails(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    signer_pair, other = make_key_pair(), make_key_pair()
    sign(model_dir, KeySigner.from_file(signer_pair.private))
    with pytest.raises(VerificationError, match="does not verify"):
        verify(model_dir, KeyVerifier.from_file(other.public))


def test_certificate_from_untrusted_root_fails(model_dir: Path, pki: Pki, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.conftest import Pki as _  # noqa: F401 - same helper, second independent PKI below
    from tests.conftest import issue_certificate, write_certificates

    sign(model_dir, CertificateSigner.from_files(pki.leaf_key, pki.leaf_cert, [pki.intermediate]))
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_root = write_certificates(tmp_path / "other-root.pem", issue_certificate("Other", other_key, None, ca=True))
    with pytest.raises(VerificationError, match="does not chain to a trusted certificate"):
        verify(model_dir, CertificateVerifier.from_files([other_root]))


@pytest.mark.parametrize(
    ("validity", "message"),
    [
        ({"not_after": NOW - datetime.timedelta(days=1), "not_before": NOW - datetime.timedelta(days=10)}, "expired"),
        ({"not_before": NOW + datetime.timedelta(days=1)}, "not valid before"),
    ],
)
def test_leaf_outside_validity_is_rejected(
    validity: dict[str, datetime.datetime], message: str, model_dir: Path, pki: Pki
) -> None:
    key, cert = pki.leaf("short-lived", **validity)
    sign(model_dir, CertificateSigner.from_files(key, cert, [pki.intermediate]))
    with pytest.raises(VerificationError, match=message):
        verify(model_dir, CertificateVerifier.from_files([pki.root]))


def test_leaf_without_signing_usage_is_rejected(model_dir: Path, pki: Pki) -> None:
    key, cert = pki.leaf("key-agreement-only", code_signing=False)
    sign(model_dir, CertificateSigner.from_files(key, cert, [pki.intermediate]))
    with pytest.raises(VerificationError, match="not allowed to sign"):
        verify(model_dir, CertificateVerifier.from_files([pki.root]))


def test_identity_constraint(model_dir: Path, pki: Pki) -> None:
    sign(model_dir, CertificateSigner.from_files(pki.leaf_key, pki.leaf_cert, [pki.intermediate]))
    verify(model_dir, CertificateVerifier.from_files([pki.root], identity="CN=Model Publisher"))
    with pytest.raises(VerificationError, match=r"does not belong to 'attacker@example\.com'"):
        verify(model_dir, CertificateVerifier.from_files([pki.root], identity="attacker@example.com"))


def test_certificate_verify_requires_trust_roots(pki: Pki, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(InputError):
        CertificateVerifier.from_files([empty])


def test_key_not_matching_certificate_is_refused(pki: Pki, make_key_pair: Callable[..., KeyPair]) -> None:
    with pytest.raises(InputError, match="does not belong"):
        CertificateSigner.from_files(make_key_pair().private, pki.leaf_cert)


def test_method_mismatch_names_the_right_command(
    model_dir: Path, pki: Pki, make_key_pair: Callable[..., KeyPair]
) -> None:
    sign(model_dir, CertificateSigner.from_files(pki.leaf_key, pki.leaf_cert, [pki.intermediate]))
    with pytest.raises(VerificationError, match="modelseal verify certificate"):
        verify(model_dir, KeyVerifier.from_file(make_key_pair().public))


def _resign(signature: Path, signer: Signer, edit: Callable[[dict[str, object]], None]) -> None:
    """An attacker holding a valid key signs a crafted statement."""
    statement = json.loads(read_bundle(signature).payload)
    edit(statement)
    signature.write_bytes(signer.sign(json.dumps(statement).encode()).to_json())  # ASCII JSON: \\udcff stays escaped


def _set_first_name(name: str) -> Callable[[dict[str, object]], None]:
    def edit(statement: dict[str, object]) -> None:
        statement["predicate"]["resources"][0]["name"] = name  # type: ignore[index]
        from modelseal.oms.manifest import Resource, root_digest

        resources = tuple(Resource(r["name"], r["algorithm"], r["digest"]) for r in statement["predicate"]["resources"])  # type: ignore[index]
        statement["subject"][0]["digest"]["sha256"] = root_digest(resources)  # type: ignore[index]

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.update(predicateType="https://example.com/other/v1"), "predicateType"),
        (_set_first_name("../outside.json"), "unsafe"),
        (_set_first_name("/etc/passwd"), "absolute"),
        (_set_first_name("bad-\udcff-name"), "UTF-8"),
    ],
)
def test_crafted_statements_signed_with_a_valid_key_are_rejected(
    edit: Callable[[dict[str, object]], None], message: str, method: Method, model_dir: Path
) -> None:
    signer, verifier = method()
    signed = sign(model_dir, signer)
    _resign(signed.signature, signer, edit)
    with pytest.raises(VerificationError, match=message):
        verify(model_dir, verifier)


def test_raw_non_utf8_name_in_a_signed_payload_is_rejected(method: Method, model_dir: Path) -> None:
    signer, verifier = method()
    signed = sign(model_dir, signer)
    payload = read_bundle(signed.signature).payload.replace(b'"name":"config.json"', b'"name":"config\xff.json"')
    assert b"\xff" in payload
    signed.signature.write_bytes(signer.sign(payload).to_json())
    with pytest.raises(VerificationError, match="UTF-8"):
        verify(model_dir, verifier)


def test_swapped_payload_breaks_the_signature(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    signed = sign(model_dir, KeySigner.from_file(pair.private))
    bundle = json.loads(signed.signature.read_text())
    bundle["dsseEnvelope"]["payload"] = bundle["dsseEnvelope"]["payload"][:-8] + "AAAAAAA="
    signed.signature.write_text(json.dumps(bundle))
    with pytest.raises(VerificationError):
        verify(model_dir, KeyVerifier.from_file(pair.public))


def test_empty_model_is_rejected_at_sign_time(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    (tmp_path / "empty-model" / ".git").mkdir(parents=True)
    (tmp_path / "empty-model" / ".git" / "HEAD").write_text("x")
    with pytest.raises(ModelTreeError, match="empty model"):
        sign(tmp_path / "empty-model", KeySigner.from_file(make_key_pair().private))
    assert not (tmp_path / "empty-model" / "model.sig").exists()


def test_failed_signing_leaves_no_signature(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    os.mkfifo(model_dir / "pipe")
    with pytest.raises(ModelTreeError):
        sign(model_dir, KeySigner.from_file(make_key_pair().private))
    assert not (model_dir / "model.sig").exists()


def test_symlinks_signed_when_allowed_are_verified_as_content(
    model_dir: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair = make_key_pair()
    shutil.copyfile(model_dir / "weights.bin", model_dir.parent / "blob")
    (model_dir / "linked.bin").symlink_to(model_dir.parent / "blob")
    sign(model_dir, KeySigner.from_file(pair.private), allow_symlinks=True)
    verify(model_dir, KeyVerifier.from_file(pair.public))
    _flip_blob = bytearray((model_dir.parent / "blob").read_bytes())
    _flip_blob[0] ^= 1
    (model_dir.parent / "blob").write_bytes(bytes(_flip_blob))
    with pytest.raises(VerificationError, match=r"modified: 'linked\.bin'"):
        verify(model_dir, KeyVerifier.from_file(pair.public))


def test_verify_in_a_copy_elsewhere(model_dir: Path, make_key_pair: Callable[..., KeyPair], tmp_path: Path) -> None:
    pair = make_key_pair()
    sign(model_dir, KeySigner.from_file(pair.private))
    moved = copy_tree(model_dir, tmp_path / "published" / "renamed-model")
    verify(moved, KeyVerifier.from_file(pair.public))


def test_file_written_during_signing_is_not_signed(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    from modelseal import FileChangedError

    big = model_dir / "growing.bin"
    big.write_bytes(os.urandom(32 << 20))
    with concurrent_writer(big), pytest.raises(FileChangedError, match=r"growing\.bin"):
        sign(model_dir, KeySigner.from_file(make_key_pair().private))
    assert not (model_dir / "model.sig").exists()
