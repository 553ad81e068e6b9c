"""Hugging Face repositories: `auto_map` and `custom_pipelines` make `trust_remote_code=True` import the named
Python files, and those files run with the user's rights. Report the mapping, where the code comes from, and what
each Python file imports (read with `tokenize`: nothing is compiled or imported)."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from modelseal.scanning.findings import Finding, Severity

if TYPE_CHECKING:
    from modelseal.scanning.context import ScanContext

HF_KEYS = frozenset(
    {
        "model_type",
        "architectures",
        "auto_map",
        "tokenizer_class",
        "chat_template",
        "_name_or_path",
        "transformers_version",
        "processor_class",
        "custom_pipelines",
    }
)
RISKY_IMPORTS = frozenset(
    {
        "subprocess",
        "socket",
        "ctypes",
        "pty",
        "requests",
        "urllib",
        "http",
        "pickle",
        "marshal",
        "shutil",
        "paramiko",
        "httpx",
        "aiohttp",
    }
)
_RISKY_CALLS = re.compile(r"\b(os\.system|os\.popen|eval|exec|__import__|compile)\s*\(")


def is_hf_config(document: Any) -> bool:
    return isinstance(document, dict) and bool(HF_KEYS & document.keys())


def _references(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _references(v)]
    return []


def check_config(document: dict[str, Any], directory_of: Callable[[], Path | None]) -> list[Finding]:
    """Remote-code references; `directory_of` is asked for the directory beside the config (to name the files
    missing there) only when there are references, so other configs' verdicts stay a function of their bytes."""
    findings: list[Finding] = []
    for key in ("auto_map", "custom_pipelines"):
        references = sorted(set(_references(document.get(key))))
        if not references:
            continue
        directory = directory_of()
        remote = sorted({r.split("--")[0] for r in references if "--" in r})
        files = sorted({r.split("--")[-1].rsplit(".", 1)[0] + ".py" for r in references})
        missing = [f for f in files if directory is not None and "--" not in f and not (directory / f).is_file()]
        detail = f"; code from other repositories: {', '.join(remote)}" if remote else ""
        detail += f"; missing here: {', '.join(missing)}" if missing else ""
        findings.append(
            Finding(
                "HF-REMOTE-CODE", Severity.HIGH, f"{key} makes trust_remote_code=True import {', '.join(files)}{detail}"
            )
        )
    return findings


def imports(source: str) -> list[str]:
    """Top-level modules the source imports (relative imports of sibling files excluded), read token by token so
    nothing is compiled."""
    found: set[str] = set()
    state, after_from = "", False
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        kind, text = token.type, token.string
        if kind == tokenize.NEWLINE or text == ";":
            state, after_from = "", False
        elif kind == tokenize.NAME and text == "from":
            state = "from"
        elif kind == tokenize.NAME and text == "import":
            state = "" if after_from else "import"
        elif state == "from":
            if kind == tokenize.NAME:
                found.add(text)
            state, after_from = "", True  # a '.' (relative import) also ends up here: a sibling file, not a module
        elif state == "import" and kind == tokenize.NAME:
            found.add(text)
            state = "rest"
        elif state == "rest" and text == ",":
            state = "import"
    return sorted(found)


def check_python(source: str, name: str) -> list[Finding]:
    try:
        modules = imports(source)
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        return [Finding("PYTHON-SOURCE", Severity.MEDIUM, f"{name}: Python source that does not tokenize ({exc})")]
    risky = sorted(m for m in modules if m in RISKY_IMPORTS)
    calls = sorted(set(_RISKY_CALLS.findall(source)))
    listed = ", ".join(modules[:15]) + (", …" if len(modules) > 15 else "") or "nothing"
    if risky or calls:
        why = ", ".join([*(f"imports {m}" for m in risky), *(f"calls {c}()" for c in calls)])
        return [
            Finding(
                "PYTHON-SOURCE",
                Severity.HIGH,
                f"{name}: Python code run by trust_remote_code; {why} (imports: {listed})",
            )
        ]
    return [
        Finding("PYTHON-SOURCE", Severity.MEDIUM, f"{name}: Python code run by trust_remote_code (imports: {listed})")
    ]


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """Python source shipped with a model: what trust_remote_code would import and run."""
    from modelseal.scanning.context import MAX_TEXT_BYTES

    if size > MAX_TEXT_BYTES:
        ctx.gap(member, "Python source larger than the scan bound")
        return "python"
    source = stream.read().decode("utf-8", "replace")
    if "/code/__torch__/" in f"/{member}":  # TorchScript, compiled by torch.jit.load: no imports, its own ops
        ctx.add_all(member, check_torchscript(source))
        return "torchscript"
    ctx.add_all(member, check_python(source, ctx.display_name(member)))
    return "python"


# TorchScript operations that reach files or native libraries (CVE-2025-32434 exploits write files through
# `aten::from_file(..., shared=True)` in a scripted __setstate__)
_TORCHSCRIPT_EFFECTS = re.compile(
    r"\b(?:ops\.aten\.from_file|torch\.from_file|ops\.aten\.save|torch\.save|torch\.load|load_library|"
    r"_load_for_mobile|ops\.profiler|torch\.classes\.\w+)\b"
)


def check_torchscript(source: str) -> list[Finding]:
    effects = sorted(set(_TORCHSCRIPT_EFFECTS.findall(source)))
    if not effects:
        return []
    return [
        Finding(
            "TORCHSCRIPT-FILE-ACCESS",
            Severity.HIGH,
            f"TorchScript code calls {', '.join(effects)}: files or native libraries, when torch.jit.load runs it "
            "(CVE-2025-32434)",
        )
    ]


def scan_python_bytecode(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """Compiled Python (`.pyc`): imported like source when it sits on the path (sourceless modules, `__pycache__`
    beside a remote-code module), yet unreviewable. Never disassembled: `marshal` is not safe on hostile bytes."""
    magic = int.from_bytes(stream.read(2), "little")
    ctx.add(
        member,
        Finding(
            "PYTHON-BYTECODE",
            Severity.HIGH,
            f"compiled Python bytecode (magic {magic}): it runs when imported, and its source cannot be reviewed",
        ),
    )
    return "python-bytecode"
