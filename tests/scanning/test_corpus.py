"""The peers' own samples (labels.json): every malicious one HIGH or CRITICAL, every benign one below HIGH."""

from __future__ import annotations

import json

import pytest

from modelseal.scanning.findings import Severity
from modelseal.scanning.scanner import scan_file
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "peer-corpora"
LABELS = [entry for entry in json.loads((CORPUS / "labels.json").read_text()) if entry["format"] == "pickle-family"]


def test_the_corpus_is_there() -> None:
    assert sum(1 for e in LABELS if e["label"] == "malicious") >= 100
    assert sum(1 for e in LABELS if e["label"] == "benign") >= 20


@pytest.mark.parametrize("entry", LABELS, ids=[e["path"] for e in LABELS])
def test_peer_sample_verdict_matches_its_label(entry: dict[str, str]) -> None:
    result = scan_file(CORPUS / entry["path"])
    worst = result.worst
    if entry["label"] == "malicious":
        assert worst is not None and worst >= Severity.HIGH, result
    else:
        assert worst is None or worst < Severity.HIGH, result


def test_malicious_findings_name_the_callable_and_payload() -> None:
    result = scan_file(CORPUS / "picklescan-data2" / "GHSA-vvpj-8cmc-gx39.pkl")
    finding = next(f for f in result.findings if f.severity is Severity.CRITICAL)
    assert finding.target == "pkgutil.resolve_name"
    assert finding.payload == "pkgutil.resolve_name('os:system')"


def test_archive_members_are_located() -> None:
    result = scan_file(CORPUS / "picklescan-data" / "malicious1_0x1.zip")
    assert any(f.member == "model/config.pkl" and f.severity is Severity.CRITICAL for f in result.findings)


def test_an_encrypted_archive_is_not_called_clean() -> None:
    assert scan_file(CORPUS / "picklescan-data" / "benign_password_protected.zip").status.value == "incomplete"


def test_bytes_the_unpickler_rejects_before_any_import_are_data() -> None:
    """`cmod\\n\\xf8\\n`: GLOBAL's name is not UTF-8, so pickle.load raises before importing anything."""
    result = scan_file(CORPUS / "picklescan-data" / "not_a_pickle.bin")
    assert result.status.value == "unsupported" and not result.findings


def test_library_entry_point() -> None:
    import modelseal

    results = modelseal.scan(
        CORPUS / "picklescan-data" / "malicious1_0x1.zip", CORPUS / "picklescan-data" / "benign0_v4.pkl"
    )
    assert [r.worst for r in results] == [modelseal.Severity.CRITICAL, None]
