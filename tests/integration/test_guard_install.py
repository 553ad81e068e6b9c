"""Issue 12, item 7: `guard.install()` puts a check in front of every loader people call. Malicious samples are
loaded only in throwaway subprocesses with a canary payload; each loader has a control showing the canary fires
without the guard, and benign real objects load through every guarded loader."""

from __future__ import annotations

import pickle
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from modelseal import KeySigner, sign
from tests.conftest import KeyPair
from tests.integration.test_check import write_policy
from tests.integration.test_guard import run_python

# how each loader reads the sample at PATH (a raw pickle: every one of them unpickles it)
LOADERS = {
    "pickle.load": "import pickle; pickle.load(open(PATH, 'rb'))",
    "pickle.loads": "import pickle; pickle.loads(open(PATH, 'rb').read())",
    "pickle.Unpickler": "import pickle; pickle.Unpickler(open(PATH, 'rb')).load()",
    "pickle._Unpickler": "import pickle; pickle._Unpickler(open(PATH, 'rb')).load()",
    "pickle subclass": ("import pickle\nclass Mine(pickle.Unpickler):\n    pass\nMine(open(PATH, 'rb')).load()"),
    "torch.load path": "import torch; torch.load(PATH, weights_only=False)",
    "torch.load stream": "import io, torch; torch.load(io.BytesIO(open(PATH, 'rb').read()), weights_only=False)",
    "joblib.load": "import joblib; joblib.load(PATH)",
    "numpy.load": "import numpy; numpy.load(PATH, allow_pickle=True)",
    "pandas.read_pickle": "import pandas; pandas.read_pickle(PATH)",
}


def run(code: str, sample: Path) -> subprocess.CompletedProcess[str]:
    """`code` in a throwaway interpreter, with PATH standing for the sample's path."""
    return run_python(textwrap.dedent(code).replace("PATH", repr(str(sample))))


@pytest.mark.parametrize("loader", LOADERS)
def test_the_sample_runs_without_the_guard(canary_model: tuple[Path, Path], loader: str) -> None:
    path, canary = canary_model
    run(LOADERS[loader], path)
    assert canary.exists(), f"control: {loader} must run the payload, or the guarded test proves nothing"


@pytest.mark.parametrize("installed_first", [True, False], ids=["install-then-import", "import-then-install"])
@pytest.mark.parametrize("loader", LOADERS)
def test_every_loader_refuses_it_once_installed(
    canary_model: tuple[Path, Path], loader: str, installed_first: bool
) -> None:
    path, canary = canary_model
    imports = "import pickle, torch, joblib, numpy, pandas\n"
    setup = "from modelseal import guard; guard.install()\n"
    prelude = setup + imports if installed_first else imports + setup
    result = run(prelude + LOADERS[loader], path)
    assert "UntrustedModelError" in result.stderr, result.stderr[-2000:]
    assert not canary.exists()


def test_benign_objects_load_through_every_guarded_loader(tmp_path: Path) -> None:
    code = """
        import io, pickle, joblib, numpy, pandas, torch
        from modelseal import guard
        guard.install()
        data = {"weights": [0.1, 0.2], "name": "tiny"}
        pickle.dump(data, open(PATH + ".pkl", "wb"))
        with open(PATH + ".pkl", "rb") as handle:
            assert pickle.load(handle) == data
            assert handle.read() == b""  # left right after the pickle, as pickle.load leaves it
        two = io.BytesIO(pickle.dumps(1) + pickle.dumps(2))
        assert (pickle.load(two), pickle.load(two)) == (1, 2)
        assert pickle.loads(pickle.dumps(data)) == data
        assert pickle.Unpickler(open(PATH + ".pkl", "rb")).load() == data
        torch.save({"w": torch.arange(4.0)}, PATH + ".pt")
        assert torch.equal(torch.load(PATH + ".pt")["w"], torch.arange(4.0))
        assert torch.equal(torch.load(PATH + ".pt", weights_only=False)["w"], torch.arange(4.0))
        joblib.dump({"a": numpy.arange(3)}, PATH + ".joblib")
        assert joblib.load(PATH + ".joblib")["a"].tolist() == [0, 1, 2]
        numpy.save(PATH + ".npy", numpy.array([{"x": 1}], dtype=object), allow_pickle=True)
        assert numpy.load(PATH + ".npy", allow_pickle=True)[0] == {"x": 1}
        frame = pandas.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        frame.to_pickle(PATH + ".pkl.gz")
        assert pandas.read_pickle(PATH + ".pkl.gz").equals(frame)
        print("all loaded")
    """
    result = run(code, tmp_path / "obj")
    assert result.returncode == 0 and "all loaded" in result.stdout, result.stderr[-3000:]


