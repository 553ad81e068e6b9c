"""`attest scan`, `check` and `inspect`: one decision from the signature, the signer and the scan, with a signed
scan attestation standing in for a new scan only when it is trusted and names exactly these bytes."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from modelseal import KeySigner, sign
from modelseal.attest.attest import attest_scan
from modelseal.attest.check import CheckReport, CheckStep, Outcome, check
from modelseal.oms.bundle import read_bundle
from tests.conftest import REPO, KeyPair, Pki
from tests.integration.test_cli import modelseal
from tests.scanning.pickles import system

ATTESTATION_SCHEMA = json.loads((REPO / "docs" / "scan-attestation.schema.json").read_text())


def step(report: CheckReport, name: str) -> CheckStep:
    return next(s for s in report.steps if s.name == name)


def write_policy(directory: Path, keys: dict[str, Path], scan: str = "") -> Path:
    signers = "".join(f'[[signers]]\nname = "{n}"\nmethod = "key"\npublic-key = "{k}"\n' for n, k in keys.items())
    path = directory / "trust.toml"
    path.write_text(f"version = 1\n{signers}{scan}")
    return path


@pytest.fixture
def signed(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> tuple[Path, KeyPair, Path]:
    """A signed model, its key pair, and a policy trusting that key as 'release'."""
    pair = make_key_pair()
    sign(model_dir, KeySigner.from_file(pair.private))
    return model_dir, pair, write_policy(model_dir.parent, {"release": pair.public})


def test_unsigned_model_fails(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    policy = write_policy(model_dir.parent, {"release": make_key_pair().public})
    result = modelseal("check", model_dir, "--policy", policy)
    assert result.returncode == 1
    assert "the model is not signed" in result.stdout and "FAILED: do not load this model" in result.stdout


def test_signed_clean_model_passes_by_scanning_now(signed: tuple[Path, KeyPair, Path]) -> None:
    model, _, policy = signed
    result = modelseal("check", model, "--policy", policy, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "passed" and report["scan_source"] == "scan"
    steps = {s["name"]: s["outcome"] for s in report["steps"]}
    assert steps == {
        "signature": "passed",
        "unsigned": "passed",
        "metadata": "skipped",
        "bom": "skipped",
        "licenses": "skipped",
        "attestation": "skipped",
        "scan": "passed",
        "secrets": "passed",
    }
    assert report["signer"]["policy_signer"] == "release"


def test_trusted_attestation_stands_in_for_the_scan(signed: tuple[Path, KeyPair, Path]) -> None:
    model, pair, policy = signed
    made = modelseal("attest", "scan", model, "--private-key", pair.private)
    assert made.returncode == 0, made.stderr
    statement = json.loads(read_bundle(model / "model.scan.sig").payload)
    jsonschema.validate(statement, ATTESTATION_SCHEMA)
    report = check(model, policy)
    assert report.verdict is Outcome.PASSED and report.scan_source == "attestation"
    assert report.root_digest == statement["subject"][0]["digest"]["sha256"]
    # the attestation is not part of the model: the signature still verifies, here and in the reference tool
    assert modelseal("verify", "key", model, "--public-key", pair.public).returncode == 0


def test_malicious_file_fails_the_check_with_its_payload(
    model_dir: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    (model_dir / "extra.pkl").write_bytes(system("touch /tmp/never"))
    pair = make_key_pair()
    sign(model_dir, KeySigner.from_file(pair.private))
    policy = write_policy(model_dir.parent, {"release": pair.public})
    scanned = modelseal("check", model_dir, "--policy", policy)
    assert scanned.returncode == 1 and "extra.pkl: CRITICAL" in scanned.stdout and "touch /tmp/never" in scanned.stdout
    attest_scan(model_dir, KeySigner.from_file(pair.private))
    attested = check(model_dir, policy)
    assert attested.verdict is Outcome.FAILED and attested.scan_source == "attestation"


def test_attestation_by_an_untrusted_key_fails(
    signed: tuple[Path, KeyPair, Path], make_key_pair: Callable[..., KeyPair]
) -> None:
    model, _, policy = signed
    attest_scan(model, KeySigner.from_file(make_key_pair().private))
    report = check(model, policy)
    assert report.verdict is Outcome.FAILED
    assert (
        step(report, "attestation").outcome is Outcome.FAILED
        and "is not trusted" in step(report, "attestation").summary
    )


def test_attester_must_be_named_when_the_policy_says_so(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    release, ci = make_key_pair(), make_key_pair()
    sign(model_dir, KeySigner.from_file(release.private))
    policy = write_policy(
        model_dir.parent, {"release": release.public, "ci": ci.public}, '[scan]\nattesters = ["ci"]\n'
    )
    attest_scan(model_dir, KeySigner.from_file(release.private))
    assert step(check(model_dir, policy), "attestation").outcome is Outcome.FAILED
    attest_scan(model_dir, KeySigner.from_file(ci.private))
    report = check(model_dir, policy)
    assert report.verdict is Outcome.PASSED and report.attester is not None
    assert report.attester.details["policy_signer"] == "ci"


def test_tampered_attestation_fails(signed: tuple[Path, KeyPair, Path]) -> None:
    """Rewriting the signed statement (here: the scanner version) breaks the attestation's signature."""
    model, pair, policy = signed
    attest_scan(model, KeySigner.from_file(pair.private))
    path = model / "model.scan.sig"
    bundle = json.loads(path.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["scanner"]["version"] = "9.9.9"
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(bundle))
    report = check(model, policy)
    assert report.verdict is Outcome.FAILED and "does not verify" in " ".join(step(report, "attestation").details)


