"""`check`: one decision before a model is loaded or deployed, from numbered steps that each fail closed.

1. signature   the model verifies against a signer the trust policy accepts for it;
2. unsigned    every file a loader could read is signed: files the signer left out (ignore paths) fail the
               check unless the policy's `[check] allow-unsigned` patterns accept them;
3. metadata    documents bound to the model (model.meta.sig), if any, are signed by a trusted signer;
4. bom         the signed ML-BOM (model.bom.sig, an OCI artifact's referrer, or `--bom FILE`): required by
               `[check] require-bom`, else checked if present;
5. licenses    the licences the model declares, and those its LICENSE texts are, are accepted by the policy's
               `[licenses]` (if it sets any);
6. attestation a scan attestation beside the model, if any, is signed by a trusted attester and names exactly
               the verified bytes, the current scan policy and a scanner no older than this one; otherwise the
               model is scanned now;
7. scan        every file present, signed or not: no finding at or above the policy's threshold, and no file
               left unread (unsigned files are always scanned now: no attestation covers them);
8. secrets     no credential in the model at or above the policy's `[secrets] fail-on` (medium: any).

A step that fails makes the check fail; one that cannot conclude makes it inconclusive; never "pass".
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from modelseal import __version__
from modelseal.attest.attest import scan_model_files
from modelseal.attest.predicate import ScanAttestation, parse_scan_statement
from modelseal.bom.facts import Readable
from modelseal.errors import FileChangedError, ModelsealError, VerificationError
from modelseal.hashing.reader import ProgressCallback
from modelseal.layout import default_attestation_path, default_bom_path, default_metadata_path, default_signature_path
from modelseal.oms.bundle import parse_bundle, read_bundle, read_bundle_bytes
from modelseal.oms.manifest import Manifest
from modelseal.oms.metadata import parse_metadata_statement
from modelseal.policy.trust import TrustPolicy, load_trust_policy
from modelseal.scanning.cache import scan_cache_at
from modelseal.scanning.policy import load_policy, policy_digest
from modelseal.scanning.pool import SERIAL, Workers, scan_targets
from modelseal.scanning.report import ScanSummary
from modelseal.scanning.scanner import ScanOptions, iter_files, symlink_boundary
from modelseal.signature import VerifyResult, verify
from modelseal.signing.base import SignerIdentity, Verifier

if TYPE_CHECKING:
    from modelseal.remote import RemoteLocation


T = TypeVar("T")
Candidate = tuple[str, Path | bytes]  # a document to consider: where it came from, and its file or its bytes


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckStep:
    name: str
    outcome: Outcome
    summary: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    model: Path | str  # a path, or a remote model's location
    steps: tuple[CheckStep, ...]
    signer: SignerIdentity | None = None
    root_digest: str | None = None
    scan: ScanSummary | None = None
    scan_source: str | None = None  # "attestation" or "scan"
    attester: SignerIdentity | None = field(default=None)
    manifest: Manifest | None = field(default=None, repr=False)  # what the signature vouched for

    @property
    def verdict(self) -> Outcome:
        outcomes = {step.outcome for step in self.steps}
        if Outcome.FAILED in outcomes:
            return Outcome.FAILED
        if Outcome.INCONCLUSIVE in outcomes:
            return Outcome.INCONCLUSIVE
        return Outcome.PASSED


def _signature_step(
    model: Path, policy: TrustPolicy, signature: Path | None, workers: int | None, progress: ProgressCallback | None
) -> tuple[CheckStep, VerifyResult | None]:
    path = signature or default_signature_path(model)
    if not path.is_file():
        return CheckStep("signature", Outcome.FAILED, f"the model is not signed: {path} does not exist"), None
    try:
        result = verify(model, policy.verifier_for(model), signature=path, workers=workers, progress=progress)
    except VerificationError as exc:
        return CheckStep("signature", Outcome.FAILED, exc.message, exc.details), None
    except FileChangedError as exc:
        return CheckStep("signature", Outcome.INCONCLUSIVE, exc.message, exc.details), None
    summary = f"{result.files_verified} file(s) verified, signed by {result.signer.summary}"
    return CheckStep("signature", Outcome.PASSED, summary), result


def unsigned_files(model: Path, excluded_present: tuple[str, ...]) -> tuple[tuple[str, Path], ...]:
    """(model-relative name, path) of every file under the entries the signature and the verifier left out: a
    loader resuming training or calling from_pretrained reads them whatever the signer meant."""
    if not model.is_dir():
        return ()
    found = []
    for entry in excluded_present:
        for path in iter_files([model / entry]):
            found.append((path.relative_to(model).as_posix(), path))
    return tuple(found)


def unsigned_step(policy: TrustPolicy, unsigned: tuple[tuple[str, Path], ...]) -> CheckStep:
    refused = [name for name, _ in unsigned if not policy.allows_unsigned(name)]
    if refused:
        lines = (
            *(f"{name}: not signed" for name in refused),
            "sign the model with them, remove them, or allow them by pattern in the policy ([check] allow-unsigned)",
        )
        return CheckStep("unsigned", Outcome.FAILED, f"{len(refused)} file(s) in the model are not signed", lines)
    if unsigned:
        summary = f"{len(unsigned)} unsigned file(s), allowed by the policy's [check] allow-unsigned (scanned now)"
        return CheckStep("unsigned", Outcome.PASSED, summary, tuple(name for name, _ in unsigned))
    return CheckStep("unsigned", Outcome.PASSED, "every file in the model is signed")


def _signed_document(path: Path, verifier: Verifier, parse: Callable[[bytes], T]) -> tuple[SignerIdentity, T]:
    """A document beside the model (a scan attestation, metadata): read within its bounds, and its signature
    checked against the policy before anything in its statement is parsed."""
    bundle = read_bundle(path)
    return verifier.verify(bundle), parse(bundle.payload)


def _attestation_step(
    model: Path, policy: TrustPolicy, verified: VerifyResult, path: Path, digest: str
) -> tuple[CheckStep, ScanAttestation | None, SignerIdentity | None]:
    if not policy.scan.use_attestations:
        return CheckStep("attestation", Outcome.SKIPPED, "the policy does not accept scan attestations"), None, None
    if not path.is_file():
        return CheckStep("attestation", Outcome.SKIPPED, f"no scan attestation ({path.name}): scanning now"), None, None
    try:
        attester, attestation = _signed_document(path, policy.attestation_verifier_for(model), parse_scan_statement)
    except VerificationError as exc:
        reason = f"the scan attestation {path.name} is not trusted: {exc.message}"
        return CheckStep("attestation", Outcome.FAILED, reason, exc.details), None, None
    if attestation.root_digest != verified.manifest.root_digest():
        reason = "the scan attestation was made for other bytes (the model changed since): scanning now"
        return CheckStep("attestation", Outcome.SKIPPED, reason), None, None
    if attestation.policy_digest != digest:
        reason = "the scan attestation was made under another scan policy or scanner release: scanning now"
        return CheckStep("attestation", Outcome.SKIPPED, reason), None, None
    if _release(attestation.scanner_version) < _release(__version__):
        reason = (
            f"the scan attestation was made by modelseal {attestation.scanner_version}, older than this "
            f"{__version__}, which may detect more: scanning now"
        )
        return CheckStep("attestation", Outcome.SKIPPED, reason), None, None
    summary = (
        f"trusted: scanned {attestation.scanned_at} by modelseal {attestation.scanner_version}, "
        f"attested by {attester.summary}"
    )
    return CheckStep("attestation", Outcome.PASSED, summary), attestation, attester


def _release(version: str) -> tuple[int, ...]:
    """`1.2.3` as (1, 2, 3); anything unparsable sorts first, so it is never taken for a newer scanner."""
    parts = []
    for part in version.split("."):
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            return (-1,)
        parts.append(int(digits))
    return tuple(parts)


def _metadata_step(model: Path, policy: TrustPolicy, verified: VerifyResult) -> CheckStep:
    """Documents bound to the model (model.meta.sig), when present: signed by a trusted signer, for these bytes."""
    path = default_metadata_path(model)
    if not path.is_file():
        return CheckStep("metadata", Outcome.SKIPPED, "no metadata attestation")
    try:
        signer, metadata = _signed_document(path, policy.verifier_for(model), parse_metadata_statement)
    except VerificationError as exc:
        return CheckStep("metadata", Outcome.FAILED, f"{path.name} is not trusted: {exc.message}", exc.details)
    if metadata.root_digest != verified.manifest.root_digest():
        return CheckStep("metadata", Outcome.SKIPPED, f"{path.name} describes other bytes (made before a change)")
    documents = tuple(
        f"{d.name} ({d.media_type}, {len(d.content)} bytes, sha256:{d.sha256})" for d in metadata.documents
    )
    summary = f"{len(documents)} document(s) bound to these bytes by {signer.summary}"
    return CheckStep("metadata", Outcome.PASSED, summary, documents)


def _bom_step(documents: Sequence[Candidate], policy: TrustPolicy, model: Path | str, root: str) -> CheckStep:
    """Signed ML-BOMs (where each came from, and the file or the bytes: model.bom.sig, the file given, or the
    referrers of an OCI artifact): one signed by a trusted signer for these bytes passes; required if the policy
    says so (`[check] require-bom`), else checked when present."""
    from modelseal.bom.statement import parse_bom_statement

    missing = Outcome.FAILED if policy.require_bom else Outcome.SKIPPED
    if not documents:
        return CheckStep(
            "bom", missing, "no signed ML-BOM" + (" (the policy requires one)" if policy.require_bom else "")
        )
    refused = []
    for where, source in documents:
        try:  # a file past the bundle bound is refused here, like a malformed one
            bundle = parse_bundle(read_bundle_bytes(source) if isinstance(source, Path) else source)
            signer, signed = policy.verifier_for(model).verify(bundle), parse_bom_statement(bundle.payload)
        except VerificationError as exc:
            refused.append(CheckStep("bom", Outcome.FAILED, f"{where} is not trusted: {exc.message}", exc.details))
            continue
        if signed.root_digest != root:
            refused.append(CheckStep("bom", missing, f"{where} describes other bytes (made before a change)"))
            continue
        return CheckStep("bom", Outcome.PASSED, f"{signed.format} ML-BOM on these bytes, signed by {signer.summary}")
    return refused[0]


def _local_bom(path: Path) -> list[Candidate]:
    """model.bom.sig (or the file given) as a candidate for `_bom_step`, which reads it within the bundle bound."""
    return [(path.name, path)] if path.is_file() else []


def licenses_step(policy: TrustPolicy, files: Sequence[Readable]) -> CheckStep:
    """The model's licences (declared by its card, GGUF and safetensors metadata, or identified from its LICENSE
    texts, as SPDX) against `[licenses]`: every licence key of every expression is judged, so `A OR B` passes only
    if both would, and so is every candidate of a licence text that matches several equally."""
    import fnmatch

    rules = policy.licenses
    if not rules.active:
        return CheckStep("licenses", Outcome.SKIPPED, "the policy sets no licence rules")
    from modelseal.bom import require_extra
    from modelseal.bom.facts import license_keys, model_facts

    require_extra()
    facts = model_facts("", files)
    declared = [(expression, license_keys(expression)) for expression in facts.licenses]
    undecided = [t for t in facts.license_texts if not t.identified]
    declared += [(" or ".join(t.candidates), list(t.candidates)) for t in undecided if t.candidates]
    where = tuple(f"{e} (from {s})" for e, s in zip(facts.licenses, facts.license_sources, strict=True))
    where += tuple(t.describe() for t in undecided)

    def matches(key: str, patterns: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatch(key.lower(), p.lower()) for p in patterns)

    denied = [key for _, keys in declared for key in keys if matches(key, rules.deny)]
    unlisted = [key for _, keys in declared for key in keys if rules.allow and not matches(key, rules.allow)]
    if denied or unlisted:
        lines = [f"{k}: denied by the policy" for k in denied] + [
            f"{k}: not in the policy's allow list" for k in unlisted
        ]
        return CheckStep("licenses", Outcome.FAILED, "the model's licence is not accepted", (*lines, *where))
    if rules.allow and not declared:
        hint = "a model that declares no licence is refused when the policy lists allowed licences"
        return CheckStep("licenses", Outcome.FAILED, "the model declares no licence", (hint, *where))
    summary = ", ".join(e for e, _ in declared) or "no licence declared"
    return CheckStep("licenses", Outcome.PASSED, f"{summary}: accepted by the policy", where)


def secrets_step(policy: TrustPolicy, summary: ScanSummary) -> CheckStep:
    """Credentials the scan found (rule `secret`), judged by the policy's `[secrets] fail-on`."""
    from modelseal.scanning.secrets import RULE

    found = [(r.path, f) for r in summary.results for f in r.findings if f.rule == RULE]
    lines = tuple(f"{path}{'!' + f.member if f.member else ''}: {f.message}" for path, f in found)
    threshold = policy.secrets_fail_on
    if found and threshold is not None and any(f.severity >= threshold for _, f in found):
        return CheckStep("secrets", Outcome.FAILED, f"{len(found)} credential(s) in the model", lines)
    if found:
        return CheckStep("secrets", Outcome.PASSED, f"{len(found)} credential(s), reported only ([secrets])", lines)
    return CheckStep("secrets", Outcome.PASSED, "no credentials found")


