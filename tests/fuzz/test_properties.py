"""Property tests over every format's entry point, and a short campaign (scripts/fuzz runs the long one).

Each registered scanner is fed mutated and truncated bytes directly, bypassing sniffing: nothing but a named
bound may escape it, and no truncation of a live sample that a loader would still import from may pass.
"""

from __future__ import annotations

import contextlib
import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelseal.scanning.budget import Limits, ScanBoundError
from modelseal.scanning.context import ScanContext, ScanOptions
from modelseal.scanning.findings import Severity, Status
from modelseal.scanning.pickle.names import canonical
from modelseal.scanning.policy import DEFAULT_POLICY, Verdict
from modelseal.scanning.registry import REGISTRY, Format, scanner_for
from modelseal.scanning.scanner import scan_file
from tests.fuzz.campaign import run, summary
from tests.fuzz.mutate import mutate
from tests.fuzz.reference import called_names
from tests.fuzz.seeds import build_seeds

SEEDS = build_seeds("/nonexistent/modelseal-canary")
CORPUS = list(SEEDS.values())
LIVE = {name: data for name, data in SEEDS.items() if name.endswith("-live") or name == "pickle-no-proto"}


@pytest.mark.parametrize("fmt", list(REGISTRY), ids=lambda f: f.value)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, len(CORPUS) - 1), seed=st.integers(0, 2**32 - 1))
def test_every_format_scanner_survives_hostile_bytes(tmp_path: Path, fmt: Format, pick: int, seed: int) -> None:
    data = mutate(CORPUS[pick], CORPUS, random.Random(seed))
    ctx = ScanContext(tmp_path / "input", ScanOptions(limits=Limits(max_seconds=20)))
    with contextlib.suppress(ScanBoundError):  # a named bound: the engine reports it as INCOMPLETE
        scanner_for(fmt)(ctx, io.BytesIO(data), len(data), "", 0)


def _loadable(data: bytes) -> bool:
    """The reference loaders would import a name outside the allowlist from these bytes."""
    for name in called_names(data):
        module, _, attribute = name.rpartition(".")
        if DEFAULT_POLICY.verdict(".".join(canonical(module, attribute, 2))) is not Verdict.ALLOWED:
            return True
    return False


@pytest.mark.parametrize("name", sorted(LIVE))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 1.0))
def test_a_truncated_live_sample_that_still_loads_never_passes(tmp_path: Path, name: str, cut: float) -> None:
    data = LIVE[name][: int(len(LIVE[name]) * cut)]
    sample = tmp_path / "input"
    sample.write_bytes(data)
    result = scan_file(sample)
    passed = result.status in (Status.SCANNED, Status.UNSUPPORTED) and (
        result.worst is None or result.worst < Severity.HIGH
    )
    assert not (passed and _loadable(data)), result


def test_a_short_campaign_finds_nothing_and_runs_nothing() -> None:
    """The campaign's seeds carry a canary payload; it counts a canary created by anything as 'executed'."""
    counts = run(20, seed=0, save=None)
    assert counts["inputs"] >= 20
    assert set(counts) == {"inputs", "executed"} and counts["executed"] == 0, summary(counts)