def test_stale_attestation_is_not_used(signed: tuple[Path, KeyPair, Path]) -> None:
    model, pair, policy = signed
    attest_scan(model, KeySigner.from_file(pair.private))
    (model / "config.json").write_text('{"hidden": 16}')
    sign(model, KeySigner.from_file(pair.private))
    report = check(model, policy)
    assert report.verdict is Outcome.PASSED and report.scan_source == "scan"
    assert "made for other bytes" in step(report, "attestation").summary


def test_attestation_under_another_scan_policy_is_not_used(signed: tuple[Path, KeyPair, Path]) -> None:
    model, pair, policy = signed
    lenient = model.parent / "lenient.toml"
    lenient.write_text('[allow]\nexact = ["os.system"]\n')
    attest_scan(model, KeySigner.from_file(pair.private), policy=lenient)
    report = check(model, policy)
    assert report.scan_source == "scan" and "another scan policy" in step(report, "attestation").summary


def test_attestation_from_an_older_scanner_is_not_used(signed: tuple[Path, KeyPair, Path]) -> None:
    """A newer modelseal may detect what an older one missed: its own scan wins over an older attestation."""
    import dataclasses

    from modelseal.attest.predicate import build_scan_statement, parse_scan_statement
    from modelseal.oms.bundle import write_atomically

    model, pair, policy = signed
    current = attest_scan(model, KeySigner.from_file(pair.private)).attestation
    older = dataclasses.replace(current, scanner_version="0.0.9")
    bundle = KeySigner.from_file(pair.private).sign(build_scan_statement(older))
    write_atomically(model / "model.scan.sig", bundle.to_json())
    assert parse_scan_statement(read_bundle(model / "model.scan.sig").payload).scanner_version == "0.0.9"
    report = check(model, policy)
    assert report.scan_source == "scan" and "older than this" in step(report, "attestation").summary


