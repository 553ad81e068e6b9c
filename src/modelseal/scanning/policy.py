"""Which globals a pickle may import: allowlist first, denylist second, everything else ranked by use.

The lists are data (`policy.toml`, plus optional user overrides); this module only matches names.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from modelseal.errors import InputError


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"


def _matches(name: str, pattern: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern


def _under(name: str, prefix: str) -> bool:
    """`name` is `prefix` or lives under it (module or attribute), glob patterns allowed."""
    if any(c in prefix for c in "*?["):
        return fnmatch.fnmatchcase(name, prefix) or fnmatch.fnmatchcase(name, prefix + ".*")
    return name == prefix or name.startswith(prefix + ".")


@dataclass(frozen=True)
class ScanPolicy:
    allow: tuple[str, ...]
    deny: tuple[str, ...]
    dunders: frozenset[str]
    resolvers: frozenset[str]
    loaders: frozenset[str]
    embedded_loaders: frozenset[str]
    contracts: dict[str, str] = field(default_factory=dict, hash=False)  # exact callable -> argument contract
    severity_overrides: dict[str, str] = field(default_factory=dict, hash=False)
    ignore_paths: tuple[str, ...] = ()
    _cache: dict[str, Verdict] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], base: ScanPolicy | None = None) -> ScanPolicy:
        allow = tuple(data.get("allow", {}).get("exact", ()))
        deny = data.get("deny", {})
        if base is not None:
            return cls(
                allow=base.allow + allow,
                deny=base.deny + tuple(deny.get("prefixes", ())),
                dunders=base.dunders,
                resolvers=base.resolvers,
                loaders=base.loaders,
                embedded_loaders=base.embedded_loaders,
                contracts=base.contracts,
                severity_overrides={**base.severity_overrides, **data.get("severity", {})},
                ignore_paths=tuple(data.get("paths", {}).get("ignore", ())),
            )
        return cls(
            allow=allow,
            deny=tuple(deny.get("prefixes", ())),
            dunders=frozenset(deny.get("dunders", ())),
            resolvers=frozenset(deny.get("resolvers", ())),
            loaders=frozenset(deny.get("loaders", ())),
            embedded_loaders=frozenset(deny.get("embedded_loaders", ())),
            contracts=dict(data.get("allow", {}).get("contracts", {})),
            severity_overrides=dict(data.get("severity", {})),
        )

    def verdict(self, name: str) -> Verdict:
        cached = self._cache.get(name)
        if cached is None:
            cached = self._cache[name] = _verdict(self, name)
        return cached

    def dunder_in(self, qualname: str) -> str | None:
        return next((part for part in qualname.split(".") if part in self.dunders), None)


def _verdict(policy: ScanPolicy, name: str) -> Verdict:
    # a callable with an argument contract is allowed by its exact name (its calls are checked against the
    # contract), unless the user's own deny list names it
    if name in policy.contracts and not any(_under(name, p) for p in policy.deny[_DEFAULT_DENY_COUNT:]):
        return Verdict.ALLOWED
    # user allow entries are appended after the defaults, but deny wins only over default allows:
    # an explicit allow of a denied name is the user's call (documented in the config file format)
    if any(_under(name, prefix) for prefix in policy.deny):
        if any(_matches(name, pattern) for pattern in policy.allow[_DEFAULT_ALLOW_COUNT:]):
            return Verdict.ALLOWED
        return Verdict.DENIED
    if any(_matches(name, pattern) for pattern in policy.allow):
        return Verdict.ALLOWED
    return Verdict.UNKNOWN


def _default_text() -> str:
    # beside this module (a plain path: importlib.resources costs the CLI's start-up more than the read itself)
    return Path(__file__).with_name("policy.toml").read_text(encoding="utf-8")


def _load_default() -> ScanPolicy:
    return ScanPolicy.from_mapping(tomllib.loads(_default_text()))


def policy_digest(path: Path | None) -> str:
    """sha256 naming the policy a scan ran under: the shipped lists, then the user's file byte for byte. A scan
    attestation records it, so a result made under other rules is not taken for this one."""
    import hashlib

    digest = hashlib.sha256(_default_text().encode("utf-8"))
    if path is not None:
        try:
            digest.update(b"\0" + Path(path).read_bytes())
        except OSError as exc:
            raise InputError(f"cannot read policy file {path}: {exc.strerror}") from exc
    return digest.hexdigest()


DEFAULT_POLICY = _load_default()
_DEFAULT_ALLOW_COUNT = len(DEFAULT_POLICY.allow)
_DEFAULT_DENY_COUNT = len(DEFAULT_POLICY.deny)
CONTRACTS = frozenset({"literals"})
if not set(DEFAULT_POLICY.contracts.values()) <= CONTRACTS:  # pragma: no cover - a typo in policy.toml
    raise RuntimeError(f"unknown argument contracts in policy.toml: {set(DEFAULT_POLICY.contracts.values())}")


def load_policy(path: Path | None) -> ScanPolicy:
    """The default policy, extended by a user file: `[allow] exact = [...]`, `[deny] prefixes = [...]`,
    `[severity] RULE = "level"`, `[paths] ignore = [globs]`. Unknown keys and bad values are errors."""
    if path is None:
        return DEFAULT_POLICY
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read policy file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"policy file {path} is not valid TOML: {exc}") from exc
    _validate(data, path)
    return ScanPolicy.from_mapping(data, base=DEFAULT_POLICY)


_SCHEMA = {"allow": {"exact"}, "deny": {"prefixes"}, "severity": None, "paths": {"ignore"}}


def _validate(data: dict[str, Any], path: Path) -> None:
    """Reject what would otherwise be silently ignored: a misspelt table or key, a non-list, a bad level."""
    from modelseal.scanning.findings import Severity

    for table, value in data.items():
        if table not in _SCHEMA or not isinstance(value, dict):
            raise InputError(f"policy file {path}: unknown table [{table}]", details=(f"known: {sorted(_SCHEMA)}",))
        keys = _SCHEMA[table]
        for key, item in value.items():
            if keys is None:
                if not isinstance(item, str) or item.upper() not in Severity.__members__:
                    raise InputError(
                        f"policy file {path}: [severity] {key} = {item!r} is not a severity",
                        details=(f"use one of {', '.join(s.name.lower() for s in Severity)}",),
                    )
            elif key not in keys:
                raise InputError(f"policy file {path}: unknown key {key!r} in [{table}]")
            elif not isinstance(item, list) or not all(isinstance(v, str) for v in item):
                raise InputError(f"policy file {path}: [{table}] {key} must be a list of strings")
