"""A CycloneDX 1.6 ML-BOM, built with cyclonedx-python-lib: the model as a `machine-learning-model` component
with its licences and a `modelCard`, one `file` component per file with the digests of the (signed) OMS manifest
and its scan verdict as properties, and external references to the signature and the scan attestation.

cyclonedx-python-lib 11 has no model card type yet, so the `modelCard` object is added to the library's JSON and
the whole document is validated against the 1.6 schema the library ships, strictly, before it is returned."""

from __future__ import annotations

import json
from typing import Any

from modelseal import __version__
from modelseal.bom.describe import ModelDescription
from modelseal.errors import ModelsealError
from modelseal.oms.manifest import parse_shard_name

_HASH_NAMES = {"sha256": "SHA_256", "blake2b": "BLAKE2B_512", "blake3": "BLAKE3"}
_PREFIX = "modelseal:"


class BomError(ModelsealError):
    """The BOM modelseal built does not validate against its schema: a bug, never written out."""


def file_digests(description: ModelDescription) -> dict[str, list[str]]:
    """Each file's digest(s) in the manifest: one under the files method, one per shard under shards."""
    manifest = description.manifest
    found: dict[str, list[str]] = {}
    for resource in manifest.resources:
        parsed = parse_shard_name(resource.name) if manifest.serialization.method == "shards" else None
        found.setdefault(parsed[0] if parsed else resource.name, []).append(resource.digest)
    return found


def model_card(description: ModelDescription) -> dict[str, Any]:
    """The CycloneDX `modelCard` object, from what the model says about itself."""
    facts = description.facts
    parameters: dict[str, Any] = {}
    if facts.task:
        parameters["task"] = facts.task
    if facts.family:
        parameters["architectureFamily"] = facts.family
    if facts.architecture:
        parameters["modelArchitecture"] = facts.architecture
    if facts.datasets:
        parameters["datasets"] = [{"type": "dataset", "name": name} for name in facts.datasets]
    card: dict[str, Any] = {"modelParameters": parameters} if parameters else {}
    properties = [{"name": f"{_PREFIX}{key}", "value": value} for key, value in sorted(facts.metadata.items())]
    if facts.parameters is not None:
        properties.append({"name": f"{_PREFIX}parameters", "value": str(facts.parameters)})
    properties += [{"name": f"{_PREFIX}language", "value": language} for language in facts.languages]
    properties += [{"name": f"{_PREFIX}base-model", "value": base} for base in facts.base_models]
    if properties:
        card["properties"] = properties
    return card


def cyclonedx_document(description: ModelDescription) -> bytes:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import LicenseExpression
    from cyclonedx.model.tool import Tool
    from cyclonedx.output.json import JsonV1Dot6

    manifest, facts = description.manifest, description.facts
    algorithm = HashAlgorithm[_HASH_NAMES[manifest.serialization.hash_type]]
    references = []
    if description.signature is not None:
        references.append(
            ExternalReference(
                type=ExternalReferenceType.DIGITAL_SIGNATURE,
                url=XsUri(description.signature.name),
                comment="OpenSSF Model Signing v1.0 bundle over the files listed here",
            )
        )
    if description.attestation is not None:
        references.append(
            ExternalReference(
                type=ExternalReferenceType.ATTESTATION,
                url=XsUri(description.attestation.name),
                comment="modelseal scan attestation on the same root digest",
            )
        )
    model = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=facts.name,
        bom_ref="model",
        licenses=[LicenseExpression(value) for value in facts.licenses],
        copyright="\n".join(facts.copyrights) or None,
        external_references=references,
        properties=[
            Property(name=f"{_PREFIX}root-digest", value=f"sha256:{manifest.root_digest()}"),
            Property(
                name=f"{_PREFIX}serialization",
                value=f"{manifest.serialization.method}/{manifest.serialization.hash_type}",
            ),
            Property(name=f"{_PREFIX}signed", value="true" if description.signature else "false"),
            *(Property(name=f"{_PREFIX}license-source", value=source) for source in facts.license_sources),
            *(Property(name=f"{_PREFIX}license-file", value=text.describe()) for text in facts.license_texts),
        ],
    )
    bom = Bom()
    bom.metadata.component = model
    bom.metadata.tools.tools.add(Tool(vendor="modelseal", name="modelseal", version=__version__))
    digests = file_digests(description)
    for file in description.files:
        result = description.results.get(file.name)
        properties = [Property(name=f"{_PREFIX}size", value=str(file.size))]
        if result is not None:
            properties += [
                Property(name=f"{_PREFIX}scan:status", value=result.status.value),
                Property(name=f"{_PREFIX}scan:format", value=result.format),
                *(
                    Property(name=f"{_PREFIX}scan:finding", value=f"{f.severity.name} {f.rule}: {f.message}")
                    for f in result.findings
                ),
            ]
        own = digests.get(file.name, [])
        hashes = [HashType(alg=algorithm, content=own[0])] if manifest.serialization.method == "files" and own else []
        if manifest.serialization.method == "shards":
            properties.append(Property(name=f"{_PREFIX}shard-digests", value=",".join(own)))
        component = Component(
            type=ComponentType.FILE, name=file.name, bom_ref=f"file:{file.name}", hashes=hashes, properties=properties
        )
        bom.components.add(component)
        bom.register_dependency(model, [component])
    document = json.loads(JsonV1Dot6(bom).output_as_string())
    card = model_card(description)
    if card:
        document["metadata"]["component"]["modelCard"] = card
    text = json.dumps(document, indent=2)
    _validate(text)
    return text.encode("utf-8")


def _validate(text: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise BomError(f"the CycloneDX document does not validate against the 1.6 schema: {error}")
