"""Configs that frameworks turn into calls: Hydra/OmegaConf `instantiate` imports and calls every `_target_`
(NeMo's `model_config.yaml`, Lightning, any YAML or JSON config shipped with a model; CVE-2025-23304). The target
is judged by the same import policy as a pickled global."""

from __future__ import annotations

from typing import Any

from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.pickle.names import reachable_names
from modelseal.scanning.policy import ScanPolicy, Verdict

MAX_NODES = 1_000_000


def check_targets(document: Any, policy: ScanPolicy) -> list[Finding]:
    """Every `_target_` in a parsed config, walked iteratively (shared YAML anchors are visited once)."""
    findings: list[Finding] = []
    stack: list[tuple[Any, str]] = [(document, "")]
    seen: set[int] = set()
    while stack and len(seen) < MAX_NODES:
        node, where = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            target = node.get("_target_")
            if isinstance(target, str):
                finding = _judge(target, where or "top level", policy)
                if finding is not None:
                    findings.append(finding)
            stack.extend((value, f"{where}.{key}" if where else str(key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, f"{where}[{index}]") for index, value in enumerate(node))
    return findings


def _judge(target: str, where: str, policy: ScanPolicy) -> Finding | None:
    module, _, qualname = target.strip().partition(".")
    names = reachable_names(module, qualname) if qualname else [module]  # `a.b.os.system` reaches os.system
    verdicts = [policy.verdict(name) for name in names]
    dunder = policy.dunder_in(target)
    if Verdict.DENIED in verdicts or dunder:
        return Finding(
            "CONFIG-DANGEROUS-TARGET",
            Severity.CRITICAL,
            f"{where}: `_target_: {target}` is imported and called when the config is instantiated (Hydra/OmegaConf, "
            "NeMo: CVE-2025-23304): it runs commands or code",
            target=target,
            payload=f"{target}(...)",
        )
    if verdicts[0] is Verdict.ALLOWED:
        return None
    return Finding(
        "CONFIG-UNKNOWN-TARGET",
        Severity.MEDIUM,
        f"{where}: `_target_: {target}` is imported and called when the config is instantiated (Hydra/OmegaConf); "
        "it is outside the allowlist",
        target=target,
    )
