"""`modelseal registry scan|sign|check`: many models at once, on this machine or a Ray cluster."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from modelseal.cli.exit_codes import for_verdicts
from modelseal.cli.keys import signer_options
from modelseal.cli.options import FILE, Scanning, option, scanning_options, stacked
from modelseal.cli.runner import run


@click.group()
def registry() -> None:
    """Scan, sign or check every model of a registry: a directory of models (NAME/ or ORG/NAME/), a Hugging Face
    hub cache, or a file listing model paths. One result line per model goes to --results; a rerun skips the
    models already there."""


_engine_options = stacked(
    option(
        "--engine",
        env="ENGINE",
        type=click.Choice(["local", "ray"]),
        default="local",
        help="Run tasks in this process's pool, or on Ray (pip install 'modelseal[ray]').",
    ),
    option(
        "--address",
        env="RAY_ADDRESS",
        default=None,
        help="With --engine ray: an existing cluster ('auto', 'ray://host:10001'); default: a local Ray "
        "started with --jobs CPUs and stopped afterwards.",
    ),
    option(
        "--results",
        env="RESULTS",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("modelseal-results.jsonl"),
        help="JSON Lines file the per-model results are appended to; models already in it are skipped.",
    ),
    scanning_options,
)


def _engine(engine: str, address: str | None, jobs: int) -> Any:
    from modelseal.registry.engines import LocalEngine, RayEngine

    return RayEngine(address, jobs) if engine == "ray" else LocalEngine(jobs)


def _finish(outcome: Any, results: Path) -> None:
    """One summary line; exit 1 if a model failed, 3 if one was inconclusive, else 0."""
    from modelseal.cli.render import out

    counts = {verdict: outcome.count(verdict) for verdict in ("passed", "failed", "inconclusive")}
    line = f"{len(outcome.records)} model(s): " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    if outcome.skipped:
        line += f"; {outcome.skipped} already in {results}, skipped"
    out.print(f"{line}; results in {results}", markup=False)
    sys.exit(for_verdicts([record["verdict"] for record in outcome.records]))


def _run_models(source: Path, options: dict[str, Any], sign: bool, signer: Callable[[], Any] | None) -> None:
    from modelseal.oms.options import HashingOptions
    from modelseal.registry.models import discover
    from modelseal.registry.run import RegistryJob, run_registry

    models = discover(source)
    scanning: Scanning = options["scanning"]
    job = RegistryJob(
        sign=sign,
        hashing=HashingOptions(hash_type=options.get("hash_type") or "sha256", shard_size=options.get("shard_size")),
        policy=options["policy"],
        workers=scanning.workers,
        cache=scanning.cache,
    )
    engine = _engine(options["engine"], options["address"], scanning.workers.jobs)
    try:
        outcome = run_registry(models, job, engine, options["results"], signer)
    finally:
        engine.close()
    if options.get("sarif") is not None:
        from modelseal.reporting import OutputFormat, View, emit, render_scan
        from modelseal.scanning.report import ScanSummary

        summary = ScanSummary(tuple(outcome.results), job.fail_on)
        emit(render_scan(OutputFormat.SARIF, summary, View()), options["sarif"])
    _finish(outcome, options["results"])


_policy = option("--policy", env="POLICY", type=FILE, default=None, help="Scan policy TOML (as for `scan --policy`).")
_sarif = option(
    "--sarif",
    env="SARIF",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write every file's findings of this run as one SARIF 2.1.0 report.",
)


@registry.command("scan")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@_policy
@_sarif
@_engine_options
def registry_scan(source: Path, **options: Any) -> None:
    """Scan every model of SOURCE."""
    run(lambda: _run_models(source, options, sign=False, signer=None))


@registry.command("sign")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@signer_options
@option(
    "--hash",
    "hash_type",
    env="HASH",
    type=click.Choice(["sha256", "blake2b", "blake3"]),
    default="sha256",
    help="Digest algorithm for files.",
)
@option(
    "--shard-size",
    env="SHARD_SIZE",
    type=click.IntRange(min=4096),
    default=None,
    help="Sign fixed-size shards (their hashing spreads over the cluster) instead of whole files.",
)
@_policy
@_sarif
@_engine_options
def registry_sign(
    source: Path,
    signer: Callable[[], Any],
    **options: Any,
) -> None:
    """Sign every model of SOURCE (MODEL/model.sig), scan it, and sign the scan (MODEL/model.scan.sig) on the
    same root digest. The key never leaves this machine: workers only hash and scan."""
    run(lambda: _run_models(source, options, sign=True, signer=signer))


@registry.command("check")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@option("--policy", env="TRUST_POLICY", type=FILE, required=True, help="Trust policy (TOML), as for `check`.")
@_engine_options
def registry_check(source: Path, policy: Path, **options: Any) -> None:
    """`modelseal check` every model of SOURCE, one task per model."""

    def action() -> None:
        from modelseal.registry.models import discover
        from modelseal.registry.run import check_registry

        models = discover(source)
        workers = options["scanning"].workers
        engine = _engine(options["engine"], options["address"], workers.jobs)
        try:
            outcome = check_registry(models, policy, workers, engine, options["results"])
        finally:
            engine.close()
        _finish(outcome, options["results"])

    run(action)
