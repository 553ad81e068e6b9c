"""Lazy verification for sharded inference: the signature and the listing are checked once, and each weight file
is hashed and scanned when (and only when) it is opened for loading. A server that maps 3 of 30 shards reads 3.

    model = guard.LazyModel.open("./llama", policy="trust.toml")
    with model.safe_open("model-00001-of-00030.safetensors", framework="pt") as shard: ...

`guard.install(policy, lazy=True)` does the same for `from_pretrained`: files other than `.safetensors` weights
(configs, tokenizers, remote code, pickles) are verified and scanned at once, since transformers opens them itself;
safetensors shards are verified as `safe_open` / `load_file` reach them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelseal.guard.decide import UntrustedModelError
from modelseal.tree import unchanged

if TYPE_CHECKING:
    from modelseal.policy.trust import TrustPolicy
    from modelseal.signature import SignedModel

DEFERRED_SUFFIXES = (".safetensors",)  # read only through safetensors, whose openers the guard patches


@dataclass
class LazyModel:
    """A signed directory model whose files are verified one by one, each once."""

    signed: SignedModel
    policy: TrustPolicy
    verified: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, directory: str | Path, policy: str | Path) -> LazyModel:
        """Verify the signature against the policy and the listing against the signature; hash nothing."""
        from modelseal.errors import ModelsealError
        from modelseal.policy.trust import load_trust_policy
        from modelseal.signature import open_signed

        directory = Path(directory)
        trust = load_trust_policy(Path(policy))
        try:
            signed = open_signed(directory, trust.verifier_for(directory))
        except ModelsealError as exc:
            raise UntrustedModelError(f"{directory}: {exc.message}", details=exc.details) from exc
        model = cls(signed, trust)
        model._refuse_unsigned()
        return model

    @property
    def directory(self) -> Path:
        return Path(self.signed.model)

    def _refuse_unsigned(self) -> None:
        """As `check` does: files the signer left out fail unless the policy allows them; allowed ones are scanned."""
        from modelseal.attest.check import Outcome, unsigned_files, unsigned_step

        unsigned = unsigned_files(self.directory, self.signed.excluded_present)
        step = unsigned_step(self.policy, unsigned)
        if step.outcome is not Outcome.PASSED:
            raise UntrustedModelError(f"{self.directory}: {step.summary}", details=step.details)
        self._scan([name for name, _ in unsigned])

    def verify(self, names: Iterable[str]) -> None:
        """Hash and scan the named files that were not verified yet; raise `UntrustedModelError` on any doubt."""
        from modelseal.errors import ModelsealError

        with self._lock:
            pending = sorted(set(names) - self.verified)
            if not pending:
                return
            try:
                self.signed.verify_files(pending)
            except ModelsealError as exc:
                raise UntrustedModelError(f"{self.directory}: {exc.message}", details=exc.details) from exc
            self._scan(pending)
            self.verified.update(pending)

    def _scan(self, names: list[str]) -> None:
        from modelseal.attest.check import Outcome, scan_step
        from modelseal.scanning.policy import load_policy
        from modelseal.scanning.report import ScanSummary
        from modelseal.scanning.scanner import ScanOptions, scan_target, symlink_boundary

        if not names:
            return
        options = ScanOptions(policy=load_policy(self.policy.scan.pickle_policy))
        boundary = symlink_boundary(self.directory)
        results = tuple(scan_target(self.directory / name, boundary, options) for name in names)
        step = scan_step(ScanSummary(results, self.policy.scan.fail_on), "scanned on first use")
        if step.outcome is not Outcome.PASSED:
            raise UntrustedModelError(f"{self.directory}: {step.summary}", details=step.details)

    def verify_eager_part(self) -> None:
        """Everything a loader may open without a guarded opener: all but the deferred weight files."""
        self.verify(name for name in self.signed.files if not name.endswith(DEFERRED_SUFFIXES))

    def path(self, name: str) -> Path:
        """The file's path, once it is verified and still the file that was listed."""
        self.verify([name])
        path = self.directory / name
        if not unchanged(path, self.signed.files[name].identity):
            raise UntrustedModelError(f"{path} changed after it was verified")
        return path

    def safe_open(self, name: str, **kwargs: Any) -> Any:
        from safetensors import safe_open

        return safe_open(str(self.path(name)), **kwargs)

    def name_of(self, path: str | os.PathLike[str]) -> str | None:
        """The model-relative name of `path` when it lies in this model, else None."""
        try:  # abspath, not realpath: a Hugging Face snapshot's files are links into its blobs
            relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(self.directory))
        except ValueError:
            return None
        name = relative.as_posix()
        return name if name in self.signed.files else None
