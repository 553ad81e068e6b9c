"""GGUF: read the metadata with the `gguf` package's reader (it maps the file; nothing is loaded or run), check
every chat template with Jinja2's parser, and check that tensor data lies inside the file."""

from __future__ import annotations

from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.formats.templates import check_template


class GGUFError(Exception):
    """The file does not parse as GGUF."""


def check(path: str, size: int) -> list[Finding]:
    import gguf  # lazy: numpy and friends, only for GGUF files

    try:
        reader = gguf.GGUFReader(path)
        fields = list(reader.fields.items())
        tensors = list(reader.tensors)
    except Exception as exc:
        raise GGUFError(f"{type(exc).__name__}: {exc}") from exc
    findings: list[Finding] = []
    for name, field in fields:
        if not field.types or field.types[0] != gguf.GGUFValueType.STRING:
            continue
        try:
            value = field.contents()
        except (UnicodeDecodeError, ValueError, IndexError) as exc:
            findings.append(Finding("GGUF-INVALID-STRING", Severity.MEDIUM, f"metadata {name!r} is unreadable ({exc})"))
            continue
        if isinstance(value, str) and (name.startswith("tokenizer.chat_template") or "{%" in value or "{{" in value):
            findings += check_template(value, name)
    position = 0
    for tensor in sorted(tensors, key=lambda t: int(t.data_offset)):
        start, end = int(tensor.data_offset), int(tensor.data_offset) + int(tensor.n_bytes)
        if end > size:
            raise GGUFError(f"tensor {tensor.name!r} ends at byte {end:,}, beyond the {size:,}-byte file")
        if start < position:
            findings.append(
                Finding("GGUF-OVERLAP", Severity.MEDIUM, f"tensor {tensor.name!r} overlaps the previous one")
            )
        position = max(position, end)
    return findings
