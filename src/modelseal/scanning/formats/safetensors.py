"""safetensors: safe by design, so check that the file really is what it claims.

The header must be bounded, UTF-8 JSON, and describe tensors whose dtype x shape equals their byte span, inside
the file, without overlaps or gaps; bytes outside the described tensors are scanned by content. Metadata is
never executed by safetensors, but code or links in it are reported for whoever displays or uses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any

from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.formats.hydra import check_targets
from modelseal.scanning.network import find_network_indicators
from modelseal.scanning.policy import DEFAULT_POLICY, ScanPolicy
from modelseal.scanning.secrets import find_secrets

if TYPE_CHECKING:
    from modelseal.scanning.context import ScanContext

MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
MAX_DIMS = 64
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
_CODE = re.compile(
    r"\b(import\s+(os|sys|subprocess|socket|base64|shutil|pty|ctypes|importlib|requests|urllib)\b|from\s+[\w.]+\s+"
    r"import\s|exec\s*\(|eval\s*\(|os\.system|subprocess\.|__import__|b64decode\s*\()|<script",
    re.IGNORECASE,
)
_SHELL = re.compile(r"(rm\s+-rf|\bwget\s|\bcurl\s|chmod\s+[0-7]{3}|\|\s*(ba)?sh\b)", re.IGNORECASE)
_URL = re.compile(r"https?://", re.IGNORECASE)


@dataclass(frozen=True)
class Span:
    name: str
    begin: int
    end: int


class SafetensorsError(Exception):
    """The header is not a valid safetensors header."""


def _tensor_span(name: str, info: Any, data_size: int) -> Span:
    if not isinstance(info, dict):
        raise SafetensorsError(f"tensor {name!r} is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPE_BITS:
        raise SafetensorsError(f"tensor {name!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise SafetensorsError(f"tensor {name!r} has an invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in offsets)
    ):
        raise SafetensorsError(f"tensor {name!r} has invalid data_offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise SafetensorsError(f"tensor {name!r} spans [{begin}, {end}) outside the {data_size:,}-byte data area")
    if len(shape) > MAX_DIMS:
        raise SafetensorsError(f"tensor {name!r} has {len(shape)} dimensions")
    count = 1
    for n in shape:  # stop as soon as the tensor outgrows the file: hostile shapes are huge integers
        count *= n
        if count * DTYPE_BITS[dtype] > 8 * data_size:
            break
    bits = count * DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != end - begin:
        raise SafetensorsError(f"tensor {name!r}: {dtype} x {shape} needs {bits / 8:g} bytes, spans {end - begin}")
    return Span(name, begin, end)


def _metadata_findings(metadata: Any, policy: ScanPolicy) -> list[Finding]:
    if metadata is None:
        return []
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        return [Finding("SAFETENSORS-METADATA-TYPE", Severity.LOW, "__metadata__ is not a string-to-string map")]
    findings = []
    for key, value in metadata.items():
        findings.extend(find_secrets(value, f"metadata {key!r}"))
        findings.extend(find_network_indicators(value, f"metadata {key!r}"))
        findings.extend(_config_targets(key, value, policy))
        if _CODE.search(value) or _SHELL.search(value):
            findings.append(
                Finding(
                    "SAFETENSORS-METADATA-CODE",
                    Severity.MEDIUM,
                    f"metadata {key!r} holds code or shell commands (never run by safetensors; "
                    f"dangerous if a tool evaluates or displays it): {value[:120]!r}",
                )
            )
        elif _URL.search(value):
            findings.append(
                Finding("SAFETENSORS-METADATA-URL", Severity.LOW, f"metadata {key!r} holds a link: {value[:120]!r}")
            )
    return findings


def _config_targets(key: str, value: str, policy: ScanPolicy) -> list[Finding]:
    """A metadata value holding a JSON config (training frameworks store theirs there) is judged like any config
    a framework instantiates: its `_target_`s."""
    if not value.lstrip().startswith(("{", "[")):
        return []
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return []
    findings = check_targets(document, policy)
    return [replace(f, message=f"metadata {key!r}: {f.message}") for f in findings]


def check(
    handle: IO[bytes], size: int, scan_region: Callable[[int, int, str], None], policy: ScanPolicy = DEFAULT_POLICY
) -> list[Finding]:
    """Validate the header and layout; regions no tensor describes are handed to `scan_region`."""
    handle.seek(0)
    prefix = handle.read(8)
    length = int.from_bytes(prefix, "little")
    if len(prefix) < 8 or length > MAX_HEADER or 8 + length > size:
        raise SafetensorsError(f"header length {length:,} does not fit the {size:,}-byte file")
    try:
        header = json.loads(handle.read(length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafetensorsError(f"header is not UTF-8 JSON ({exc})") from exc
    except RecursionError as exc:
        raise SafetensorsError("header nests deeper than JSON parsers follow") from exc
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    data_start, data_size = 8 + length, size - 8 - length
    findings = _metadata_findings(header.get("__metadata__"), policy)
    spans = sorted(
        (_tensor_span(name, info, data_size) for name, info in header.items() if name != "__metadata__"),
        key=lambda s: (s.begin, s.end),
    )
    position = 0
    for span in spans:
        if span.begin < position:
            findings.append(
                Finding("SAFETENSORS-OVERLAP", Severity.MEDIUM, f"tensor {span.name!r} overlaps the tensor before it")
            )
        elif span.begin > position:
            findings.append(
                Finding(
                    "SAFETENSORS-GAP",
                    Severity.LOW,
                    f"{span.begin - position:,} bytes before tensor {span.name!r} belong to no tensor "
                    "(scanned by content)",
                )
            )
            scan_region(data_start + position, span.begin - position, f"<gap before {span.name}>")
        position = max(position, span.end)
    if position < data_size:
        findings.append(
            Finding(
                "SAFETENSORS-TRAILING-DATA",
                Severity.LOW,
                f"{data_size - position:,} bytes after the last tensor (scanned by content)",
            )
        )
        scan_region(data_start + position, data_size - position, "<trailing data>")
    return findings


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    from modelseal.scanning.context import join
    from modelseal.scanning.streams import window

    def scan_region(start: int, length: int, label: str) -> None:
        with window(stream, start, length) as region:
            ctx.scan(region, length, join(member, label), depth + 1)

    try:
        ctx.add_all(member, check(stream, size, scan_region, ctx.policy))
    except SafetensorsError as exc:
        ctx.add(
            member,
            Finding("SAFETENSORS-INVALID", Severity.MEDIUM, f"not a valid safetensors file: {exc} (loaders refuse it)"),
        )
        ctx.gap(member, f"invalid safetensors header ({exc})")
    return "safetensors"