def scan_step(summary: ScanSummary, origin: str) -> CheckStep:
    """The scan's verdict as a step: findings at or above the threshold fail, files left unread are inconclusive.
    `origin` says where the results came from ("scanned now", "from the attestation")."""
    if summary.failing:
        lines = tuple(
            f"{result.path}: {finding.severity.name} {finding.message}"
            + (f" — would run {finding.payload}" if finding.payload else "")
            for result, finding in summary.failing
        )
        reason = f"{len(summary.failing)} finding(s) at or above {summary.fail_on.name} ({origin})"
        return CheckStep("scan", Outcome.FAILED, reason, lines)
    unread = summary.incomplete + summary.skipped
    if unread:
        lines = tuple(f"{r.path}: {'; '.join(r.notes) or 'not fully read'}" for r in unread)
        reason = f"{len(unread)} file(s) could not be fully scanned ({origin})"
        return CheckStep("scan", Outcome.INCONCLUSIVE, reason, lines)
    return CheckStep(
        "scan",
        Outcome.PASSED,
        f"{len(summary.results)} file(s), nothing at or above {summary.fail_on.name} ({origin})",
    )


def check(
    model: Path,
    policy: Path | TrustPolicy,
    *,
    signature: Path | None = None,
    attestation: Path | None = None,
    bom: Path | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    scan_workers: Workers = SERIAL,
    scan_cache: Path | None = None,
) -> CheckReport:
    """Decide whether `model` may be used under `policy` (a trust policy file or a loaded one). `workers` are
    hashing threads; `scan_workers` the processes that scan, when the model is scanned now; `scan_cache` a scan
    cache file whose verdicts on the signed digests are reused; `bom` a signed ML-BOM kept elsewhere than
    model.bom.sig."""
    model = Path(model)
    trust = policy if isinstance(policy, TrustPolicy) else load_trust_policy(policy)
    scan_policy = load_policy(trust.scan.pickle_policy)
    digest = policy_digest(trust.scan.pickle_policy)
    signature_step, verified = _signature_step(model, trust, signature, workers, progress)
    if verified is None:
        skipped = CheckStep("scan", Outcome.SKIPPED, "not scanned: the model's bytes are not vouched for")
        return CheckReport(model, (signature_step, skipped))
    unsigned = unsigned_files(model, verified.excluded_present)
    path = Path(attestation) if attestation else default_attestation_path(model)
    attestation_step, attested, attester = _attestation_step(model, trust, verified, path, digest)
    metadata = _metadata_step(model, trust, verified)
    named = [Readable.local(f.name, Path(f.path)) for f in verified.files]
    steps = [
        signature_step,
        unsigned_step(trust, unsigned),
        metadata,
        _bom_step(_local_bom(bom or default_bom_path(model)), trust, model, verified.manifest.root_digest()),
        licenses_step(trust, named),
        attestation_step,
    ]
    if attestation_step.outcome is Outcome.FAILED:
        steps.append(CheckStep("scan", Outcome.SKIPPED, "not scanned: the attestation step failed"))
        return CheckReport(
            model, tuple(steps), verified.signer, verified.manifest.root_digest(), manifest=verified.manifest
        )
    options = ScanOptions(policy=scan_policy)
    try:
        if attested is not None:
            results, source = attested.results, "attestation"
        else:
            with scan_cache_at(scan_cache, trust.scan.pickle_policy, options) as cache:
                results = scan_model_files(model, verified.files, verified.manifest, options, scan_workers, cache)
            source = "scan"
    except ModelsealError as exc:
        steps.append(CheckStep("scan", Outcome.INCONCLUSIVE, exc.message, exc.details))
        return CheckReport(
            model, tuple(steps), verified.signer, verified.manifest.root_digest(), manifest=verified.manifest
        )
    boundary = symlink_boundary(model)
    scanned = scan_targets([(where, boundary) for _, where in unsigned], options, scan_workers)
    results += tuple(
        dataclasses.replace(result, path=name) for result, (name, _) in zip(scanned, unsigned, strict=True)
    )
    summary = ScanSummary(results, trust.scan.fail_on)
    origin = "from the attestation" if source == "attestation" else "scanned now"
    if unsigned and source == "attestation":
        origin += f"; {len(unsigned)} unsigned file(s) scanned now"
    steps += [scan_step(summary, origin), secrets_step(trust, summary)]
    root = verified.manifest.root_digest()
    return CheckReport(model, tuple(steps), verified.signer, root, summary, source, attester, verified.manifest)


