"""An SPDX 3.0.1 document with the AI profile, built with spdx-python-model: the model as an `ai_AIPackage`
(domain, declared licence, the root digest as its version), one `software_File` per file verified by the
manifest's digest, and `contains` / `hasDeclaredLicense` relationships. The library's serialiser checks every
property's type and cardinality against the SPDX 3.0.1 model before a byte is written."""

from __future__ import annotations

import datetime
import io
from typing import Any

from modelseal import __version__
from modelseal.bom.cyclonedx import BomError, file_digests
from modelseal.bom.describe import ModelDescription

_HASHES = {"sha256": "sha256", "blake2b": "blake2b512", "blake3": "blake3"}


def _package(spdx: Any, description: ModelDescription, base: str, info: Any, agent: Any) -> Any:
    manifest, facts = description.manifest, description.facts
    package = spdx.ai_AIPackage(spdxId=f"{base}:model", name=facts.name, creationInfo=info)
    package.software_primaryPurpose = spdx.software_SoftwarePurpose.model
    package.software_packageVersion = f"sha256:{manifest.root_digest()}"
    package.software_downloadLocation = "NOASSERTION"
    package.suppliedBy = agent
    package.releaseTime = info.created
    package.builtTime = info.created
    package.ai_autonomyType = spdx.PresenceType.noAssertion
    if facts.task:
        package.ai_domain = [facts.task]
    if facts.copyrights:
        package.software_copyrightText = "\n".join(facts.copyrights)
    details = [f"{k}={v}" for k, v in sorted(facts.metadata.items())]
    if facts.architecture or facts.family:
        details.insert(0, f"architecture={facts.architecture or facts.family}")
    if facts.parameters is not None:
        details.append(f"parameters={facts.parameters}")
    if details:
        package.ai_informationAboutApplication = "; ".join(details)
    return package


def _files(spdx: Any, description: ModelDescription, base: str, info: Any) -> list[Any]:
    manifest = description.manifest
    algorithm = getattr(spdx.HashAlgorithm, _HASHES[manifest.serialization.hash_type])
    digests = file_digests(description)
    files = []
    for index, file in enumerate(description.files):
        item = spdx.software_File(spdxId=f"{base}:file:{index}", name=file.name, creationInfo=info)
        own = digests.get(file.name, [])
        if manifest.serialization.method == "files" and own:
            item.verifiedUsing = [spdx.Hash(algorithm=algorithm, hashValue=own[0])]
        result = description.results.get(file.name)
        if result is not None:
            item.comment = f"modelseal scan: {result.status.value} ({result.format}), {len(result.findings)} finding(s)"
        files.append(item)
    return files


def _relationship(spdx: Any, spdx_id: str, info: Any, source: Any, kind: str, targets: list[Any]) -> Any:
    relationship = spdx.Relationship(spdxId=spdx_id, creationInfo=info, from_=source, to=targets)
    relationship.relationshipType = getattr(spdx.RelationshipType, kind)
    return relationship


def spdx_document(description: ModelDescription) -> bytes:
    from spdx_python_model import v3_0_1 as spdx

    base = f"urn:modelseal:{description.manifest.root_digest()}"
    info = spdx.CreationInfo()
    info.specVersion = "3.0.1"
    info.created = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    agent = spdx.Organization(spdxId=f"{base}:agent", name="modelseal", creationInfo=info)
    tool = spdx.Tool(spdxId=f"{base}:tool", name=f"modelseal {__version__}", creationInfo=info)
    info.createdBy = [agent]
    info.createdUsing = [tool]
    package = _package(spdx, description, base, info, agent)
    files = _files(spdx, description, base, info)
    elements: list[Any] = [package, agent, tool, *files]
    if files:
        elements.append(_relationship(spdx, f"{base}:contains", info, package, "contains", files))
    for index, expression in enumerate(description.facts.licenses):
        licence = spdx.simplelicensing_LicenseExpression(spdxId=f"{base}:license:{index}", creationInfo=info)
        licence.simplelicensing_licenseExpression = expression
        declared = _relationship(spdx, f"{base}:declared:{index}", info, package, "hasDeclaredLicense", [licence])
        elements += [licence, declared]
    document = spdx.SpdxDocument(spdxId=f"{base}:document", creationInfo=info, rootElement=[package])
    document.element = elements
    document.profileConformance = [
        spdx.ProfileIdentifierType.core,
        spdx.ProfileIdentifierType.software,
        spdx.ProfileIdentifierType.ai,
        spdx.ProfileIdentifierType.simpleLicensing,
    ]
    objects = spdx.SHACLObjectSet()
    for element in (document, *elements):
        objects.add(element)
    out = io.BytesIO()
    try:
        spdx.JSONLDSerializer().write(objects, out, indent=2)
    except (ValueError, TypeError) as exc:
        raise BomError(f"the SPDX document does not satisfy the SPDX 3.0.1 model: {exc}") from exc
    return out.getvalue()
