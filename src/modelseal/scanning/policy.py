"""Which globals a pickle may import: allowlist first, denylist second, everything else ranked by use.

The lists are data (`policy.toml`, `sinks.toml`, plus optional user overrides); this module only matches names.
An allowlist entry is a contract (issue 11): a callable is allowed by its exact name, with an argument contract
saying what it may receive; a module prefix (`sklearn.*`) allows only the classes under it, never functions.
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
    """What the policy says about one importable name."""

    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"


def _matches(name: str, pattern: str) -> bool:
    if pattern.endswith(".*"):  # a module prefix: classes under it only (PEP 8 names them in CapWords)
        return _is_class_name(name) and fnmatch.fnmatchcase(name, pattern)
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern


def _is_class_name(name: str) -> bool:
    """`pkg.mod.Class` or `pkg.mod.Outer.Inner`: the last segment names a class, and no segment after the first
    capitalised one is lower-case (that would be a method, or a module reached through an attribute)."""
    parts = name.split(".")
    first = next((i for i, part in enumerate(parts) if part.lstrip("_")[:1].isupper()), None)
    return first is not None and all(part.lstrip("_")[:1].isupper() for part in parts[first:])


class ContractKind(StrEnum):
    """What an allowed callable may receive (see policy.toml, [allow.contracts])."""

    LITERALS = "literals"  # plain literals only, however nested
    DATA = "data"  # no callable: nothing unknown or denied, no partial, no higher-order helper
    CALLS = "calls"  # calls the argument at `callable` with the arguments at `args`; the rest is data
    INSTANTIATES = "instantiates"  # creates an instance of the classes at `classes`; the rest is data
    PARTIAL = "partial"  # functools.partial: binds a callable, judged when the partial is called


@dataclass(frozen=True)
class Contract:
    kind: ContractKind
    callable: int = 0  # CALLS: position of the callable
    args: int | tuple[int, ...] = ()  # CALLS: position of an argument tuple, or the positions passed one by one
    classes: tuple[int, ...] = ()  # CALLS and INSTANTIATES: positions of classes that get instantiated

    @classmethod
    def parse(cls, name: str, spec: Any) -> Contract:
        try:
            if isinstance(spec, str):
                return cls(ContractKind(spec))
            if isinstance(spec, dict) and "calls" in spec:
                args = spec.get("args", ())
                return cls(
                    ContractKind.CALLS,
                    int(spec["calls"]),
                    int(args) if isinstance(args, int) else tuple(args),
                    _positions(spec.get("instantiates", ())),
                )
            if isinstance(spec, dict) and "instantiates" in spec:
                return cls(ContractKind.INSTANTIATES, classes=_positions(spec["instantiates"]))
        except (TypeError, ValueError):
            pass
        raise InputError(f"unknown argument contract for {name}: {spec!r}")


def _positions(value: Any) -> tuple[int, ...]:
    return (int(value),) if isinstance(value, int) else tuple(int(v) for v in value)


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
    contracts: dict[str, Contract] = field(default_factory=dict, hash=False)  # callable (or glob) -> contract
    reasons: dict[str, str] = field(default_factory=dict, hash=False)  # deny entry -> why, and the source
    severity_overrides: dict[str, str] = field(default_factory=dict, hash=False)
    ignore_paths: tuple[str, ...] = ()
    _cache: dict[str, Verdict] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    _contract_cache: dict[str, Contract | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

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
                reasons=base.reasons,
                severity_overrides={**base.severity_overrides, **data.get("severity", {})},
                ignore_paths=tuple(data.get("paths", {}).get("ignore", ())),
            )
        sinks = data.get("sink", ())
        reasons = {name: f"{sink['why']} ({sink['source']})" for sink in sinks for name in sink["names"]}
        contracts = data.get("allow", {}).get("contracts", {})
        return cls(
            allow=allow,
            deny=tuple(deny.get("prefixes", ())) + tuple(reasons),
            dunders=frozenset(deny.get("dunders", ())),
            resolvers=frozenset(deny.get("resolvers", ())),
            loaders=frozenset(deny.get("loaders", ())),
            embedded_loaders=frozenset(deny.get("embedded_loaders", ())),
            contracts={name: Contract.parse(name, spec) for name, spec in contracts.items()},
            reasons=reasons,
            severity_overrides=dict(data.get("severity", {})),
        )

    def verdict(self, name: str) -> Verdict:
        cached = self._cache.get(name)
        if cached is None:
            cached = self._cache[name] = _verdict(self, name)
        return cached

    def contract(self, name: str) -> Contract | None:
        """The argument contract of an allowed callable: by exact name, else by a glob key."""
        if name not in self._contract_cache:
            found = self.contracts.get(name)
            if found is None:
                found = next(
                    (c for key, c in self.contracts.items() if "*" in key and fnmatch.fnmatchcase(name, key)), None
                )
            self._contract_cache[name] = found
        return self._contract_cache[name]

    def deny_reason(self, name: str) -> str | None:
        """Why a denied name is denied, when a sink entry says so."""
        return next((why for entry, why in self.reasons.items() if _under(name, entry)), None)

    def dunder_in(self, qualname: str) -> str | None:
        return next((part for part in qualname.split(".") if part in self.dunders), None)


def _verdict(policy: ScanPolicy, name: str) -> Verdict:
    # a callable with an argument contract is allowed by its exact name (its calls are checked against the
    # contract), unless the user's own deny list names it
    if policy.contract(name) is not None and not any(_under(name, p) for p in policy.deny[_DEFAULT_DENY_COUNT:]):
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
    here = Path(__file__)
    return "\n".join(here.with_name(name).read_text(encoding="utf-8") for name in ("policy.toml", "sinks.toml"))


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