def test_with_a_policy_only_signed_bytes_load(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    policy = write_policy(tmp_path, {"release": pair.public})
    model = tmp_path / "state.pkl"
    model.write_bytes(pickle.dumps({"w": 7}, protocol=4))
    load = f"""
        import pickle, joblib
        from modelseal import guard
        guard.install(policy={str(policy)!r})
        print(pickle.load(open(PATH, 'rb')), joblib.load(PATH))
    """
    unsigned = run(load, model)
    assert "UntrustedModelError" in unsigned.stderr and "not signed" in unsigned.stderr
    sign(model, KeySigner.from_file(pair.private))
    signed = run(load, model)
    assert signed.returncode == 0 and "{'w': 7} {'w': 7}" in signed.stdout, signed.stderr[-2000:]
    model.write_bytes(model.read_bytes().replace(b"K\x07", b"K\x08"))
    tampered = run(load, model)
    assert "UntrustedModelError" in tampered.stderr and "8" not in tampered.stdout


def _tiny_bert(directory: Path) -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    BertModel(config).save_pretrained(directory)


def test_from_pretrained_is_checked_including_remote_code(
    tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    directory = tmp_path / "bert"
    _tiny_bert(directory)
    pair = make_key_pair()
    sign(directory, KeySigner.from_file(pair.private))
    policy = write_policy(tmp_path, {"release": pair.public})
    load = f"""
        from transformers import AutoConfig, AutoModel, BertModel
        from modelseal import guard
        guard.install(policy={str(policy)!r})
        print(AutoModel.from_pretrained(PATH).config.hidden_size, BertModel.from_pretrained(PATH).config.hidden_size,
              AutoConfig.from_pretrained(PATH, trust_remote_code=True).hidden_size)
    """
    loaded = run(load, directory)
    assert loaded.returncode == 0 and "16 16 16" in loaded.stdout, loaded.stderr[-2000:]
    canary = tmp_path / "canary"
    (directory / "configuration_evil.py").write_text(f"import os\nos.system('touch {canary}')\n")
    refused = run(load, directory)
    assert "UntrustedModelError" in refused.stderr and "configuration_evil.py" in refused.stderr
    assert not canary.exists()
    gone = run(load.replace("PATH", "'acme/not-downloaded'"), directory)
    assert "UntrustedModelError" in gone.stderr and "not on disk" in gone.stderr


def test_uninstall_restores_every_loader() -> None:
    import pickle

    import torch

    from modelseal import guard

    before = (pickle.load, pickle.loads, pickle.Unpickler, torch.load)
    guard.install()
    try:
        assert guard.installed() and pickle.load is not before[0] and torch.load is not before[3]
    finally:
        guard.uninstall()
    assert (pickle.load, pickle.loads, pickle.Unpickler, torch.load) == before and not guard.installed()


# --- lazy verification: each shard hashed when opened, and only then -----------------------------------------

SHARD_BYTES = 4 << 20


@pytest.fixture
def sharded(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> tuple[Path, Path, KeyPair]:
    """Three safetensors shards of 4 MiB and a config, signed; a policy trusting the signer; the signer's keys."""
    import torch
    from safetensors.torch import save_file

    model = tmp_path / "sharded"
    model.mkdir()
    (model / "config.json").write_text('{"hidden": 8}')
    for index in range(3):
        tensor = torch.full((SHARD_BYTES // 4,), float(index))
        save_file({f"layer{index}": tensor}, str(model / f"model-{index + 1:05d}-of-00003.safetensors"))
    pair = make_key_pair()
    sign(model, KeySigner.from_file(pair.private))
    return model, write_policy(tmp_path, {"release": pair.public}), pair


def _bytes_read() -> int:
    return int(
        next(line for line in Path("/proc/self/io").read_text().splitlines() if line.startswith("rchar")).split()[1]
    )


def test_lazy_verification_reads_only_the_shards_opened(sharded: tuple[Path, Path, KeyPair]) -> None:
    from modelseal.guard import LazyModel, UntrustedModelError

    model, policy, _ = sharded
    third = model / "model-00003-of-00003.safetensors"
    data = bytearray(third.read_bytes())
    data[-1] ^= 1  # tampered, same size: only hashing it can tell
    third.write_bytes(bytes(data))
    before = _bytes_read()
    lazy = LazyModel.open(model, policy)
    opened = _bytes_read() - before
    assert opened < 1 << 20, "opening reads the signature and lists the directory, no shard"
    with lazy.safe_open("model-00001-of-00003.safetensors", framework="pt") as shard:
        assert float(shard.get_tensor("layer0")[0]) == 0.0
    first = _bytes_read() - before - opened
    assert SHARD_BYTES <= first < 2 * SHARD_BYTES, first  # that shard hashed, no other
    with lazy.safe_open("model-00001-of-00003.safetensors", framework="pt"):
        pass
    assert _bytes_read() - before - opened - first < 1 << 20, "a verified shard is not hashed again"
    with pytest.raises(UntrustedModelError, match="does not match its signature"):
        lazy.safe_open("model-00003-of-00003.safetensors", framework="pt")


def test_lazy_verification_still_refuses_unsigned_and_missing_files(sharded: tuple[Path, Path, KeyPair]) -> None:
    from modelseal.guard import LazyModel, UntrustedModelError

    model, policy, pair = sharded
    (model / "extra.pkl").write_bytes(b"x")
    with pytest.raises(UntrustedModelError, match=r"unsigned: 'extra\.pkl'"):
        LazyModel.open(model, policy)
    (model / "extra.pkl").unlink()
    sign(model, KeySigner.from_file(pair.private), ignore_paths=["logs"])  # the signer leaves logs/ out
    (model / "logs").mkdir()
    (model / "logs" / "state.pkl").write_bytes(b"x")
    with pytest.raises(UntrustedModelError, match=r"1 file\(s\) in the model are not signed"):
        LazyModel.open(model, policy)
    (model / "logs" / "state.pkl").unlink()
    (model / "model-00002-of-00003.safetensors").unlink()
    with pytest.raises(UntrustedModelError, match="missing"):
        LazyModel.open(model, policy)


def test_lazy_from_pretrained_verifies_the_shards_it_loads(
    tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    from transformers import BertConfig, BertModel

    directory = tmp_path / "bert"
    config = BertConfig(
        vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(directory, max_shard_size="100KB")
    shards = sorted(directory.glob("*.safetensors"))
    assert len(shards) > 1
    pair = make_key_pair()
    sign(directory, KeySigner.from_file(pair.private))
    policy = write_policy(tmp_path, {"release": pair.public})
    load = f"""
        from transformers import AutoModel
        from modelseal import guard
        guard.install(policy={str(policy)!r}, lazy=True)
        model = AutoModel.from_pretrained(PATH)
        print("hidden", model.config.hidden_size)
    """
    loaded = run(load, directory)
    assert loaded.returncode == 0 and "hidden 64" in loaded.stdout, loaded.stderr[-2000:]
    data = bytearray(shards[-1].read_bytes())
    data[-1] ^= 1
    shards[-1].write_bytes(bytes(data))
    refused = run(load, directory)
    assert "UntrustedModelError" in refused.stderr and shards[-1].name in refused.stderr, refused.stderr[-2000:]


def test_keras_load_model_is_checked(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    policy = write_policy(tmp_path, {"release": pair.public})
    model = tmp_path / "tiny.keras"
    build = """
        import os
        os.environ["KERAS_BACKEND"] = "torch"
        import keras
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(PATH)
    """
    assert run(build, model).returncode == 0
    load = f"""
        import os
        os.environ["KERAS_BACKEND"] = "torch"
        import keras
        from modelseal import guard
        guard.install(policy={str(policy)!r})
        print("outputs", keras.saving.load_model(PATH).output_shape)
    """
    unsigned = run(load, model)
    assert "UntrustedModelError" in unsigned.stderr and "not signed" in unsigned.stderr, unsigned.stderr[-2000:]
    sign(model, KeySigner.from_file(pair.private))
    signed = run(load, model)
    assert signed.returncode == 0 and "outputs (None, 2)" in signed.stdout, signed.stderr[-2000:]
