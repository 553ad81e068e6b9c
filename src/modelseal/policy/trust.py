"""The trust policy file: which signers are trusted for which models. One TOML file replaces the per-method
verify options; the verification method is taken from the signature.

    version = 1

    [sigstore]                      # optional: the roots Sigstore signatures must chain to (default: shipped;
                                    # `online = true` refreshes them from Sigstore's TUF repository)
    trust-config = "private-sigstore.json"

    [[signers]]
    name = "release workflow"
    method = "sigstore"
    issuer = "https://token.actions.githubusercontent.com"
    identity-pattern = "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/v*"
    github = { repository = "acme/*", trigger = "push" }

    [[signers]]
    name = "ops key"
    method = "key"
    public-key = "keys/ops.pub"     # paths are relative to the policy file (or kms-uri = "awskms:///alias/ops":
                                    # the public key is read from AWS KMS when the policy is loaded)
    models = ["ops-*"]              # optional: model names (or paths, with a '/') this signer may sign

    [[signers]]
    name = "release CA"
    method = "certificate"
    certificate-chain = ["ca.pem"]  # the roots (and intermediates) to trust, nothing else
    extended-key-usage = "1.3.6.1.5.5.7.3.3"  # optional: what the leaf must carry (default codeSigning)
    tsa-certificates = ["tsa-root.pem"]       # optional: a timestamp authority whose RFC 3161 timestamps set the
                                              # time the certificate is judged at (it may have expired since)

    [check]                         # optional: files `check` accepts in a model without a signature (they are
    allow-unsigned = ["logs/**"]    # scanned all the same); `*` within a path segment, `**` across segments
    require-bom = true              # optional: fail without a signed ML-BOM (`attest bom`) on the verified bytes

    [licenses]                      # optional: the model's licences (card, GGUF, safetensors metadata, LICENSE texts),
    allow = ["Apache-2.0", "MIT"]   # as SPDX ids; `*` globs. Any denied licence fails; with `allow`, every
    deny = ["CC-BY-NC-*"]           # licence must be allowed and a model that declares none fails

    [secrets]                       # optional: credentials found in the model (cloud keys, tokens, private keys)
    fail-on = "medium"              # fail `check` (the default); "never" only reports them

Every key is checked: a misspelt key, a wrong type or a missing file is an error naming the line, never ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from modelseal.errors import InputError, VerificationError
from modelseal.oms.bundle import Bundle
from modelseal.policy.toml_source import KeyPath, TomlSource
from modelseal.scanning.findings import Severity
from modelseal.scanning.policy import load_policy
from modelseal.signing.base import SignerIdentity, Verifier
from modelseal.signing.identity import GITHUB_CLAIMS, SigstoreIdentity, glob_matches
from modelseal.signing.sigstore import SigstoreTrust, SigstoreVerifier

POLICY_VERSION = 1
_COMMON_KEYS = {"name", "method", "models"}
_METHOD_KEYS = {
    "key": {"public-key", "kms-uri"},
    "certificate": {"certificate-chain", "identity", "extended-key-usage", "tsa-certificates"},
    "sigstore": {"issuer", "identity", "identity-pattern", "github"},
}
_TOP_KEYS = {"version", "sigstore", "signers", "scan", "check", "licenses", "secrets"}
_SIGSTORE_KEYS = {"trusted-root", "trust-config", "staging", "online"}
_SCAN_KEYS = {"fail-on", "use-attestations", "attesters", "pickle-policy"}


@dataclass(frozen=True)
class ScanRequirements:
    """What `check` demands of the scan: no finding at or above `fail_on`, nothing left unread. A signed scan
    attestation by one of `attesters` (policy signer names; none named: any policy signer) may stand in for
    scanning again."""

    fail_on: Severity = Severity.HIGH
    use_attestations: bool = True
    attesters: tuple[str, ...] = ()
    pickle_policy: Path | None = None


@dataclass(frozen=True)
class LicenseRules:
    """What `check` accepts of a model's declared licences (SPDX ids; `*` globs): any licence matching `deny`
    fails; with `allow`, every licence must match it and a model declaring none fails."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.allow or self.deny)


