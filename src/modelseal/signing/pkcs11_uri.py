"""RFC 7512 PKCS#11 URIs: which module, token and key object to sign with, and where the PIN comes from.

`pkcs11:token=ml-signing;object=model-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin`
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlparse

from modelseal.errors import InputError

_PATH_ATTRIBUTES = frozenset(
    {
        "token",
        "manufacturer",
        "serial",
        "model",
        "library-manufacturer",
        "library-description",
        "library-version",
        "slot-manufacturer",
        "slot-description",
        "slot-id",
        "object",
        "id",
        "type",
    }
)
_QUERY_ATTRIBUTES = frozenset({"module-path", "module-name", "pin-value", "pin-source"})

# Where distributions install PKCS#11 modules, for `module-name=softhsm2` style URIs.
MODULE_DIRECTORIES = (
    "/usr/lib/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib/softhsm",
    "/usr/lib64/softhsm",
    "/usr/local/lib/softhsm",
    "/opt/homebrew/lib/softhsm",
)


def _invalid(uri: str, reason: str) -> InputError:
    return InputError(
        f"invalid PKCS#11 URI {redact(uri)!r}: {reason}",
        details=("form: pkcs11:token=LABEL;object=KEY-LABEL?module-path=/path/to/module.so&pin-source=file:PIN-FILE",),
    )


def redact(uri: str) -> str:
    """The URI with any pin-value replaced, for messages and logs."""
    head, _, query = uri.partition("?")
    if not query:
        return uri
    parts = ["pin-value=***" if p.startswith("pin-value=") else p for p in query.split("&")]
    return f"{head}?{'&'.join(parts)}"


def _attributes(uri: str, text: str, separator: str, allowed: frozenset[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for item in filter(None, text.split(separator)):
        name, equals, value = item.partition("=")
        if not equals:
            raise _invalid(uri, f"attribute {name!r} has no value")
        if name not in allowed:
            raise _invalid(uri, f"unknown attribute {name!r}")
        if name in found:
            raise _invalid(uri, f"attribute {name!r} appears twice")
        found[name] = unquote_to_bytes(value)
    return found


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parsed URI; text attributes decoded as UTF-8, `id` kept as bytes."""

    text: str
    path: dict[str, bytes]
    query: dict[str, bytes]

    @classmethod
    def parse(cls, uri: str) -> Pkcs11Uri:
        if not uri.startswith("pkcs11:"):
            raise _invalid(uri, "it must start with 'pkcs11:'")
        body = uri[len("pkcs11:") :]
        path_text, _, query_text = body.partition("?")
        parsed = cls(
            uri,
            _attributes(uri, path_text, ";", _PATH_ATTRIBUTES),
            _attributes(uri, query_text, "&", _QUERY_ATTRIBUTES),
        )
        if "object" not in parsed.path and "id" not in parsed.path:
            raise _invalid(uri, "name the key with 'object=' (its label) or 'id='")
        if "pin-value" in parsed.query and "pin-source" in parsed.query:
            raise _invalid(uri, "give either pin-value or pin-source, not both")
        for name in ("token", "object", "module-path", "module-name"):
            parsed.text_attribute(name)  # fail early on bytes that are not UTF-8
        return parsed

    def text_attribute(self, name: str) -> str | None:
        raw = self.path.get(name, self.query.get(name))
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid(self.text, f"{name} is not UTF-8") from exc

    @property
    def object_id(self) -> bytes | None:
        return self.path.get("id")

    def module(self) -> Path:
        """The module to load: `module-path`, or `module-name` looked up in the usual directories."""
        path = self.text_attribute("module-path")
        if path is not None:
            if not Path(path).is_file():
                raise InputError(f"PKCS#11 module {path} does not exist")
            return Path(path)
        name = self.text_attribute("module-name")
        if name is None:
            raise _invalid(self.text, "say which module to load with module-path= (or module-name=)")
        candidates = [f"{name}.so", f"lib{name}.so", name]
        for directory in MODULE_DIRECTORIES:
            for candidate in candidates:
                if (Path(directory) / candidate).is_file():
                    return Path(directory) / candidate
        raise InputError(
            f"PKCS#11 module {name!r} not found",
            details=(f"looked in {', '.join(MODULE_DIRECTORIES)}", "give its full path with module-path="),
        )

    def pin(self) -> str | None:
        """The PIN from `pin-value`, or read from the file `pin-source` names (`file:` URI or path)."""
        value = self.text_attribute("pin-value")
        if value is not None:
            return value
        source = self.text_attribute("pin-source")
        if source is None:
            return None
        location = urlparse(source).path if source.startswith("file:") else source
        try:
            return Path(location).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the PIN from {location}: {exc}") from exc
