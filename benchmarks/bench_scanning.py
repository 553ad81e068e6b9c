"""Time `modelseal scan` against modelscan, picklescan, fickling and ModelAudit on the same inputs, in one run.

    pip install -e '.[test]'               # torch, to build the PyTorch checkpoint input
    python benchmarks/bench_scanning.py    # installs the peers from PyPI into WORKDIR/peers-venv first

Inputs: a 200 MB PyTorch zip checkpoint, a 100 MB benign plain pickle of many small objects, a pickle of about
2.4 million opcodes, and the whole peer corpus directory (tests/fixtures/peer-corpora). Each tool runs as its
own process; best of --repeat runs; peak memory is the process tree's summed high-water RSS. The verdict column
is what the tool's exit code says (flagged or not); a tool that errors is marked so. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import pickletools
import subprocess
import sys
import venv
from pathlib import Path

from measure import Run, timed

PEERS = ("picklescan", "fickling", "modelscan", "modelaudit")
QUIET = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "MODELAUDIT_DISABLE_TELEMETRY": "1"}
REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "fixtures" / "peer-corpora"


def peers_venv(work: Path, install: bool) -> Path:
    env = work / "peers-venv"
    if install and not (env / "bin" / "modelaudit").exists():
        venv.create(env, with_pip=True)
        subprocess.run([str(env / "bin" / "pip"), "install", "-q", *PEERS], check=True)
    return env / "bin"


def build_inputs(work: Path) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = work / "checkpoint-200mb.pt"
    if not checkpoint.exists():
        import torch

        layers = {f"layer{i}.weight": torch.randn(1024, 1024) for i in range(50)}  # 50 x 4 MiB
        torch.save(layers, checkpoint)
    many = work / "many-small-objects-100mb.pkl"
    if not many.exists():
        rows = [{"id": i, "name": f"row-{i}", "tags": ["a", "b"], "score": i * 0.5} for i in range(2_100_000)]
        many.write_bytes(pickle.dumps(rows, protocol=4))
    opcodes = work / "opcodes-2.4m.pkl"
    if not opcodes.exists():
        opcodes.write_bytes(pickle.dumps([[i, str(i)] for i in range(400_000)], protocol=2))
    return {
        "pytorch zip 200 MB": checkpoint,
        "plain pickle 100 MB": many,
        "2.4M-opcode pickle": opcodes,
        "peer corpus (dir)": CORPUS,
    }


def command(tool: str, target: Path, bin_dir: Path) -> list[str]:
    if tool == "modelseal":
        return [str(Path(sys.executable).parent / "modelseal"), "scan", str(target), "--format", "json"]
    if tool == "picklescan":
        return [str(bin_dir / "picklescan"), "--path", str(target)]
    if tool == "modelscan":
        return [str(bin_dir / "modelscan"), "-p", str(target)]
    if tool == "modelaudit":
        return [str(bin_dir / "modelaudit"), "scan", str(target)]
    files = [str(p) for p in sorted(target.rglob("*")) if p.is_file()] if target.is_dir() else [str(target)]
    loop = 'for f in "$@"; do "$0" --check-safety "$f" >/dev/null 2>&1 || s=1; done; exit ${s:-0}'
    return ["sh", "-c", loop, str(bin_dir / "fickling"), *files]


def verdict(run: Run) -> str:
    return {0: "clean", 1: "flagged"}.get(run.returncode, f"exit {run.returncode}")


def labelled_sets(work: Path) -> dict[str, list[tuple[Path, str]]]:
    """The peer corpus's pickle-family samples as labelled in labels.json, and the sets of detection_set.py."""
    from detection_set import build

    labels = [e for e in json.loads((CORPUS / "labels.json").read_text()) if e["format"] == "pickle-family"]
    return {"peer corpora (pickle family)": [(CORPUS / e["path"], e["label"]) for e in labels], **build(work)}


def refused(tool: str, run: Run) -> bool:
    """Whether the tool stops the file: modelseal refuses findings at or above HIGH (exit 1) and files it could
    not fully read (exit 3); the peers flag with exit 1."""
    return run.returncode in ((1, 3) if tool == "modelseal" else (1,))


def detection(bin_dir: Path, tools: list[str], work: Path) -> None:
    """Per labelled sample: which tools stop it (malicious caught, benign falsely flagged, benign refused because
    it could not be read: modelseal's exit 3), set by set."""
    for name, samples in labelled_sets(work).items():
        malicious = sum(1 for _, label in samples if label == "malicious")
        print(f"\n{name}: {malicious} malicious, {len(samples) - malicious} benign")
        print(f"{'tool':<12}{'caught':>10}{'missed':>8}{'false alarms':>14}{'incomplete':>12}{'errors':>8}")
        for tool in tools:
            caught = false_alarms = incomplete = errors = 0
            missed: list[str] = []
            for path, label in samples:
                run = timed(command(tool, path, bin_dir), check=False, env=QUIET, cwd=bin_dir.parent)
                stopped = refused(tool, run)
                errors += run.returncode not in (0, 1, 3)
                if label == "malicious":
                    caught += stopped
                    if not stopped:
                        missed.append(path.name)
                elif run.returncode == 1:
                    false_alarms += 1
                elif stopped:
                    incomplete += 1  # refused unread (encrypted, unreadable), not alarmed
            benign = len(samples) - malicious
            print(
                f"{tool:<12}{f'{caught}/{malicious}':>10}{len(missed):>8}{f'{false_alarms}/{benign}':>14}"
                f"{incomplete:>12}{errors:>8}"
            )
            if tool == "modelseal" and missed:
                print(f"{'':<12}missed: {', '.join(missed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "work")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-install", action="store_true", help="use peers already in WORKDIR/peers-venv")
    parser.add_argument("--tools", default="modelseal," + ",".join(PEERS))
    parser.add_argument("--detection", action="store_true", help="count detections per labelled corpus sample")
    args = parser.parse_args()
    bin_dir = peers_venv(args.workdir, not args.no_install)
    if args.detection:
        detection(bin_dir, args.tools.split(","), args.workdir)
        return
    inputs = build_inputs(args.workdir)
    opcode_count = sum(1 for _ in pickletools.genops(inputs["2.4M-opcode pickle"].read_bytes()))
    print(f"inputs in {args.workdir}; the opcode pickle has {opcode_count:,} opcodes; {os.cpu_count()} cores\n")
    header = f"{'input':<22}{'tool':<12}{'seconds':>9}{'peak MB':>9}  {'verdict':<10}{'vs modelseal':>13}"
    print(header)
    print("-" * len(header))
    for label, target in inputs.items():
        base: float | None = None
        for tool in args.tools.split(","):
            runs = [
                timed(command(tool, target, bin_dir), check=False, env=QUIET, cwd=args.workdir)
                for _ in range(args.repeat)
            ]
            best = min(runs, key=lambda r: r.seconds)
            if tool == "modelseal":
                base = best.seconds
            ratio = f"{best.seconds / base:>12.1f}x" if base else ""
            print(
                f"{label:<22}{tool:<12}{best.seconds:>9.2f}{max(r.peak_mb for r in runs):>9.0f}  "
                f"{verdict(best):<10}{ratio}"
            )
        print()
    print("modelseal exit codes: 0 clean, 1 flagged (>= HIGH), 3 incomplete. Peers: 0 clean, 1 flagged, other = error.")


if __name__ == "__main__":
    main()