def _remote_boms(location: RemoteLocation, bom: Path | None) -> list[Candidate]:
    """The BOM given, else those referring to an OCI artifact (other stores keep none)."""
    if bom is not None:
        return _local_bom(bom)
    if location.scheme != "oci":
        return []
    from modelseal.remote import open_artifact
    from modelseal.remote.oci import BOM_ATTESTATION

    artifact = open_artifact(location)
    return [(artifact.where(BOM_ATTESTATION), data) for data in artifact.documents(BOM_ATTESTATION)]


def check_remote(
    location: RemoteLocation,
    policy: Path | TrustPolicy,
    *,
    signature: Path | None = None,
    bom: Path | None = None,
    scan_cache: Path | None = None,
    pull: bool = False,
) -> CheckReport:
    """`check` for a model where it lives: the signature (given, or found beside an OCI artifact), the signer
    policy, the signed ML-BOM (given, or found beside an OCI artifact), then a scan of the signed files and of any
    unsigned ones, read from the store. Scan and metadata attestations are not looked for remotely; the scan runs
    now."""
    from modelseal.remote.objects import open_remote_file
    from modelseal.remote.scan import scan_remote
    from modelseal.remote.signing import signed_model, verify_model

    trust = policy if isinstance(policy, TrustPolicy) else load_trust_policy(policy)
    model, bundles = signed_model(location, signature, pull=pull)
    try:
        verified = verify_model(model, bundles, trust.verifier_for(location.url))
    except VerificationError as exc:
        skipped = CheckStep("scan", Outcome.SKIPPED, "not scanned: the model's bytes are not vouched for")
        return CheckReport(model.location, (CheckStep("signature", Outcome.FAILED, exc.message, exc.details), skipped))
    summary = f"{verified.files_verified} file(s) verified, signed by {verified.signer.summary}"
    unsigned = tuple((name, Path(name)) for name in verified.excluded_present)
    wanted = {f.name for f in verified.files} | set(verified.excluded_present)
    chosen = dataclasses.replace(model, files=tuple(f for f in model.files if f.name in wanted))
    readable = [Readable(f.name, functools.partial(open_remote_file, f)) for f in chosen.files]
    root = verified.manifest.root_digest()
    steps = [
        CheckStep("signature", Outcome.PASSED, summary),
        unsigned_step(trust, unsigned),
        CheckStep("metadata", Outcome.SKIPPED, "metadata attestations are not read from remote stores"),
        _bom_step(_remote_boms(location, bom), trust, location.url, root),
        licenses_step(trust, readable),
        CheckStep("attestation", Outcome.SKIPPED, "scan attestations are not read from remote stores: scanning now"),
    ]
    options = ScanOptions(policy=load_policy(trust.scan.pickle_policy))
    with scan_cache_at(scan_cache, trust.scan.pickle_policy, options) as cache:
        scanned = ScanSummary(tuple(scan_remote(chosen, options, cache)), trust.scan.fail_on)
    steps += [scan_step(scanned, "scanned now, from the store"), secrets_step(trust, scanned)]
    return CheckReport(model.location, tuple(steps), verified.signer, root, scanned, "scan", None, verified.manifest)
