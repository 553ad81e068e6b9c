from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from modelseal.errors import BundleFormatError, InputError
from modelseal.oms.bundle import Bundle, legacy_pae, pae, parse_bundle, write_atomically


def test_pae_is_the_dsse_encoding() -> None:
    assert pae(b"{}") == b"DSSEv1 28 application/vnd.in-toto+json 2 {}"


def test_legacy_pae_reproduces_model_signing_v02() -> None:
    assert legacy_pae(b"{}") == b"DSSEV1 28 application/vnd.in-toto+json 2 b'{}'"


def bundle_document(**envelope: object) -> dict[str, object]:
    dsse = {
        "payload": base64.b64encode(b"{}").decode(),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"sig": base64.b64encode(b"sig").decode(), "keyid": ""}],
    }
    dsse.update(envelope)
    return {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "ab"}, "tlogEntries": []},
        "dsseEnvelope": dsse,
    }


def test_round_trip() -> None:
    bundle = parse_bundle(json.dumps(bundle_document()).encode())
    assert bundle.method == "key" and bundle.payload == b"{}" and bundle.signature == b"sig"
    assert parse_bundle(bundle.to_json()) == bundle


@pytest.mark.parametrize("keyid", [None, ""])
def test_accepts_empty_or_null_keyid(keyid: object) -> None:
    document = bundle_document(signatures=[{"sig": base64.b64encode(b"s").decode(), "keyid": keyid}])
    assert parse_bundle(json.dumps(document).encode()).signature == b"s"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"", "empty"),
        (b"[]", "not a JSON object"),
        (json.dumps({**bundle_document(), "mediaType": "text/plain"}).encode(), "mediaType"),
        (json.dumps(bundle_document(payloadType="text/plain")).encode(), "payloadType"),
        (json.dumps(bundle_document(signatures=[])).encode(), "exactly one signature"),
        (json.dumps(bundle_document(payload="***")).encode(), "base64"),
    ],
)
def test_rejects_malformed_bundles(document: bytes, reason: str) -> None:
    with pytest.raises(BundleFormatError, match=reason):
        parse_bundle(document)


def test_atomic_write_leaves_old_signature_when_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "model.sig"
    target.write_bytes(b"old signature")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, b"new signature that never lands")
    assert target.read_bytes() == b"old signature"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.sig"]


def test_atomic_write_reports_unwritable_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot write signature"):
        write_atomically(tmp_path / "missing-dir" / "model.sig", b"x")


def test_bundle_json_is_stable() -> None:
    bundle = Bundle(
        "key", {"publicKey": {"hint": "ab"}, "tlogEntries": []}, b"{}", "application/vnd.in-toto+json", b"s"
    )
    assert bundle.to_json() == bundle.to_json()
