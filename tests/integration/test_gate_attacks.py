"""Issue 12: the gate and the verifier against an attacker who controls the files. Each test is one attack class
that passed before: files the signer left out, attestation names, certificate shapes, resource bombs, crafted
manifests."""

from __future__ import annotations

import datetime
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from modelseal import CertificateSigner, CertificateVerifier, KeySigner, KeyVerifier, VerificationError, sign, verify
from modelseal.attest.check import Outcome, check
from modelseal.errors import InputError
from tests.conftest import KeyPair, remove_deep_tree, without_root_privileges, write_private_key
from tests.integration.test_check import step, write_policy
from tests.integration.test_cli import modelseal
from tests.integration.test_interop import reference
from tests.scanning.pickles import system

PAYLOAD = system("touch /tmp/modelseal-never")


@pytest.fixture
def pair(make_key_pair: Callable[..., KeyPair]) -> KeyPair:
    return make_key_pair()


# --- 1. check judges every file a loader could read ---------------------------------------------------------


def test_a_pickle_the_signer_left_out_fails_the_check(model_dir: Path, pair: KeyPair) -> None:
    """The signer excluded optimizer.pt (--ignore-paths); a loader resuming training reads it all the same."""
    sign(model_dir, KeySigner.from_file(pair.private), ignore_paths=["optimizer.pt", "logs"])
    (model_dir / "optimizer.pt").write_bytes(PAYLOAD)
    policy = write_policy(model_dir.parent, {"release": pair.public})
    report = check(model_dir, policy)
    assert report.verdict is Outcome.FAILED
    assert step(report, "signature").outcome is Outcome.PASSED  # the signature itself is intact
    unsigned = step(report, "unsigned")
    assert unsigned.outcome is Outcome.FAILED and "optimizer.pt: not signed" in unsigned.details
    scanned = step(report, "scan")
    assert scanned.outcome is Outcome.FAILED and any("optimizer.pt: CRITICAL" in line for line in scanned.details)


