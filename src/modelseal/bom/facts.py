"""What a model says about itself, read without loading it: the Hugging Face card's front matter, `config.json`,
GGUF `general.*` metadata, safetensors headers (their `__metadata__` and parameter counts) and the text of
LICENSE/COPYING files (`license_text`). Declared licences are normalised to SPDX expressions (`license-expression`);
a name SPDX does not know becomes `LicenseRef-<name>`."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from modelseal.bom.license_text import FILES_MAX, TEXT_MAX, LicenseText, identify

FRONT_MATTER_MAX = 64 << 10
COPYRIGHTS_MAX = 10
# a notice line: "Copyright (c) Jane Doe", "Copyright 2019-2023 The Org", "© 2020 Someone" (not the templates
# "Copyright [yyyy] [name of copyright owner]" or prose about "copyright notices")
_COPYRIGHT = re.compile(r"^[ \t#*/]*(?:Copyright[ \t]*(?:\(c\)|©|\d{4})|©[ \t]*\d{4})[^\n]*", re.I | re.M)
HEADER_MAX = 100 << 20  # safetensors' own bound on its JSON header


@dataclass
class ModelFacts:
    name: str
    licenses: list[str] = field(default_factory=list)  # SPDX expressions, in the order found, without repeats
    license_sources: list[str] = field(default_factory=list)  # where each was read
    license_texts: list[LicenseText] = field(default_factory=list)  # what LICENSE*/COPYING* files' texts are
    copyrights: list[str] = field(default_factory=list)  # copyright notices in those texts, without repeats
    architecture: str | None = None  # e.g. BertModel, llama
    family: str | None = None  # e.g. bert, llama (model_type, general.architecture)
    task: str | None = None  # pipeline_tag
    datasets: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=list)
    parameters: int | None = None  # summed over safetensors tensor shapes, or GGUF general.parameter_count
    metadata: dict[str, str] = field(default_factory=dict)  # other name/value pairs worth recording

    def add_license(self, raw: object, source: str) -> None:
        expression = spdx_expression(str(raw)) if isinstance(raw, str) and raw.strip() else None
        if expression and expression not in self.licenses:
            self.licenses.append(expression)
            self.license_sources.append(source)


def spdx_expression(raw: str) -> str:
    """`raw` as an SPDX license expression: known keys in SPDX's spelling, unknown ones as LicenseRef-<key>."""
    from license_expression import ExpressionError, get_spdx_licensing

    licensing = get_spdx_licensing()
    try:
        parsed = licensing.parse(raw.strip(), validate=False)
    except ExpressionError:
        return "LicenseRef-" + _ref(raw)
    text = str(parsed)
    for key in licensing.unknown_license_keys(parsed):
        if not str(key).startswith("LicenseRef-"):
            text = re.sub(rf"(?<![\w.+-]){re.escape(str(key))}(?![\w.+-])", "LicenseRef-" + _ref(str(key)), text)
    return text


def license_keys(expression: str) -> list[str]:
    """The licence ids an SPDX expression names (`MIT OR Apache-2.0` -> MIT, Apache-2.0)."""
    from license_expression import get_spdx_licensing

    licensing = get_spdx_licensing()
    return [str(key) for key in licensing.license_keys(licensing.parse(expression, validate=False))]


def _ref(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", key.strip()).strip("-") or "unknown"


@dataclass(frozen=True)
class Readable:
    """One file of the model to read facts from: its name in the model, how to open it (a local file, or a remote
    one through `remote.objects.open_remote_file`), and its path when it is local (the GGUF reader needs one)."""

    name: str
    open: Callable[[], AbstractContextManager[IO[bytes]]]
    path: Path | None = None

    @classmethod
    def local(cls, name: str, path: Path) -> Readable:
        return cls(name, lambda: path.open("rb"), path)


def _front_matter(handle: IO[bytes]) -> dict[str, Any]:
    import yaml

    text = handle.read(FRONT_MATTER_MAX).decode("utf-8", "replace")
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    if not match:
        return {}
    try:
        document = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float))]
    return []


def _read_card(facts: ModelFacts, handle: IO[bytes], name: str) -> None:
    card = _front_matter(handle)
    facts.add_license(card.get("license_name") if card.get("license") == "other" else card.get("license"), name)
    facts.task = facts.task or (card["pipeline_tag"] if isinstance(card.get("pipeline_tag"), str) else None)
    facts.datasets += [d for d in _strings(card.get("datasets")) if d not in facts.datasets]
    facts.languages += [d for d in _strings(card.get("language")) if d not in facts.languages]
    facts.base_models += [d for d in _strings(card.get("base_model")) if d not in facts.base_models]
    if isinstance(card.get("library_name"), str):
        facts.metadata["library"] = card["library_name"]


