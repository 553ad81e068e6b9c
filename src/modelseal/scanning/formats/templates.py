"""Chat templates (GGUF `tokenizer.chat_template`, Hugging Face `tokenizer_config.json`) are Jinja2 programs that
front-ends render; a sandbox escape runs code (CVE-2024-34359). Parse with Jinja2's own parser, walk the tree,
and flag what benign templates never do: reach private or dunder attributes.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.parser import Parser

from modelseal.scanning.budget import ScanBoundError
from modelseal.scanning.findings import Finding, Severity

if TYPE_CHECKING:
    from modelseal.scanning.context import ScanContext

_ENVIRONMENT = Environment(extensions=["jinja2.ext.loopcontrols"])


_PYTHON_ONLY = frozenset(
    {
        "getattr",
        "setattr",
        "delattr",
        "eval",
        "exec",
        "compile",
        "open",
        "globals",
        "locals",
        "vars",
        "__import__",
        "input",
        "breakpoint",
    }
)


MAX_TEMPLATE_BYTES = 1 << 20  # real chat templates are a few kilobytes; Jinja's parser is slow on hostile ones


def _private(name: object) -> bool:
    return isinstance(name, str) and name.startswith("_")


def _show(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "…"


def check_template(source: str, where: str) -> list[Finding]:
    """Findings for one template; `where` names it (a metadata key or JSON field). A template too large or too
    deeply nested to parse within bounds raises `ScanBoundError`: unparsed is not clean."""
    if len(source) > MAX_TEMPLATE_BYTES:
        raise ScanBoundError(f"{where}: a template larger than {MAX_TEMPLATE_BYTES:,} bytes is not parsed")
    try:
        # the parser itself, not Environment.parse: on errors that one compiles a fake traceback frame
        tree = Parser(_ENVIRONMENT, source).parse()
    except RecursionError as exc:
        raise ScanBoundError(f"{where}: a template nested deeper than the parser follows") from exc
    except TemplateSyntaxError as exc:
        return [Finding("TEMPLATE-SYNTAX", Severity.MEDIUM, f"{where}: the template does not parse ({exc.message})")]
    findings: list[Finding] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Const, nodes.Name, nodes.Call)):
        if isinstance(node, nodes.Name) and _private(node.name):
            findings.append(
                Finding(
                    "TEMPLATE-DUNDER-ACCESS",
                    Severity.CRITICAL,
                    f"{where}: uses the name {node.name!r} (interpreter internals)",
                )
            )
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in _PYTHON_ONLY:
            findings.append(
                Finding(
                    "TEMPLATE-PYTHON-CALL",
                    Severity.HIGH,
                    f"{where}: calls {node.node.name}(), a Python builtin templates do not have",
                )
            )
        elif isinstance(node, nodes.Getattr) and _private(node.attr):
            findings.append(
                Finding(
                    "TEMPLATE-DUNDER-ACCESS",
                    Severity.CRITICAL,
                    f"{where}: reaches attribute {node.attr!r}, the first step of every Jinja2 sandbox "
                    "escape (CVE-2024-34359)",
                )
            )
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and _private(node.arg.value):
            findings.append(
                Finding(
                    "TEMPLATE-DUNDER-ACCESS",
                    Severity.CRITICAL,
                    f"{where}: reaches item {node.arg.value!r} (a dunder spelt as a key)",
                )
            )
        elif isinstance(node, nodes.Filter) and node.name in ("attr", "map"):
            findings += _filter_findings(node, where)
        elif isinstance(node, nodes.Const) and isinstance(node.value, str) and "__" in node.value:
            findings.append(
                Finding(
                    "TEMPLATE-DUNDER-STRING",
                    Severity.MEDIUM,
                    f"{where}: a string containing '__' ({_show(node.value)!r}) can build a dunder",
                )
            )
    return findings


def _filter_findings(node: nodes.Filter, where: str) -> list[Finding]:
    names = [*node.args, *(kw.value for kw in node.kwargs if node.name == "attr" or kw.key == "attribute")]
    if node.name == "map" and not any(kw.key == "attribute" for kw in node.kwargs):
        return []
    findings = []
    for argument in names[:1] if node.name == "attr" else names:
        if isinstance(argument, nodes.Const):
            if _private(argument.value):
                findings.append(
                    Finding(
                        "TEMPLATE-DUNDER-ACCESS", Severity.CRITICAL, f"{where}: |{node.name} reaches {argument.value!r}"
                    )
                )
        else:
            findings.append(
                Finding(
                    "TEMPLATE-COMPUTED-ATTRIBUTE",
                    Severity.HIGH,
                    f"{where}: |{node.name} with an attribute name computed at render time",
                )
            )
    return findings


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """A standalone template file (transformers' chat_template.jinja). Bytes that are not UTF-8 are no template:
    transformers reads the file as strict UTF-8, and random weights can start with `{{`."""
    raw = stream.read(MAX_TEMPLATE_BYTES + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if size <= MAX_TEMPLATE_BYTES or exc.start < MAX_TEMPLATE_BYTES - 3:  # not a character cut by the read
            from modelseal.scanning.formats import data

            return data.scan(ctx, stream, size, member, depth) or "data"
        text = ""  # text up to a character the read cut: too large, said below
    if size > MAX_TEMPLATE_BYTES:
        raise ScanBoundError(f"a template larger than {MAX_TEMPLATE_BYTES:,} bytes is not parsed")
    ctx.add_all(member, check_template(text, ctx.display_name(member)))
    return "jinja"
