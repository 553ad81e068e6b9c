from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from modelseal.errors import BundleFormatError
from modelseal.oms.manifest import Manifest, Resource, Serialization, parse_shard_name, root_digest
from modelseal.oms.statement import PREDICATE_TYPE, build_statement, canonical_json, parse_statement

D1, D2 = hashlib.sha256(b"1").hexdigest(), hashlib.sha256(b"2").hexdigest()


def statement(resources: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    parsed = tuple(Resource(r["name"], r["algorithm"], r["digest"].lower()) for r in resources)
    document: dict[str, Any] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "m", "digest": {"sha256": root_digest(parsed)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False, "ignore_paths": []},
            "resources": resources,
        },
    }
    document.update(overrides)
    return document


def good() -> list[dict[str, Any]]:
    return [{"name": "a", "algorithm": "sha256", "digest": D1}, {"name": "b/c", "algorithm": "sha256", "digest": D2}]


def test_build_is_canonical_and_round_trips() -> None:
    manifest = Manifest("m", Serialization(ignore_paths=(".git",)), (Resource("a", "sha256", D1),))
    payload = build_statement(manifest)
    assert payload == build_statement(manifest)
    assert payload == canonical_json(json.loads(payload))
    assert b" " not in payload
    parsed = parse_statement(payload)
    assert parsed.resources == manifest.resources
    assert parsed.serialization.ignore_paths == (".git",)
    assert json.loads(payload)["subject"][0]["digest"]["sha256"] == hashlib.sha256(bytes.fromhex(D1)).hexdigest()


def test_root_digest_is_over_listed_order() -> None:
    a, b = Resource("a", "sha256", D1), Resource("b", "sha256", D2)
    assert root_digest((a, b)) == hashlib.sha256(bytes.fromhex(D1) + bytes.fromhex(D2)).hexdigest()
    assert root_digest((a, b)) != root_digest((b, a))


def test_any_listed_order_is_accepted() -> None:
    parsed = parse_statement(canonical_json(statement(list(reversed(good())))))
    assert [r.name for r in parsed.resources] == ["b/c", "a"]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s.update(_type="https://in-toto.io/Statement/v0.1"), "_type"),
        (lambda s: s.update(predicateType="https://example.com/wrong-predicate/v1.0"), "predicateType"),
        (lambda s: s.update(predicateType="https://model_signing/signature/v2.0"), "predicateType"),
        (lambda s: s["subject"].append(s["subject"][0]), "exactly one subject"),
        (lambda s: s["subject"][0]["digest"].update(sha256="00" * 32), "subject digest does not match"),
        (lambda s: s["predicate"]["resources"].clear(), "no files"),
        (lambda s: s["predicate"]["serialization"].update(hash_type="md5"), "hash type"),
        (lambda s: s["predicate"]["serialization"].update(allow_symlinks="yes"), "boolean"),
        (lambda s: s["predicate"]["resources"][0].update(algorithm="blake3"), "does not match hash_type"),
        (lambda s: s["predicate"]["resources"][0].update(digest="zz" * 32), "hex digest"),
        (lambda s: s["predicate"]["resources"][0].update(digest="ab"), "hex digest"),
        (lambda s: s["predicate"].pop("serialization"), "serialization"),
    ],
)
def test_malformed_statements_are_rejected_with_a_reason(mutate: Any, reason: str) -> None:
    document = statement(good())
    mutate(document)
    with pytest.raises(BundleFormatError, match=reason):
        parse_statement(canonical_json(document))


@pytest.mark.parametrize(
    ("name", "reason"),
    [("../outside", "'..'"), ("/etc/passwd", "absolute"), ("a/\udcff", "UTF-8"), ("a/./b", "'.'")],
)
def test_unsafe_resource_names_are_rejected(name: str, reason: str) -> None:
    resources = [{"name": name, "algorithm": "sha256", "digest": D1}]
    payload = json.dumps(statement(resources)).encode()  # json escapes the lone surrogate as \\udcff
    with pytest.raises(BundleFormatError, match=reason):
        parse_statement(payload)


def test_duplicate_names_are_rejected() -> None:
    resources = [{"name": "a", "algorithm": "sha256", "digest": D1}, {"name": "a", "algorithm": "sha256", "digest": D2}]
    with pytest.raises(BundleFormatError, match="twice"):
        parse_statement(canonical_json(statement(resources)))


def test_payload_that_is_not_json_is_rejected() -> None:
    with pytest.raises(BundleFormatError, match="JSON"):
        parse_statement(b"\xff\xfe not json")


def test_reference_shard_spellings_are_accepted() -> None:
    """model-signing writes `sha256-sharded-<N>` and a float shard size."""
    resources = [{"name": "w.bin:0:10", "algorithm": "sha256-sharded-8192", "digest": D1}]
    document = statement(resources)
    document["predicate"]["serialization"].update(method="shards", shard_size=8192.0)
    parsed = parse_statement(canonical_json(document))
    assert parsed.serialization.shard_size == 8192


def test_bad_shard_names_are_rejected() -> None:
    document = statement([{"name": "w.bin:10:5", "algorithm": "sha256", "digest": D1}])
    document["predicate"]["serialization"].update(method="shards", shard_size=8192)
    with pytest.raises(BundleFormatError, match="shard name"):
        parse_statement(canonical_json(document))


def test_shard_names_split_on_the_last_two_colons() -> None:
    assert parse_shard_name("dir/a:b.bin:0:100") == ("dir/a:b.bin", 0, 100)
    assert parse_shard_name("a.bin:x:1") is None


def test_legacy_v02_statement_lists_subjects_as_files() -> None:
    legacy = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "f1", "digest": {"sha256": D1}}, {"name": "f2", "digest": {"sha256": D2}}],
        "predicateType": "https://model_signing/Digests/v0.1",
        "predicate": {"unused": "x"},
    }
    parsed = parse_statement(canonical_json(legacy))
    assert parsed.digests_by_name() == {"f1": D1, "f2": D2}


@pytest.mark.parametrize(
    "names",
    [
        ["a", "b/c"],
        ['quote"d', "back\\\\slash", "tab\tnew\nline", "ünïcode/名前", "emoji/🙂", "ctl\x01\x1f", "colon:name"],
        ['"resources":[]', "x"],
    ],
)
def test_fast_statement_writer_equals_generic_canonical_json(names: list[str]) -> None:
    resources = tuple(Resource(n, "sha256", hashlib.sha256(n.encode()).hexdigest()) for n in sorted(names))
    serialization = Serialization(ignore_paths=('"resources":[]', "model.sig"))
    manifest = Manifest('model "resources":[]', serialization, resources)
    payload = build_statement(manifest)
    assert payload == canonical_json(json.loads(payload))
    assert [r["name"] for r in json.loads(payload)["predicate"]["resources"]] == sorted(names)