def _read_config(facts: ModelFacts, handle: IO[bytes]) -> None:
    try:
        config = json.loads(handle.read(8 << 20))
    except ValueError:
        return
    if not isinstance(config, dict):
        return
    architectures = _strings(config.get("architectures"))
    facts.architecture = facts.architecture or (architectures[0] if architectures else None)
    if isinstance(config.get("model_type"), str):
        facts.family = facts.family or config["model_type"]
    if isinstance(config.get("torch_dtype"), str):
        facts.metadata.setdefault("torch_dtype", config["torch_dtype"])


def _read_safetensors(facts: ModelFacts, handle: IO[bytes], name: str) -> int:
    """The file's parameter count (0 if its header cannot be read); its `__metadata__` goes to `facts`."""
    length = int.from_bytes(handle.read(8), "little")
    if not 2 <= length <= HEADER_MAX:
        return 0
    try:
        header = json.loads(handle.read(length))
    except ValueError:
        return 0
    if not isinstance(header, dict):
        return 0
    metadata = header.pop("__metadata__", None)
    if isinstance(metadata, dict):
        for key, value in metadata.items():
            if isinstance(value, str) and key.lower() == "license":
                facts.add_license(value, f"{name} (__metadata__)")
            elif isinstance(value, str) and len(value) < 200:
                facts.metadata.setdefault(f"safetensors.{key}", value)
    count = 0
    for tensor in header.values():
        shape = tensor.get("shape") if isinstance(tensor, dict) else None
        if isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape):
            count += math.prod(shape)
    return count


def _read_gguf(facts: ModelFacts, path: Path) -> None:
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
    except Exception:  # noqa: BLE001 - an unreadable GGUF says nothing; the scanner reports what is wrong with it
        return
    values: dict[str, Any] = {}
    for name, item in reader.fields.items():
        if name.startswith("general.") and item.types:
            try:
                values[name] = item.contents()
            except Exception:  # noqa: BLE001 - one odd field leaves the others readable
                continue
    facts.add_license(values.get("general.license"), f"{path.name} (general.license)")
    if isinstance(values.get("general.architecture"), str):
        facts.family = facts.family or values["general.architecture"]
    if isinstance(values.get("general.name"), str):
        facts.metadata.setdefault("gguf.name", values["general.name"])
    if isinstance(values.get("general.parameter_count"), int):
        facts.parameters = (facts.parameters or 0) + values["general.parameter_count"]
    for tag in _strings(values.get("general.datasets")):
        if tag not in facts.datasets:
            facts.datasets.append(tag)


def model_facts(name: str, files: Sequence[Readable]) -> ModelFacts:
    """Facts from the model's files; nothing is executed or deserialised, and only the start of a large file
    (a safetensors header) is read."""
    facts = ModelFacts(name)
    parameters = 0
    for file in files:
        base = file.name.rsplit("/", 1)[-1]
        if base.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
            if len(facts.license_texts) >= FILES_MAX:
                facts.license_texts.append(LicenseText(file.name, (), f"more than {FILES_MAX} licence files"))
                continue
            with file.open() as handle:
                text = _text(handle.read(TEXT_MAX + 1))
            facts.license_texts.append(identify(file.name, text))
            _add_copyrights(facts, text[:TEXT_MAX])
            continue
        if base.endswith(".gguf"):
            if file.path is not None:
                _read_gguf(facts, file.path)
            continue
        reader = {"readme.md": "card", "config.json": "config"}.get(file.name.lower())
        if reader is None and not base.endswith(".safetensors"):
            continue
        with file.open() as handle:
            if reader == "card":
                _read_card(facts, handle, file.name)
            elif reader == "config":
                _read_config(facts, handle)
            else:
                parameters += _read_safetensors(facts, handle, file.name)
    if parameters:
        facts.parameters = parameters
    _settle_license_texts(facts)
    return facts


def _add_copyrights(facts: ModelFacts, text: str) -> None:
    for match in _COPYRIGHT.finditer(text):
        notice = match.group(0).strip(" \t#*/")[:200]
        if len(facts.copyrights) < COPYRIGHTS_MAX and notice not in facts.copyrights:
            facts.copyrights.append(notice)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _settle_license_texts(facts: ModelFacts) -> None:
    """Identified texts join the declared licences; a near tie the model's declared licences settle does too
    (a card saying apache-2.0 beside an Apache text without its appendix, which Pixar's licence matches as well)."""
    declared = {key for expression in facts.licenses for key in license_keys(expression)}
    for index, found in enumerate(facts.license_texts):
        settled = [c for c in found.candidates if c in declared] if len(found.candidates) > 1 else []
        if len(settled) == 1:
            facts.license_texts[index] = LicenseText(found.file, (settled[0],))
        identified = facts.license_texts[index].identified
        if identified:
            facts.add_license(identified, f"{found.file} (its text)")