@dataclass(frozen=True)
class TrustedSigner:
    name: str
    method: str
    models: tuple[str, ...]
    verifier: Verifier  # for sigstore: a verifier of this one identity (several are combined at verification)
    sigstore_identity: SigstoreIdentity | None = None

    def covers(self, model: Path | str) -> bool:
        """Whether this signer may sign `model`: patterns with '/' match the absolute path (or a remote model's
        URL, as given), others its name."""
        if not self.models:
            return True
        full, name = model_names(model)
        return any(glob_matches(p, full if "/" in p else name) for p in self.models)


def model_names(model: Path | str) -> tuple[str, str]:
    """(full, short) name of a model: its absolute path and base name, or a URL and its repository's last part
    without tag or digest (`oci://host/team/bert:v1` -> `bert`)."""
    if isinstance(model, str):
        last = model.split("@", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return model, last.split(":", 1)[0]
    resolved = model.resolve()
    return resolved.as_posix(), resolved.name


@dataclass(frozen=True)
class TrustPolicy:
    path: Path
    signers: tuple[TrustedSigner, ...]
    sigstore_trust: SigstoreTrust
    scan: ScanRequirements = ScanRequirements()
    allow_unsigned: tuple[str, ...] = ()  # model-relative globs of files `check` accepts unsigned
    require_bom: bool = False  # `check` fails without a signed ML-BOM (model.bom.sig) on the verified bytes
    licenses: LicenseRules = LicenseRules()
    secrets_fail_on: Severity | None = Severity.MEDIUM  # secret findings at or above this fail `check`; None: never

    def allows_unsigned(self, name: str) -> bool:
        return any(glob_matches(pattern, name) for pattern in self.allow_unsigned)

    def verifier_for(self, model: Path | str) -> PolicyVerifier:
        return PolicyVerifier(self, model)

    def attestation_verifier_for(self, model: Path | str) -> PolicyVerifier:
        return PolicyVerifier(self, model, self.scan.attesters)


class _Reader:
    """Validates the parsed TOML against the schema, with errors that point at the line."""

    def __init__(self, source: TomlSource) -> None:
        self.source = source
        self.base = source.path.parent

    def fail(self, at: KeyPath, message: str, *details: str) -> InputError:
        return self.source.error(at, message, *details)

    def check_keys(self, table: dict[str, Any], allowed: set[str], at: KeyPath, where: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail((*at, key), f"unknown key {key!r} in {where}", f"allowed: {', '.join(sorted(allowed))}")

    def text(self, table: dict[str, Any], key: str, at: KeyPath, *, required: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(at, f"{key!r} is required here")
            return None
        if not isinstance(value, str) or not value:
            raise self.fail((*at, key), f"{key!r} must be a non-empty string")
        return value

    def texts(self, table: dict[str, Any], key: str, at: KeyPath) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail((*at, key), f"{key!r} must be a list of non-empty strings")
        return tuple(value)

    def flag(self, table: dict[str, Any], key: str, at: KeyPath, default: bool = False) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail((*at, key), f"{key!r} must be true or false")
        return value

    def file(self, relative: str, at: KeyPath) -> Path:
        path = self.base / relative
        if not path.is_file():
            raise self.fail(at, f"file {relative!r} not found (looked for {path})")
        return path

    def loaded(self, at: KeyPath, load: Any) -> Any:
        """Run a loader (keys, certificates); its error gets the line."""
        try:
            return load()
        except InputError as exc:
            raise self.fail(at, exc.message, *exc.details) from exc

    def sigstore_trust(self) -> SigstoreTrust:
        table = self.source.data.get("sigstore", {})
        if not isinstance(table, dict):
            raise self.fail(("sigstore",), "[sigstore] must be a table")
        self.check_keys(table, _SIGSTORE_KEYS, ("sigstore",), "[sigstore]")
        roots = [k for k in ("trusted-root", "trust-config") if k in table]
        if len(roots) > 1:
            raise self.fail(("sigstore", roots[1]), "give trusted-root or trust-config, not both")
        staging, online = (self.flag(table, key, ("sigstore",)) for key in ("staging", "online"))
        files = {k: self.file(v, ("sigstore", k)) for k in roots if (v := self.text(table, k, ("sigstore",)))}
        return SigstoreTrust(files.get("trusted-root"), files.get("trust-config"), staging, online)

    def signer(self, index: int, table: Any, trust: SigstoreTrust) -> TrustedSigner:
        at: KeyPath = ("signers", index)
        if not isinstance(table, dict):
            raise self.fail(at, "each signer must be a table ([[signers]])")
        method = self.text(table, "method", at, required=True)
        if method not in _METHOD_KEYS:
            raise self.fail((*at, "method"), f"unknown method {method!r}", f"use one of {', '.join(_METHOD_KEYS)}")
        self.check_keys(table, _COMMON_KEYS | _METHOD_KEYS[method], at, f"a {method} signer")
        name = self.text(table, "name", at) or f"signer {index + 1} ({method})"
        models = self.texts(table, "models", at)
        if method == "key":
            from modelseal.signing.key import KeyVerifier

            kms_uri = self.text(table, "kms-uri", at)
            if kms_uri is not None and "public-key" not in table:
                from modelseal.signing.kms import KmsKey

                kms = self.loaded((*at, "kms-uri"), lambda: KeyVerifier(KmsKey(kms_uri).public_key()))
                return TrustedSigner(name, method, models, kms)
            if kms_uri is not None:
                raise self.fail(at, "a key signer names 'public-key' or 'kms-uri', not both")
            path = self.file(self.text(table, "public-key", at, required=True) or "", (*at, "public-key"))
            return TrustedSigner(
                name, method, models, self.loaded((*at, "public-key"), lambda: KeyVerifier.from_file(path))
            )
        if method == "certificate":
            chain = [self.file(p, (*at, "certificate-chain")) for p in self.texts(table, "certificate-chain", at)]
            if not chain:
                raise self.fail(at, "a certificate signer needs 'certificate-chain' (the certificates to trust)")
            identity = self.text(table, "identity", at)
            usage = self.text(table, "extended-key-usage", at) or "1.3.6.1.5.5.7.3.3"  # codeSigning
            try:
                required = x509.ObjectIdentifier(usage)
            except ValueError as exc:
                raise self.fail((*at, "extended-key-usage"), f"{usage!r} is not a dotted OID") from exc
            from modelseal.signing.certificate import CertificateVerifier

            tsa = [self.file(p, (*at, "tsa-certificates")) for p in self.texts(table, "tsa-certificates", at)]
            verifier = self.loaded(
                (*at, "certificate-chain"), lambda: CertificateVerifier.from_files(chain, identity, required, tsa)
            )
            return TrustedSigner(name, method, models, verifier)
        return self.sigstore_signer(table, at, name, models, trust)

    def sigstore_signer(
        self, table: dict[str, Any], at: KeyPath, name: str, models: tuple[str, ...], trust: SigstoreTrust
    ) -> TrustedSigner:
        issuer = self.text(table, "issuer", at, required=True) or ""
        identity, pattern = self.text(table, "identity", at), self.text(table, "identity-pattern", at)
        if (identity is None) == (pattern is None):
            raise self.fail(at, "a sigstore signer needs exactly one of 'identity' and 'identity-pattern'")
        github = table.get("github", {})
        if not isinstance(github, dict):
            raise self.fail((*at, "github"), "'github' must be a table of claim = pattern")
        self.check_keys(github, set(GITHUB_CLAIMS), (*at, "github"), "github claims")
        claims = tuple((claim, self.text(github, claim, (*at, "github")) or "") for claim in github)
        identity_rule = SigstoreIdentity(issuer, identity, pattern, claims)
        return TrustedSigner(name, "sigstore", models, SigstoreVerifier((identity_rule,), trust), identity_rule)

    def scan(self, signer_names: set[str]) -> ScanRequirements:
        table = self.source.data.get("scan", {})
        if not isinstance(table, dict):
            raise self.fail(("scan",), "[scan] must be a table")
        self.check_keys(table, _SCAN_KEYS, ("scan",), "[scan]")
        fail_on = self.text(table, "fail-on", ("scan",)) or "high"
        if fail_on.upper() not in Severity.__members__:
            raise self.fail(("scan", "fail-on"), f"fail-on {fail_on!r} is not a severity")
        use = self.flag(table, "use-attestations", ("scan",), default=True)
        attesters = self.texts(table, "attesters", ("scan",))
        for index, name in enumerate(attesters):
            if name not in signer_names:
                raise self.fail(("scan", "attesters", index), f"attester {name!r} is not the name of a signer")
        pickle_policy = self.text(table, "pickle-policy", ("scan",))
        path = self.file(pickle_policy, ("scan", "pickle-policy")) if pickle_policy else None
        if path is not None:
            self.loaded(("scan", "pickle-policy"), lambda: load_policy(path))
        return ScanRequirements(Severity.parse(fail_on), use, attesters, path)

    def policy(self) -> TrustPolicy:
        data = self.source.data
        self.check_keys(data, _TOP_KEYS, (), "the policy")
        version = data.get("version")
        if version != POLICY_VERSION:
            raise self.fail(("version",), f"'version = {POLICY_VERSION}' is required (found {version!r})")
        trust = self.sigstore_trust()
        signers = data.get("signers", [])
        if not isinstance(signers, list) or not signers:
            raise self.fail(("signers",), "the policy trusts no signer: add at least one [[signers]] table")
        trusted = tuple(self.signer(i, s, trust) for i, s in enumerate(signers))
        seen: set[str] = set()
        for index, signer in enumerate(trusted):
            if signer.name in seen:
                raise self.fail(("signers", index, "name"), f"signer name {signer.name!r} is used twice")
            seen.add(signer.name)
        allow_unsigned, require_bom = self.check_table()
        scan = self.scan({s.name for s in trusted})
        return TrustPolicy(
            self.source.path, trusted, trust, scan, allow_unsigned, require_bom, self.licenses(), self.secrets()
        )

    def secrets(self) -> Severity | None:
        table = self.source.data.get("secrets", {})
        if not isinstance(table, dict):
            raise self.fail(("secrets",), "[secrets] must be a table")
        self.check_keys(table, {"fail-on"}, ("secrets",), "[secrets]")
        level = (self.text(table, "fail-on", ("secrets",)) or "medium").lower()
        if level == "never":
            return None
        if level.upper() not in Severity.__members__:
            raise self.fail(("secrets", "fail-on"), f"fail-on {level!r} is not a severity or 'never'")
        return Severity.parse(level)

    def licenses(self) -> LicenseRules:
        table = self.source.data.get("licenses", {})
        if not isinstance(table, dict):
            raise self.fail(("licenses",), "[licenses] must be a table")
        self.check_keys(table, {"allow", "deny"}, ("licenses",), "[licenses]")
        return LicenseRules(self.texts(table, "allow", ("licenses",)), self.texts(table, "deny", ("licenses",)))

    def check_table(self) -> tuple[tuple[str, ...], bool]:
        """[check]: the globs of files accepted unsigned, and whether a signed ML-BOM is required."""
        table = self.source.data.get("check", {})
        if not isinstance(table, dict):
            raise self.fail(("check",), "[check] must be a table")
        self.check_keys(table, {"allow-unsigned", "require-bom"}, ("check",), "[check]")
        required = table.get("require-bom", False)
        if not isinstance(required, bool):
            raise self.fail(("check", "require-bom"), "require-bom must be true or false")
        return self.texts(table, "allow-unsigned", ("check",)), required


def load_trust_policy(path: Path) -> TrustPolicy:
    return _Reader(TomlSource.read(path, "policy file")).policy()


@dataclass(frozen=True)
class PolicyVerifier:
    """Verifies a bundle against every policy signer of the bundle's method that covers the model."""

    policy: TrustPolicy
    model: Path | str  # a path, or a remote model's URL
    only: tuple[str, ...] = ()  # signer names to consider; empty: all
    method: str = "policy"

    def verify(self, bundle: Bundle) -> SignerIdentity:
        candidates = [
            s
            for s in self.policy.signers
            if s.method == bundle.method and s.covers(self.model) and (not self.only or s.name in self.only)
        ]
        if not candidates:
            raise VerificationError(
                f"the policy trusts no {bundle.method} signer for {model_names(self.model)[1]}",
                details=(f"policy: {self.policy.path}", f"the model was signed with the {bundle.method!r} method"),
            )
        if bundle.method == "sigstore":
            identities = tuple(s.sigstore_identity for s in candidates if s.sigstore_identity is not None)
            signer, matched = SigstoreVerifier(identities, self.policy.sigstore_trust).verify_matching(bundle)
            return _named(signer, next(s.name for s in candidates if s.sigstore_identity == matched))
        failures: list[str] = []
        for candidate in candidates:
            try:
                return _named(candidate.verifier.verify(bundle), candidate.name)
            except VerificationError as exc:
                failures.append(f"{candidate.name}: {exc.message}")
        raise VerificationError("no signer trusted by the policy made this signature", details=tuple(failures))


def _named(identity: SignerIdentity, name: str) -> SignerIdentity:
    return SignerIdentity(
        identity.method, f"{identity.summary} [policy signer: {name}]", {**identity.details, "policy_signer": name}
    )
