"""The HTML report, rendered by a real headless Chromium: the page shows the verdict, the signer, every file and
the reconstructed payload, as text (attacker-written payloads never become markup), and its styles apply."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from modelseal import KeySigner, sign
from tests.integration.test_check import write_policy
from tests.integration.test_cli import modelseal
from tests.scanning.pickles import system

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
)  # fmt: skip
FAILED_BANNER = (0xFF, 0xEB, 0xE9)  # the .failed background colour
PAYLOAD = "touch /tmp/x <script>document.title='pwned'</script>"


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "Chromium is missing: run scripts/test (it installs Debian's chromium)"
    profile = tmp_path / "chromium-profile"
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def failing_report(tmp_path: Path, model_dir: Path, make_key_pair: Callable[..., object]) -> Path:
    (model_dir / "evil.pkl").write_bytes(system(PAYLOAD))
    pair = make_key_pair()
    sign(model_dir, KeySigner.from_file(pair.private))  # type: ignore[attr-defined]
    policy = write_policy(tmp_path, {"release key": pair.public})  # type: ignore[attr-defined]
    page = tmp_path / "report.html"
    result = modelseal("check", model_dir, "--policy", policy, "--format", "html", "--output", page)
    assert result.returncode == 1, result.stderr
    return page


def test_rendered_page_shows_verdict_signer_files_and_payload(tmp_path: Path, failing_report: Path) -> None:
    dom = chromium(tmp_path, failing_report, "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    html = dom.stdout
    assert "FAILED: do not load this model." in html
    assert "[policy signer: release key]" in html
    assert html.count("<tr>") >= 1 + 3 + 1 + 6  # header + steps, header + every file
    assert "evil.pkl" in html and "CRITICAL" in html
    # the payload is shown as text: escaped in the DOM, and its script never ran
    assert "touch /tmp/x &lt;script&gt;document.title='pwned'&lt;/script&gt;" in html
    assert "<title>modelseal check:" in html and "pwned</title>" not in html
    assert "<script" not in html.replace("&lt;script", "")


def test_screenshot_shows_the_styled_verdict(tmp_path: Path, failing_report: Path) -> None:
    shot = Path(os.environ.get("MODELSEAL_SCREENSHOT", tmp_path / "report.png"))
    result = chromium(tmp_path, failing_report, f"--screenshot={shot}", "--window-size=1200,900")
    assert result.returncode == 0 and shot.is_file(), result.stderr
    with Image.open(shot) as image:
        assert image.size == (1200, 900)
        colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 24) or []}
    assert FAILED_BANNER in colours  # the CSS applied: the verdict banner is drawn in its colour


def test_scan_html_report_is_self_contained(tmp_path: Path, model_dir: Path) -> None:
    page = tmp_path / "scan.html"
    result = modelseal("scan", model_dir, "--format", "html", "--output", page)
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert "Nothing at or above HIGH in 5 file(s)." in text
    assert "http://" not in text and "https://" not in text and "<script" not in text
