"""Which Sigstore signers to accept, judged on the Fulcio certificate: its identity (SAN) exactly or by pattern,
its OIDC issuer exactly, and the CI claims Fulcio copies from a GitHub Actions token (repository, ref, trigger,
workflow file, commit, runner).

Patterns are globs in which `*` and `?` stay within one `/`-separated segment and `**` crosses segments, so
`https://github.com/acme/*/.github/workflows/*@refs/tags/*` cannot be satisfied by a branch whose name smuggles
in another path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

_FULCIO = "1.3.6.1.4.1.57264.1."
_OTHER_NAME = ObjectIdentifier(_FULCIO + "7")
_GITHUB = "https://github.com/"

# claim -> (Fulcio v2 extension: DER UTF8String, v1 extension: raw bytes, or None)
_CLAIM_EXTENSIONS: dict[str, tuple[str, str | None]] = {
    "issuer": ("8", "1"),
    "repository": ("12", "5"),
    "ref": ("14", "6"),
    "trigger": ("20", "2"),
    "sha": ("13", "3"),
    "workflow": ("18", None),
    "runner-environment": ("11", None),
}
GITHUB_CLAIMS = tuple(name for name in _CLAIM_EXTENSIONS if name != "issuer")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
            continue
        char = pattern[index]
        parts.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def glob_matches(pattern: str, value: str) -> bool:
    """`*`/`?` within one path segment, `**` across segments; the whole value must match."""
    return _compiled(pattern).fullmatch(value) is not None


def _utf8_der(value: bytes) -> str | None:
    """The text of a DER UTF8String (tag 0x0C), short or long length form."""
    if len(value) < 2 or value[0] != 0x0C:
        return None
    length, offset = value[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(value[2 : 2 + count], "big"), 2 + count
    body = value[offset : offset + length]
    return body.decode("utf-8", "replace") if len(body) == length else None


def _extension(certificate: x509.Certificate, suffix: str) -> bytes | None:
    try:
        extension = certificate.extensions.get_extension_for_oid(ObjectIdentifier(_FULCIO + suffix)).value
    except x509.ExtensionNotFound:
        return None
    return extension.value if isinstance(extension, x509.UnrecognizedExtension) else None


def certificate_claim(certificate: x509.Certificate, claim: str) -> str | None:
    """A claim from the certificate: the v2 extension if present, else the v1 one; GitHub forms normalised so
    `repository` is `owner/name` and `workflow` the workflow file's path in the repository."""
    v2, v1 = _CLAIM_EXTENSIONS[claim]
    raw = _extension(certificate, v2)
    value = _utf8_der(raw) if raw is not None else None
    if value is None and v1 is not None:
        legacy = _extension(certificate, v1)
        value = legacy.decode("utf-8", "replace") if legacy is not None else None
    if value is None:
        return None
    if claim == "repository" and value.startswith(_GITHUB):
        return value[len(_GITHUB) :]
    if claim == "workflow" and value.startswith(_GITHUB):
        path = value[len(_GITHUB) :].split("/", 2)  # owner, name, rest@ref
        return path[2].rsplit("@", 1)[0] if len(path) == 3 else value
    return value


def certificate_identities(certificate: x509.Certificate) -> list[str]:
    """The SAN values Fulcio uses for identities: e-mail, URI and its own other-name."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [str(v) for v in san.get_values_for_type(x509.RFC822Name)]
    names += [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == _OTHER_NAME:
            names.append(_utf8_der(other.value) or other.value.decode("utf-8", "replace"))
    return names


def certificate_details(certificate: x509.Certificate) -> dict[str, str]:
    """What a Fulcio certificate says of its signer: identity, issuer, and the GitHub claims it carries."""
    identities = certificate_identities(certificate)
    details = {
        "identity": identities[0] if identities else "",
        "issuer": certificate_claim(certificate, "issuer") or "",
    }
    for claim in ("repository", "ref", "trigger", "workflow", "sha"):
        value = certificate_claim(certificate, claim)
        if value is not None:
            details[f"github_{claim}"] = value
    return details


@dataclass(frozen=True)
class SigstoreIdentity:
    """One accepted signer: an exact issuer, an exact identity or an identity pattern, and optional GitHub claims
    (each a pattern)."""

    issuer: str
    identity: str | None = None
    identity_pattern: str | None = None
    github: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if (self.identity is None) == (self.identity_pattern is None):
            raise ValueError("give exactly one of identity and identity_pattern")
        unknown = [claim for claim, _ in self.github if claim not in GITHUB_CLAIMS]
        if unknown:
            raise ValueError(f"unknown GitHub claim(s) {unknown}; known: {', '.join(GITHUB_CLAIMS)}")

    def describe(self) -> str:
        who = self.identity if self.identity is not None else f"pattern {self.identity_pattern}"
        claims = "".join(f", {claim}={value}" for claim, value in self.github)
        return f"{who} from {self.issuer}{claims}"

    def mismatches(self, certificate: x509.Certificate) -> list[str]:
        """Why the certificate is not this signer; empty when it is."""
        reasons: list[str] = []
        issuer = certificate_claim(certificate, "issuer")
        if issuer != self.issuer:
            reasons.append(f"issuer is {issuer!r}, not {self.issuer!r}")
        names = certificate_identities(certificate)
        if self.identity is not None and self.identity not in names:
            reasons.append(f"identity is {', '.join(names) or 'missing'}, not {self.identity!r}")
        if self.identity_pattern is not None and not any(glob_matches(self.identity_pattern, n) for n in names):
            reasons.append(f"identity {', '.join(names) or 'missing'} does not match {self.identity_pattern!r}")
        for claim, pattern in self.github:
            value = certificate_claim(certificate, claim)
            if value is None:
                reasons.append(f"the certificate has no GitHub {claim} claim (wanted {pattern!r})")
            elif not glob_matches(pattern, value):
                reasons.append(f"GitHub {claim} is {value!r}, not {pattern!r}")
        return reasons
