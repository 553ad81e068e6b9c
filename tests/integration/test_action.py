"""The composite GitHub Action: its script runs here with the inputs the action passes (as INPUT_* variables,
with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, as the runner provides them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.integration.test_sigstore_sign import AMBIENT
from tests.scanning.pickles import system

ACTION = yaml.safe_load((REPO / "action.yml").read_text())


def run_action(workdir: Path, **inputs: str) -> tuple[int, dict[str, str], str, str]:
    """Run action/run.py like the action's `scan` step; returns exit code, outputs, step summary, log."""
    output, summary = workdir / "github_output", workdir / "step_summary"
    environment = {k: v for k, v in os.environ.items() if k not in AMBIENT}
    environment |= {f"INPUT_{k.upper()}": v for k, v in inputs.items()}
    environment |= {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, str(REPO / "action" / "run.py")],
        cwd=workdir, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines()) if output.exists() else {}
    return result.returncode, outputs, summary.read_text() if summary.exists() else "", result.stdout + result.stderr


def test_action_passes_every_input_to_the_script() -> None:
    scan_step = next(step for step in ACTION["runs"]["steps"] if step.get("id") == "scan")
    passed = {name.removeprefix("INPUT_").lower().replace("_", "-") for name in scan_step["env"]}
    assert passed == set(ACTION["inputs"]) - {"upload-sarif", "package"}
    assert "action/run.py" in scan_step["run"]
    assert set(ACTION["outputs"]) == {"verdict", "sarif-file"}


def test_malicious_model_fails_with_sarif_and_summary(tmp_path: Path, model_dir: Path) -> None:
    (model_dir / "evil.pkl").write_bytes(system("touch /tmp/never"))
    code, outputs, summary, log = run_action(tmp_path, path=str(model_dir), fail_on="high", sarif_file="out.sarif")
    assert code == 0, log  # the script never fails the step itself: the SARIF must still be uploaded
    assert outputs == {"verdict": "failed", "sarif-file": "out.sarif", "exit-code": "1"}
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "PICKLE-DANGEROUS-CALL"
    assert "## modelseal scan: failed" in summary and "evil.pkl" in summary and "CRITICAL" in summary


def test_clean_model_passes_and_signing_is_attempted_only_then(tmp_path: Path, model_dir: Path) -> None:
    code, outputs, summary, _ = run_action(tmp_path, path=str(model_dir), sign="false")
    assert code == 0 and outputs["verdict"] == "passed" and outputs["exit-code"] == "0" and "No findings." in summary
    # with sign: true and no OIDC credentials here, keyless signing fails fast and fails the action
    code, outputs, _, log = run_action(tmp_path, path=str(model_dir), sign="true")
    assert code == 0 and "$ modelseal sign sigstore" in log and "no identity token" in log
    assert outputs["exit-code"] == "2" and outputs["verdict"] == "inconclusive"
    assert not (model_dir / "model.sig").exists()


def test_signing_is_not_attempted_after_a_failing_scan(tmp_path: Path, model_dir: Path) -> None:
    (model_dir / "evil.pkl").write_bytes(system("touch /tmp/never"))
    _, outputs, _, log = run_action(tmp_path, path=str(model_dir), sign="true")
    assert outputs["exit-code"] == "1" and "sign sigstore" not in log
