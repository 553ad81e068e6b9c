"""The README's walkthrough runs as written: its shell block is executed in an empty directory, with the
modelseal under test first on PATH, and its claims about the outcome are checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

MARKER = "<!-- walkthrough -->\n```bash\n"


def walkthrough() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(MARKER) + len(MARKER)
    return text[start : text.index("```", start)]


def test_walkthrough_runs_as_written(tmp_path: Path) -> None:
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment |= {"NO_COLOR": "1", "COLUMNS": "200"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"✓ signature .*\[policy signer: publisher\]", output)
    assert "✓ metadata     1 document(s) bound to these bytes" in output
    assert "(from the attestation)" in output and "PASSED: the model is signed" in output
    assert "scan attestation (not verified)" in output and "model.pkl (pickle): clean" in output
    assert "modified: 'model.pkl'" in output and "FAILED: do not load this model." in output
    assert "no signer trusted by the policy made this signature" in output
    assert "would run posix.system('touch x')" in output and "made for other bytes" in output
    assert output.count("check exited with 1") == 3 and output.rstrip().endswith("check exited with 1")
    assert not (tmp_path / "x").exists()  # the payload was read, never run
    page = (tmp_path / "report.html").read_text()
    assert "PASSED: signed by a trusted signer, and the scan is clean." in page
