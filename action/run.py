"""The GitHub Action's work, as a script the tests run with the same inputs: scan to SARIF, summarise for the
job page, sign and attest when asked and the scan passed, and hand the exit code to the action's last step
(so the SARIF is uploaded even when the scan fails). Inputs arrive as INPUT_* environment variables."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

VERDICTS = {0: "passed", 1: "failed"}


def modelseal(*args: str) -> subprocess.CompletedProcess[str]:
    print(f"$ modelseal {shlex.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "modelseal", *args], capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result


def summary_lines(sarif_file: Path, verdict: str) -> list[str]:
    lines = [f"## modelseal scan: {verdict}", ""]
    try:
        results = json.loads(sarif_file.read_text())["runs"][0]["results"]
    except (OSError, ValueError, KeyError, IndexError):
        return [*lines, "No SARIF report was written; see the job log."]
    if not results:
        return [*lines, "No findings."]
    lines += ["| Severity | File | Finding |", "| --- | --- | --- |"]
    for result in results:
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        severity = result.get("properties", {}).get("severity", result["level"])
        message = result["message"]["text"].replace("|", "\\|")
        lines.append(f"| {severity} | `{location}` | {message} |")
    return lines


def append(variable: str, lines: list[str]) -> None:
    target = os.environ.get(variable)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


def main() -> int:
    paths = shlex.split(os.environ["INPUT_PATH"])
    sarif = Path(os.environ.get("INPUT_SARIF_FILE") or "modelseal.sarif")
    fail_on = os.environ.get("INPUT_FAIL_ON") or "high"
    scan = modelseal("scan", *paths, "--format", "sarif", "--output", str(sarif), "--fail-on", fail_on)
    code = scan.returncode
    if code == 0 and os.environ.get("INPUT_SIGN", "false").lower() == "true":
        for path in paths:
            for step in (("sign", "sigstore", path), ("attest", "scan", path, "--sigstore")):
                signed = modelseal(*step)
                if signed.returncode != 0:
                    code = signed.returncode
                    break
            if code != 0:
                break
    verdict = VERDICTS.get(code, "inconclusive")
    append("GITHUB_STEP_SUMMARY", summary_lines(sarif, verdict))
    written = str(sarif) if sarif.is_file() else ""
    append("GITHUB_OUTPUT", [f"verdict={verdict}", f"sarif-file={written}", f"exit-code={code}"])
    return 0  # the action's last step exits with exit-code, after the SARIF upload


if __name__ == "__main__":
    sys.exit(main())
