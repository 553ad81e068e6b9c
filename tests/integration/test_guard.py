"""Library guards with the real frameworks: a checked model loads through torch and transformers; a malicious one
raises before the framework sees it. Anything that could run a payload runs in a throwaway subprocess with a
canary payload (touching a file in a temporary directory)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from modelseal import KeySigner, sign
from modelseal.guard import UntrustedModelError, from_pretrained, torch_load
from tests.conftest import REPO, KeyPair
from tests.integration.test_check import write_policy
from tests.scanning.pickles import system


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False, cwd=REPO
    )


def test_the_sample_is_dangerous_without_the_guard(canary_model: tuple[Path, Path]) -> None:
    model, canary = canary_model
    run_python(f"import torch; torch.load({str(model)!r}, weights_only=False)")
    assert canary.exists()


def test_guard_refuses_before_torch_runs_it(canary_model: tuple[Path, Path]) -> None:
    model, canary = canary_model
    result = run_python(f"from modelseal import guard; guard.torch_load({str(model)!r}, weights_only=False)")
    assert result.returncode != 0 and "UntrustedModelError" in result.stderr
    assert "would run posix.system" in result.stderr or "would run os.system" in result.stderr
    assert not canary.exists()


def test_checked_state_dict_loads(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    model = tmp_path / "weights.pt"
    state = {"layer.weight": torch.arange(12.0).reshape(3, 4), "layer.bias": torch.zeros(3)}
    torch.save(state, model)
    pair = make_key_pair()
    policy = write_policy(tmp_path, {"release": pair.public})
    with pytest.raises(UntrustedModelError, match="check failed"):
        torch_load(model, policy=policy)  # not signed yet
    sign(model, KeySigner.from_file(pair.private))
    loaded = torch_load(model, policy=policy, weights_only=True)
    assert torch.equal(loaded["layer.weight"], state["layer.weight"])
    assert torch_load(model, weights_only=True).keys() == state.keys()  # no policy: a clean scan suffices


def _tiny_bert(directory: Path) -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    BertModel(config).save_pretrained(directory)


def test_checked_transformers_directory_loads(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    from transformers import BertModel

    directory = tmp_path / "bert"
    _tiny_bert(directory)
    pair = make_key_pair()
    sign(directory, KeySigner.from_file(pair.private))
    model = from_pretrained(BertModel, directory, policy=write_policy(tmp_path, {"release": pair.public}))
    assert model.config.hidden_size == 16
    (directory / "config.json").write_text((directory / "config.json").read_text().replace('"hidden_act"', '"x"'))
    with pytest.raises(UntrustedModelError, match="check failed") as caught:
        from_pretrained(BertModel, directory, policy=tmp_path / "trust.toml")
    assert any("modified: 'config.json'" in line for line in caught.value.details)


def test_malicious_weights_in_a_directory_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "repo"
    directory.mkdir()
    canary = tmp_path / "canary"
    (directory / "config.json").write_text('{"model_type": "bert"}')
    (directory / "pytorch_model.bin").write_bytes(system(f"touch {canary}"))
    code = (
        "from transformers import BertModel; from modelseal import guard; "
        f"guard.from_pretrained(BertModel, {str(directory)!r})"
    )
    result = run_python(code)
    assert result.returncode != 0 and "UntrustedModelError" in result.stderr and "pytorch_model.bin" in result.stderr
    assert not canary.exists()