def test_verify_lists_what_the_signer_excluded_and_what_of_it_exists(model_dir: Path, pair: KeyPair) -> None:
    sign(model_dir, KeySigner.from_file(pair.private), ignore_paths=["optimizer.pt", "logs"])
    (model_dir / "optimizer.pt").write_bytes(b"x")
    result = modelseal("verify", "key", model_dir, "--public-key", pair.public, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["excluded_by_signer"] == ["logs", "optimizer.pt"]
    assert document["excluded_present"] == ["optimizer.pt"]
    text = modelseal("verify", "key", model_dir, "--public-key", pair.public).stdout
    assert "present but not verified" in text and "optimizer.pt" in text


def test_allowed_unsigned_files_are_still_scanned(model_dir: Path, pair: KeyPair) -> None:
    sign(model_dir, KeySigner.from_file(pair.private), ignore_paths=["logs"])
    (model_dir / "logs").mkdir()
    (model_dir / "logs" / "run.txt").write_text("step 1 loss 0.5\n")
    policy = write_policy(model_dir.parent, {"release": pair.public}, '[check]\nallow-unsigned = ["logs/**"]\n')
    passed = check(model_dir, policy)
    assert passed.verdict is Outcome.PASSED, passed.steps
    assert step(passed, "unsigned").details == ("logs/run.txt",)
    (model_dir / "logs" / "state.pkl").write_bytes(PAYLOAD)
    failed = check(model_dir, policy)
    assert step(failed, "unsigned").outcome is Outcome.PASSED
    assert failed.verdict is Outcome.FAILED and step(failed, "scan").outcome is Outcome.FAILED


def test_a_policy_with_a_misspelt_check_key_is_refused(model_dir: Path, pair: KeyPair) -> None:
    policy = write_policy(model_dir.parent, {"release": pair.public}, '[check]\nallow-unsignd = ["x"]\n')
    result = modelseal("check", model_dir, "--policy", policy)
    assert result.returncode == 2 and "allow-unsignd" in result.stderr


# --- 2. attestation names are ignored only when recorded, and only as top-level regular files --------------


@pytest.mark.parametrize("name", ["model.bom.sig", "model.meta.sig", "model.scan.sig", "model.sig"])
def test_a_directory_named_like_an_attestation_is_model_content(model_dir: Path, pair: KeyPair, name: str) -> None:
    sign(model_dir, KeySigner.from_file(pair.private), signature=model_dir.parent / "outside.sig")
    (model_dir / name).mkdir()
    (model_dir / name / "evil.pkl").write_bytes(PAYLOAD)
    with pytest.raises(VerificationError) as caught:
        verify(model_dir, KeyVerifier.from_file(pair.public), signature=model_dir.parent / "outside.sig")
    assert f"unsigned: '{name}/evil.pkl': in the model, not in the signature" in caught.value.details


def test_an_attestation_name_the_reference_did_not_record_is_unsigned(model_dir: Path, pair: KeyPair) -> None:
    """A reference v1.1 signature records only its own name: next to it, model.meta.sig is an unsigned file for
    both verifiers (before, modelseal ignored it whatever the signature said)."""
    signed = reference("sign", "key", model_dir, "--signature", model_dir / "model.sig", "--private_key", pair.private)
    assert signed.returncode == 0, signed.stderr
    assert verify(model_dir, KeyVerifier.from_file(pair.public)).files_verified == 5
    (model_dir / "model.meta.sig").write_bytes(PAYLOAD)
    with pytest.raises(VerificationError) as caught:
        verify(model_dir, KeyVerifier.from_file(pair.public))
    assert "unsigned: 'model.meta.sig': in the model, not in the signature" in caught.value.details
    theirs = reference("verify", "key", model_dir, "--signature", model_dir / "model.sig", "--public_key", pair.public)
    assert theirs.returncode != 0


def test_attest_refuses_to_write_an_attestation_the_signature_does_not_exclude(model_dir: Path, pair: KeyPair) -> None:
    from modelseal.attest.attest import attest_scan

    signed = reference("sign", "key", model_dir, "--signature", model_dir / "model.sig", "--private_key", pair.private)
    assert signed.returncode == 0, signed.stderr
    with pytest.raises(InputError, match=r"does not exclude 'model\.scan\.sig'"):
        attest_scan(model_dir, KeySigner.from_file(pair.private))
    assert not (model_dir / "model.scan.sig").exists()
    beside = attest_scan(model_dir, KeySigner.from_file(pair.private), attestation=model_dir.parent / "scan.sig")
    assert beside.path.is_file()
    assert verify(model_dir, KeyVerifier.from_file(pair.public)).files_verified == 5


# --- 4. cheap checks before expensive ones ------------------------------------------------------------------


@pytest.mark.parametrize("shard_size", [None, 4096], ids=["files", "shards"])
def test_an_added_file_is_refused_before_anything_is_hashed(
    model_dir: Path, pair: KeyPair, shard_size: int | None
) -> None:
    """The file lists are compared before hashing: an added 64 GiB sparse file (> 60 s to hash before) is never
    read. Made unreadable to prove it: reading it would be a "cannot read" error, not the difference. Shard
    signatures record sizes, so a signed file whose size changed is refused unread too."""
    sign(model_dir, KeySigner.from_file(pair.private), shard_size=shard_size)
    bomb = model_dir / "zeros.bin"
    with open(bomb, "wb") as handle:
        handle.truncate(64 << 30)
    bomb.chmod(0)
    if shard_size:
        (model_dir / "weights.bin").write_bytes(b"changed")
        (model_dir / "weights.bin").chmod(0)
    command = without_root_privileges("verify", "key", model_dir, "--public-key", pair.public)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert "unsigned: 'zeros.bin'" in result.stderr and "cannot read" not in result.stderr
    if shard_size:
        assert "modified: 'weights.bin': signed with 200,000 bytes, now 7" in result.stderr


# --- 3. certificate policy: the leaf signs code and issues nothing; CAs may restrict to code signing ---------

CODE, SERVER = ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.SERVER_AUTH
SIGN_ONLY = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
ISSUE = x509.KeyUsage(False, False, False, False, False, True, True, False, False)


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    usage: x509.KeyUsage,
    eku: list[x509.ObjectIdentifier] | None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(usage, critical=True)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


# (intermediate EKU, leaf is CA, leaf key usage, leaf EKU) -> accepted?
CHAINS = {
    "code-signing leaf": (None, False, SIGN_ONLY, [CODE], True),
    "intermediate restricted to codeSigning": ([CODE], False, SIGN_ONLY, [CODE], True),
    "intermediate allowing anyEKU": ([x509.ObjectIdentifier("2.5.29.37.0")], False, SIGN_ONLY, [CODE], True),
    "intermediate restricted to serverAuth": ([SERVER], False, SIGN_ONLY, [CODE], False),
    "serverAuth-only leaf": (None, False, SIGN_ONLY, [SERVER], False),
    "leaf without extended key usage": (None, False, SIGN_ONLY, None, False),
    "leaf that is a CA able to issue": (None, True, ISSUE, [CODE], False),
    "CA:TRUE leaf limited to digitalSignature (model-signing's own test shape)": (None, True, SIGN_ONLY, [CODE], True),
}


@pytest.mark.parametrize("shape", CHAINS)
def test_certificate_chain_shapes(model_dir: Path, tmp_path: Path, shape: str) -> None:
    intermediate_eku, leaf_ca, leaf_usage, leaf_eku, accepted = CHAINS[shape]
    root_key, int_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _certificate("Root", root_key, None, ca=True, usage=ISSUE, eku=None)
    intermediate = _certificate("Code CA", int_key, (root, root_key), ca=True, usage=ISSUE, eku=intermediate_eku)
    leaf = _certificate("Publisher", leaf_key, (intermediate, int_key), ca=leaf_ca, usage=leaf_usage, eku=leaf_eku)
    files = {
        "root.pem": root,
        "intermediate.pem": intermediate,
        "leaf.pem": leaf,
    }
    for name, certificate in files.items():
        (tmp_path / name).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    write_private_key(tmp_path / "leaf.key", leaf_key)
    signer = CertificateSigner.from_files(tmp_path / "leaf.key", tmp_path / "leaf.pem", [tmp_path / "intermediate.pem"])
    sign(model_dir, signer)
    verifier = CertificateVerifier.from_files([tmp_path / "root.pem"])
    if accepted:
        assert verify(model_dir, verifier).signer.summary == "CN=Publisher"
    else:
        with pytest.raises(VerificationError, match="not allowed to sign models") as caught:
            verify(model_dir, verifier)
        assert caught.value.details  # names the rule that failed


def test_a_policy_may_name_another_extended_key_usage(model_dir: Path, tmp_path: Path) -> None:
    """A PKI that marks model signers with its own EKU: the policy names it, codeSigning is then not enough."""
    own = x509.ObjectIdentifier("1.3.6.1.4.1.57264.99.1")
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = _certificate("Root", root_key, None, ca=True, usage=ISSUE, eku=None)
    leaf = _certificate("Publisher", leaf_key, (root, root_key), ca=False, usage=SIGN_ONLY, eku=[own])
    (tmp_path / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    write_private_key(tmp_path / "leaf.key", leaf_key)
    sign(model_dir, CertificateSigner.from_files(tmp_path / "leaf.key", tmp_path / "leaf.pem"))
    with pytest.raises(VerificationError, match="not allowed to sign models"):
        verify(model_dir, CertificateVerifier.from_files([tmp_path / "root.pem"]))
    policy = tmp_path / "trust.toml"
    policy.write_text(
        'version = 1\n[[signers]]\nname = "pki"\nmethod = "certificate"\ncertificate-chain = ["root.pem"]\n'
        f'extended-key-usage = "{own.dotted_string}"\n'
    )
    assert check(model_dir, policy).verdict is Outcome.PASSED


# --- 4. bombs and crafted manifests: a refusal (exit 1) or an input error (exit 2), never "internal error" --


def _resign_payload(model: Path, pair: KeyPair, edit: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the signed statement and sign it again with the same key: the attacker is the signer here."""
    from modelseal.oms.bundle import read_bundle
    from modelseal.oms.statement import canonical_json

    statement = json.loads(read_bundle(model / "model.sig").payload)
    edit(statement)
    bundle = KeySigner.from_file(pair.private).sign(canonical_json(statement))
    (model / "model.sig").write_bytes(bundle.to_json())


@pytest.mark.parametrize(
    "size", [1, 0, -4096, 4096.5, float("inf"), float("nan"), "4096", True], ids=lambda s: f"shard_size={s!r}"
)
def test_a_signer_cannot_choose_an_absurd_shard_size(model_dir: Path, pair: KeyPair, size: object) -> None:
    """shard_size 1 made a 1 MB file take 43 s; Infinity and NaN ended in 'internal error'."""
    sign(model_dir, KeySigner.from_file(pair.private), shard_size=4096)
    _resign_payload(model_dir, pair, lambda s: s["predicate"]["serialization"].update(shard_size=size))
    result = modelseal("verify", "key", model_dir, "--public-key", pair.public)
    assert result.returncode == 1, result.stderr
    assert "shard_size" in result.stderr and "internal error" not in result.stderr


def test_a_legacy_statement_may_not_list_a_file_twice(model_dir: Path, pair: KeyPair) -> None:
    """v0.2 statements list files as subjects: the same name with two digests verified before."""
    import hashlib

    from modelseal.oms.statement import LEGACY_PREDICATE_TYPE, canonical_json

    digest = hashlib.sha256((model_dir / "config.json").read_bytes()).hexdigest()
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "config.json", "digest": {"sha256": digest}},
            {"name": "config.json", "digest": {"sha256": "0" * 64}},
        ],
        "predicateType": LEGACY_PREDICATE_TYPE,
        "predicate": {},
    }
    (model_dir / "model.sig").write_bytes(KeySigner.from_file(pair.private).sign(canonical_json(statement)).to_json())
    with pytest.raises(VerificationError, match="listed twice"):
        verify(model_dir, KeyVerifier.from_file(pair.public), ignore_unsigned_files=True)


@pytest.mark.parametrize("where", ["bundle", "statement"])
def test_deeply_nested_json_in_a_signature_is_refused(model_dir: Path, pair: KeyPair, where: str) -> None:
    sign(model_dir, KeySigner.from_file(pair.private))
    if where == "bundle":
        document = json.loads((model_dir / "model.sig").read_text())
        document["verificationMaterial"]["extra"] = json.loads("[" * 50 + "]" * 50)
        (model_dir / "model.sig").write_text(json.dumps(document))
        deeper = (model_dir / "model.sig").read_text().replace('"extra": [', '"extra": ' + "[" * 100_000, 1)
        (model_dir / "model.sig").write_text(deeper.replace("]]", "]" * 100_001, 1))
    else:
        _resign_payload(model_dir, pair, lambda s: s["predicate"].update(extra=json.loads("[" * 60 + "]" * 60)))
    result = modelseal("verify", "key", model_dir, "--public-key", pair.public)
    assert result.returncode == 1, result.stderr
    assert "nested deeper than" in result.stderr


def test_a_huge_signature_file_is_refused_unread(model_dir: Path, pair: KeyPair) -> None:
    """A 3 GiB model.sig cost 6 GB of memory; now at most 64 MiB are read (sparse here: the test costs nothing)."""
    sign(model_dir, KeySigner.from_file(pair.private))
    with open(model_dir / "model.sig", "r+b") as handle:
        handle.truncate(3 << 30)
    result = modelseal("verify", "key", model_dir, "--public-key", pair.public)
    assert result.returncode == 1 and "larger than 64 MiB" in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["sign", "verify", "scan"])
def test_a_directory_1100_levels_deep_is_an_error_not_a_crash(
    model_dir: Path, pair: KeyPair, command: str, request: pytest.FixtureRequest
) -> None:
    if command == "verify":
        sign(model_dir, KeySigner.from_file(pair.private))
    deep = model_dir
    for _ in range(1100):  # one level at a time: mkdir(parents=True) recurses once per level itself
        deep = deep / "d"
        deep.mkdir()
    (deep / "evil.pkl").write_bytes(PAYLOAD)
    request.addfinalizer(lambda: remove_deep_tree(model_dir / "d"))
    arguments = {
        "sign": ("sign", "key", model_dir, "--private-key", pair.private),
        "verify": ("verify", "key", model_dir, "--public-key", pair.public),
        "scan": ("scan", model_dir),
    }[command]
    result = modelseal(*arguments)
    assert "internal error" not in result.stdout + result.stderr
    if command == "scan":
        assert result.returncode == 1 and "evil.pkl" in result.stdout  # the scanner walks it and finds the payload
    else:
        assert result.returncode == (2 if command == "sign" else 1), result.stderr
        assert "more than 128 directories deep" in result.stderr


# --- 6. TOCTOU: what each mode sees, as the README states it ------------------------------------------------


def test_a_write_through_a_dirty_shared_mapping_is_invisible_to_stat(
    model_dir: Path, pair: KeyPair, tmp_path: Path
) -> None:
    """The kernel moves mtime/ctime on the first write fault of a page, not on later writes to the same dirty
    page: the digest cache (--trust-cache) then serves the old digest, as the README says; a plain verify reads
    the bytes and refuses them."""
    import mmap

    weights = model_dir / "weights.bin"
    cache = tmp_path / "cache.sqlite3"
    for attempt in range(3):  # should the kernel write the page back in between, it is clean again: retry
        with open(weights, "r+b") as handle, mmap.mmap(handle.fileno(), 0) as mapping:
            mapping[0:8] = bytes(8)  # the writer's first fault: mtime moves now, before signing
            sign(model_dir, KeySigner.from_file(pair.private), cache=cache)
            before = weights.stat()
            mapping[0:8] = f"tamper{attempt}!".encode()[:8]
            after = weights.stat()
        if (before.st_mtime_ns, before.st_ctime_ns) == (after.st_mtime_ns, after.st_ctime_ns):
            break
    assert before.st_size == after.st_size and before.st_mtime_ns == after.st_mtime_ns
    trusting = verify(model_dir, KeyVerifier.from_file(pair.public), trusted_cache=cache)
    assert trusting.files_verified == 5  # the documented limit of --trust-cache
    with pytest.raises(VerificationError, match=r"modified: 'weights\.bin'"):
        verify(model_dir, KeyVerifier.from_file(pair.public))


def test_a_file_replaced_while_the_guard_checks_it_is_refused(
    tmp_path: Path, pair: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch_load opens the file, checks it, and loads that open file only if the path still names it."""
    import torch

    from modelseal import guard
    from modelseal.guard import decide

    model = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, model)
    sign(model, KeySigner.from_file(pair.private))
    policy = write_policy(tmp_path, {"release": pair.public})
    checked = decide.ensure_trusted

    def check_then_swap(path: str | Path, policy: str | Path | None = None) -> None:
        checked(path, policy)
        swapped = tmp_path / "swap.pt"
        torch.save({"w": torch.ones(2)}, swapped)
        swapped.replace(model)  # a new inode under the checked name

    monkeypatch.setattr(decide, "ensure_trusted", check_then_swap)
    with pytest.raises(guard.UntrustedModelError, match="replaced while it was being checked"):
        guard.torch_load(model, policy=policy, weights_only=True)


# --- 5. shards: empty files are a gap of the format, said out loud ---------------------------------------------


def test_shard_signatures_warn_about_empty_files_and_do_not_count_them(model_dir: Path, pair: KeyPair) -> None:
    """OMS v1.0 shards have no record for an empty file (model-signing writes none), so adding or removing one
    cannot be detected without breaking interop: verify says so, and counts only the files it checked."""
    sign(model_dir, KeySigner.from_file(pair.private), shard_size=4096)  # model_dir holds one empty file
    result = verify(model_dir, KeyVerifier.from_file(pair.public))
    assert result.files_verified == 4  # 5 files, 1 of them empty
    assert any("1 empty file(s) ('sub/deeper/empty')" in w and "not covered" in w for w in result.warnings)
    (model_dir / "added-empty").write_bytes(b"")
    added = verify(model_dir, KeyVerifier.from_file(pair.public))
    assert added.files_verified == 4 and any("2 empty file(s)" in w for w in added.warnings)
    sign(model_dir, KeySigner.from_file(pair.private))  # the files method records empty files: no warning
    assert verify(model_dir, KeyVerifier.from_file(pair.public)).warnings == ()


def test_attest_bom_refuses_to_write_a_bom_the_signature_does_not_exclude(model_dir: Path, pair: KeyPair) -> None:
    from modelseal.bom import attest_bom

    signed = reference("sign", "key", model_dir, "--signature", model_dir / "model.sig", "--private_key", pair.private)
    assert signed.returncode == 0, signed.stderr
    with pytest.raises(InputError, match=r"does not exclude 'model\.bom\.sig'"):
        attest_bom(model_dir, KeySigner.from_file(pair.private), "cyclonedx")
    assert not (model_dir / "model.bom.sig").exists()
    beside, _ = attest_bom(
        model_dir, KeySigner.from_file(pair.private), "cyclonedx", attestation=model_dir.parent / "b.sig"
    )
    assert Path(beside).is_file()
    assert verify(model_dir, KeyVerifier.from_file(pair.public)).files_verified == 5
