"""JSON documents: Hugging Face configs (remote-code mappings, chat templates) and any config whose `_target_`
a framework would instantiate. Other JSON is data, scanned and clean."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from modelseal.scanning.context import MAX_TEXT_BYTES, ScanContext
from modelseal.scanning.formats import hf
from modelseal.scanning.formats.hydra import check_targets
from modelseal.scanning.formats.templates import check_template
from modelseal.scanning.network import find_network_indicators
from modelseal.scanning.secrets import find_secrets


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    if size > MAX_TEXT_BYTES:
        ctx.note(member or "file", f"JSON larger than {MAX_TEXT_BYTES:,} bytes is treated as data")
        if not member:
            ctx.data_only = True
        return "json"
    try:
        text = stream.read().decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        if not member:
            ctx.data_only = True  # not JSON after all: nothing parses it as a config
        return "json"
    except RecursionError:
        ctx.gap(member, "JSON nested deeper than the parser follows (bound)")
        return "json"
    ctx.add_all(member, check_targets(document, ctx.policy))
    strings = "\n".join(_strings(document))  # as a loader sees them: escapes (\u0041, \/) decoded
    ctx.add_all(member, find_secrets(strings, "config"))
    ctx.add_all(member, find_network_indicators(strings, "config"))
    if hf.is_hf_config(document):
        ctx.add_all(member, hf.check_config(document, lambda: ctx.directory(member)))
    templates = document.get("chat_template") if isinstance(document, dict) else None
    if isinstance(templates, str):
        templates = [{"name": "default", "template": templates}]
    if not isinstance(templates, list):
        return "json (hugging face config)" if hf.is_hf_config(document) else "json"
    for entry in templates:
        if isinstance(entry, dict) and isinstance(entry.get("template"), str):
            ctx.add_all(member, check_template(entry["template"], f"chat_template[{entry.get('name', '?')}]"))
    return "json (chat template)"


def _strings(document: object) -> Iterator[str]:
    """Every key and string value of a parsed JSON document, in document order."""
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for key, value in reversed(node.items()):
                pending += [value, key]
        elif isinstance(node, list):
            pending += reversed(node)