def test_attestation_follows_the_signature_serialization(
    model_dir: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair = make_key_pair()
    signed = sign(model_dir, KeySigner.from_file(pair.private), hash_type="blake3", shard_size=65536)
    made = attest_scan(model_dir, KeySigner.from_file(pair.private))
    assert made.attestation.root_digest == signed.manifest.root_digest()
    assert check(model_dir, write_policy(model_dir.parent, {"k": pair.public})).scan_source == "attestation"


def test_single_file_model(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00" * 4096)
    pair = make_key_pair()
    sign(weights, KeySigner.from_file(pair.private))
    made = attest_scan(weights, KeySigner.from_file(pair.private))
    assert made.path == tmp_path / "weights.bin.scan.sig"
    assert check(weights, write_policy(tmp_path, {"k": pair.public})).scan_source == "attestation"


def test_certificate_attestation(model_dir: Path, pki: Pki) -> None:
    args = [
        "--private-key",
        pki.leaf_key,
        "--signing-certificate",
        pki.leaf_cert,
        "--certificate-chain",
        pki.intermediate,
    ]
    assert modelseal("sign", "certificate", model_dir, *args).returncode == 0
    assert modelseal("attest", "scan", model_dir, *args).returncode == 0
    policy = model_dir.parent / "trust.toml"
    policy.write_text(f'version = 1\n[[signers]]\nmethod = "certificate"\ncertificate-chain = ["{pki.root}"]\n')
    assert check(model_dir, policy).scan_source == "attestation"


def test_attest_needs_exactly_one_signer(model_dir: Path) -> None:
    result = modelseal("attest", "scan", model_dir)
    assert (
        result.returncode == 2
        and "exactly one of --private-key, --pkcs11-uri, --kms-uri, --signer-command and --sigstore" in result.stderr
    )


def test_inspect_shows_both_documents(signed: tuple[Path, KeyPair, Path]) -> None:
    model, pair, _ = signed
    (model / "evil.pkl").write_bytes(system("touch /tmp/never"))
    sign(model, KeySigner.from_file(pair.private))
    attest_scan(model, KeySigner.from_file(pair.private))
    text = modelseal("inspect", model / "model.scan.sig")
    assert text.returncode == 0 and "scan attestation (not verified)" in text.stdout
    assert "evil.pkl (pickle)" in text.stdout and "touch /tmp/never" in text.stdout
    described = json.loads(modelseal("inspect", model / "model.sig", "--json").stdout)
    assert described["statement"]["kind"] == "model signature" and described["verified"] is False
    assert described["statement"]["resources"] == 6
    assert described["signer"]["method"] == "key"


def test_inspect_sigstore_fixture_shows_identity_and_log() -> None:
    from tests.conftest import MT

    described = json.loads(modelseal("inspect", MT / "v1.1.0-sigstore" / "model.sig", "--json").stdout)
    assert described["signer"]["identity"] == "stefanb@us.ibm.com"
    assert described["signer"]["transparency_log"][0]["integrated_time"].startswith("20")


def test_metadata_documents_are_bound_shown_and_checked(
    model_dir: Path, tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    card, evaluation = tmp_path / "card.md", tmp_path / "eval.json"
    card.write_text("# Model card\nIntended use: testing.\n")
    evaluation.write_text('{"accuracy": 0.93}')
    pair = make_key_pair()
    signed = modelseal(
        "sign", "key", model_dir, "--private-key", pair.private, "--metadata", card, "--metadata", evaluation
    )
    assert signed.returncode == 0 and "metadata bound" in signed.stdout, signed.stderr
    assert modelseal("verify", "key", model_dir, "--public-key", pair.public).returncode == 0  # not part of the model
    shown = json.loads(modelseal("inspect", model_dir / "model.meta.sig", "--json").stdout)
    assert shown["statement"]["kind"] == "metadata attestation" and len(shown["statement"]["files"]) == 2
    policy = write_policy(tmp_path, {"release": pair.public})
    metadata = step(check(model_dir, policy), "metadata")
    assert metadata.outcome is Outcome.PASSED and "card.md (text/markdown" in metadata.details[0]
    # a document swapped in the attestation breaks its signature: the check fails
    path = model_dir / "model.meta.sig"
    bundle = json.loads(path.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["documents"][1]["content"] = base64.b64encode(b'{"accuracy": 0.99}').decode()
    statement["predicate"]["documents"][1]["digest"]["sha256"] = hashlib.sha256(b'{"accuracy": 0.99}').hexdigest()
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(bundle))
    report = check(model_dir, policy)
    assert report.verdict is Outcome.FAILED and step(report, "metadata").outcome is Outcome.FAILED


def test_missing_metadata_document_fails_before_hashing(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    result = modelseal("sign", "key", model_dir, "--private-key", make_key_pair().private, "--metadata", "nope.md")
    assert result.returncode == 2 and not (model_dir / "model.sig").exists()


def test_json_report_follows_its_published_schema(signed: tuple[Path, KeyPair, Path]) -> None:
    from referencing import Registry, Resource

    model, pair, policy = signed
    schemas = {
        name: json.loads((REPO / "docs" / f"{name}.schema.json").read_text())
        for name in ("check-report", "scan-report")
    }
    registry = Registry().with_resource("modelseal-scan-report-v1", Resource.from_contents(schemas["scan-report"]))
    validator = jsonschema.Draft202012Validator(schemas["check-report"], registry=registry)
    attest_scan(model, KeySigner.from_file(pair.private))
    (model / "evil.pkl").write_bytes(system("touch /tmp/never"))  # unsigned now: the signature step fails
    failed = json.loads(modelseal("check", model, "--policy", policy, "--format", "json").stdout)
    validator.validate(failed)
    assert failed["verdict"] == "failed" and failed["root_digest"] is None and failed["scan"] is None
    (model / "evil.pkl").unlink()
    document = json.loads(modelseal("check", model, "--policy", policy, "--format", "json").stdout)
    validator.validate(document)
    assert document["verdict"] == "passed" and document["scan_source"] == "attestation"
    assert document["scan"]["schema_version"] == 1
