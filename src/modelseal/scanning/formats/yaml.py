"""YAML configs: PyYAML's python tags (`!!python/object/apply:os.system` runs under `yaml.load` with an unsafe
loader) and Hydra/OmegaConf `_target_` calls. Parsed with PyYAML's safe machinery: nothing is constructed but
plain data, and unknown tags are read as plain data too so the rest of the document is still judged."""

from __future__ import annotations

import re
from typing import IO, Any

from modelseal.scanning.context import MAX_TEXT_BYTES, ScanContext
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.formats.hydra import check_targets
from modelseal.scanning.network import find_network_indicators
from modelseal.scanning.secrets import find_secrets

_PYTHON_TAG = re.compile(r"(?:!!python/|tag:yaml\.org,2002:python/)([\w/]+)(?::([\w.]+))?")


def _load(text: str) -> Any:
    import yaml  # lazy: only YAML files pay for it

    class _PlainLoader(yaml.SafeLoader):  # type: ignore[misc]
        """SafeLoader that reads every unknown tag as the plain value it tags."""

    def plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    _PlainLoader.add_multi_constructor("", plain)
    return yaml.load(text, Loader=_PlainLoader)


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    import yaml

    if size > MAX_TEXT_BYTES:
        ctx.gap(member, f"YAML larger than {MAX_TEXT_BYTES:,} bytes: not read")
        return "yaml"
    text = stream.read().decode("utf-8", "replace")
    ctx.add_all(member, find_secrets(text, "config"))
    ctx.add_all(member, find_network_indicators(text, "config"))
    for match in _PYTHON_TAG.finditer(text):
        kind, target = match.group(1), match.group(2)
        ctx.add(
            member,
            Finding(
                "YAML-PYTHON-TAG",
                Severity.CRITICAL,
                f"PyYAML python tag `{match.group(0)}`: yaml.load with an unsafe loader "
                f"{'calls' if 'apply' in kind or 'new' in kind else 'constructs'} it",
                target=target,
            ),
        )
    try:
        document = _load(text)
    except yaml.YAMLError as exc:
        if not member and not ctx.findings:
            ctx.data_only = True  # not YAML: no loader reads it as a config
        ctx.note(member or "file", f"not valid YAML ({type(exc).__name__})")
        return "yaml"
    except RecursionError:
        ctx.gap(member, "YAML nested deeper than the parser follows (bound)")
        return "yaml"
    ctx.add_all(member, check_targets(document, ctx.policy))
    return "yaml"
