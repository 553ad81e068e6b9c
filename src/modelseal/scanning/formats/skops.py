"""skops archives (`schema.json` + arrays): every node names the type or function skops would construct or call.
Judge those names with the pickle policy: denied ones are CRITICAL, types outside the allowlist are what skops
itself asks the user to trust."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.policy import ScanPolicy, Verdict

CALLING_LOADERS = frozenset({"FunctionNode", "MethodNode", "OperatorFuncNode", "PartialNode"})


def is_schema(document: Any) -> bool:
    return isinstance(document, dict) and "__loader__" in document and "__module__" in document


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("__module__"), str):
            yield value
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)


def check_schema(schema: Any, policy: ScanPolicy) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for node in _nodes(schema):
        loader = node.get("__loader__")
        name = node.get("__class__")
        if loader == "FunctionNode" and isinstance(node.get("content"), dict):
            name = node["content"].get("function", name)  # the function a FunctionNode resolves
        target = f"{node['__module__']}.{name}"
        if target in seen:
            continue
        seen.add(target)
        verdict = policy.verdict(target)
        if verdict is Verdict.DENIED:
            findings.append(
                Finding(
                    "SKOPS-DANGEROUS-TYPE",
                    Severity.CRITICAL,
                    f"{loader} for {target}, which runs commands or code when skops loads it",
                    target=target,
                )
            )
        elif verdict is Verdict.UNKNOWN:
            severity = Severity.HIGH if loader in CALLING_LOADERS else Severity.MEDIUM
            findings.append(
                Finding(
                    "SKOPS-UNTRUSTED-TYPE",
                    severity,
                    f"{loader} for {target}, outside the allowlist (skops loads it only if the user trusts it)",
                    target=target,
                )
            )
    return findings
