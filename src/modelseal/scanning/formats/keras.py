"""Keras model configs, wherever Keras keeps them (`.keras` zips' config.json, legacy H5 `model_config`, TF-Keras'
`keras_metadata.pb`): walk the whole tree, nested models
and wrappers included, and flag what runs code: Lambda layers (marshalled bytecode or source), objects from modules
outside Keras (CVE-2025-1550), and the allowed-but-dangerous functions of CVE-2025-8747/9906.

Lambda bytecode is never unmarshalled (marshal is not safe on hostile bytes): its names and constants are read
as the plain strings the format stores them as.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.policy import ScanPolicy, Verdict

if TYPE_CHECKING:
    from modelseal.scanning.context import ScanContext

KERAS_MODULES = ("keras", "tf_keras", "tensorflow")
DANGEROUS_FUNCTIONS = frozenset(
    {
        "enable_unsafe_deserialization",
        "get_file",
        "load_model",
        "load_weights",
        "set_random_seed",
        "keras.config.enable_unsafe_deserialization",
        "keras.utils.get_file",
        "keras.models.load_model",
        "keras.saving.load_model",
    }
)
_RISKY_NAMES = re.compile(r"\b(os|subprocess|system|popen|eval|exec|__import__|open|socket|builtins|compile|getattr)\b")
_SHORT_ASCII = frozenset({0x7A, 0x5A, 0xFA, 0xDA})  # marshal's short ASCII string types, with and without FLAG_REF


def _marshal_strings(raw: bytes) -> list[str]:
    """The short ASCII strings (names, constants) stored in marshalled code, read without unmarshalling it."""
    found = []
    for index, byte in enumerate(raw[:-1]):
        if byte in _SHORT_ASCII:
            text = raw[index + 2 : index + 2 + raw[index + 1]]
            if text and len(text) == raw[index + 1] and text.isascii() and text.decode().isprintable():
                found.append(text.decode())
    return found


def _nodes(value: Any, path: str = "config") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every serialised object in the config, with a readable path to it."""
    if isinstance(value, dict):
        if "class_name" in value:
            yield path, value
        for key, item in value.items():
            yield from _nodes(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, f"{path}[{index}]")


def _lambda_finding(where: str, function: Any) -> Finding:
    if isinstance(function, dict) and isinstance(function.get("config"), dict):
        code = function["config"].get("code", "")
        try:
            raw = base64.b64decode(code) if isinstance(code, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        strings = sorted(set(_marshal_strings(raw)) - {"<lambda>", "<stdin>"})
        shown = ", ".join(strings[:12]) or "none"
        risky = any(_RISKY_NAMES.search(s) for s in strings)
        return Finding(
            "KERAS-LAMBDA",
            Severity.CRITICAL if risky else Severity.HIGH,
            f"{where}: Lambda layer with marshalled Python bytecode ({len(raw)} bytes; names and constants: "
            f"{shown}); it runs when the model is built or called (CVE-2024-3660)",
        )
    source = function if isinstance(function, str) else repr(function)
    risky = bool(_RISKY_NAMES.search(source))
    return Finding(
        "KERAS-LAMBDA",
        Severity.CRITICAL if risky else Severity.HIGH,
        f"{where}: Lambda layer with Python source {source[:160]!r}",
    )


# layers whose `from_config` reads a file named in the config (a lookup vocabulary given as a path)
FILE_READING_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization", "Hashing"})


def scan_config(ctx: ScanContext, config: Any, member: str, depth: int) -> None:
    """Judge a Keras model config and scan what it embeds: a TorchModuleWrapper's module is a base64 torch
    checkpoint that `from_config` gives to `torch.load`."""
    ctx.add_all(member, check_config(config, ctx.policy))
    for where, node in _nodes(config):
        module = _torch_checkpoint(node)
        if module is not None:
            try:
                checkpoint = base64.b64decode(module, validate=True)
            except (binascii.Error, ValueError):
                ctx.gap(member, f"{where}: TorchModuleWrapper module is not base64")
                continue
            from modelseal.scanning.context import join

            ctx.scan_bytes(checkpoint, join(member, f"{where}.module"), depth + 1)


def _torch_checkpoint(node: dict[str, Any]) -> str | None:
    """The base64 torch checkpoint a TorchModuleWrapper layer carries in its config, if this node is one."""
    inner = node.get("config")
    module = inner.get("module") if node.get("class_name") == "TorchModuleWrapper" and isinstance(inner, dict) else None
    return module if isinstance(module, str) else None


def check_config(config: Any, policy: ScanPolicy) -> list[Finding]:
    findings: list[Finding] = []
    for where, node in _nodes(config):
        class_name, module = node.get("class_name"), node.get("module")
        inner = node.get("config")
        if _torch_checkpoint(node) is not None:
            findings.append(
                Finding(
                    "KERAS-TORCH-MODULE",
                    Severity.MEDIUM,
                    f"{where}: TorchModuleWrapper holds a base64 torch checkpoint that loading gives to torch.load "
                    "(a full pickle; scanned as a nested file)",
                )
            )
        vocabulary = inner.get("vocabulary") if isinstance(inner, dict) else None
        if class_name in FILE_READING_LAYERS and isinstance(vocabulary, str):
            findings.append(
                Finding(
                    "KERAS-FILE-REFERENCE",
                    Severity.MEDIUM,
                    f"{where}: {class_name} reads its vocabulary from the file {vocabulary[:200]!r} when the model "
                    "is loaded (a path outside the model exposes that file's contents)",
                )
            )
        if class_name == "Lambda":
            findings.append(_lambda_finding(where, inner.get("function") if isinstance(inner, dict) else None))
        if (
            class_name == "function"
            and isinstance(inner, str)
            and (inner in DANGEROUS_FUNCTIONS or f"{module}.{inner}" in DANGEROUS_FUNCTIONS)
        ):
            findings.append(
                Finding(
                    "KERAS-DANGEROUS-FUNCTION",
                    Severity.CRITICAL,
                    f"{where}: refers to {module}.{inner}, which downloads, loads or disables safe "
                    "mode (CVE-2025-8747, CVE-2025-9906)",
                )
            )
        if isinstance(module, str) and module.split(".")[0] not in KERAS_MODULES:
            target = f"{module}.{class_name}"
            if policy.verdict(target) is Verdict.DENIED:
                findings.append(
                    Finding(
                        "KERAS-FOREIGN-MODULE",
                        Severity.CRITICAL,
                        f"{where}: object {target} from a module that runs commands or code "
                        "(older Keras imports it at load: CVE-2025-1550)",
                        target=target,
                    )
                )
            else:
                findings.append(
                    Finding(
                        "KERAS-CUSTOM-OBJECT",
                        Severity.INFO,
                        f"{where}: custom object {target} (registered as "
                        f"{node.get('registered_name')!r}); the loader must already have its code",
                        target=target,
                    )
                )
    return findings


def scan_keras_metadata(ctx: ScanContext, data: bytes, member: str, depth: int) -> str:
    """TF-Keras SavedModels keep each layer's config as JSON inside keras_metadata.pb."""
    from modelseal.scanning.formats import savedmodel

    try:
        configs = savedmodel.keras_metadata(data)
    except savedmodel.SavedModelError as exc:
        ctx.gap(member, f"keras_metadata.pb could not be read ({exc})")
        return "keras-metadata"
    for config in configs:
        scan_config(ctx, config, member, depth)
    return "keras-metadata"
