"""Licences in the gate: the licence a model declares (card front matter, GGUF general.license) is judged by the
trust policy's [licenses] allow/deny, as SPDX ids."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, KeyPair
from tests.integration.test_check import write_policy
from tests.integration.test_cli import modelseal


def signed_model(root: Path, licence: str | None, keys: KeyPair, *, exist_ok: bool = False) -> Path:
    root.mkdir(exist_ok=exist_ok)
    front = f"license: {licence}\n" if licence else ""
    (root / "README.md").write_text(f"---\n{front}pipeline_tag: text-generation\n---\n# a model\n")
    (root / "config.json").write_text('{"model_type": "gpt2"}')
    header = b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}'
    (root / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(16))
    assert modelseal("sign", "key", root, "--private-key", keys.private).returncode == 0
    return root


def policy(directory: Path, keys: KeyPair, rules: str) -> Path:
    return write_policy(directory, {"release": keys.public}, f"[licenses]\n{rules}\n")


@pytest.mark.parametrize(
    ("licence", "rules", "passes", "shown"),
    [
        ("apache-2.0", 'allow = ["Apache-2.0", "MIT"]', True, "Apache-2.0: accepted"),
        ("cc-by-nc-4.0", 'deny = ["CC-BY-NC-*"]', False, "CC-BY-NC-4.0: denied by the policy"),
        ("cc-by-nc-4.0", 'deny = ["CC-BY-NC-*"]\nallow = ["CC-BY-NC-4.0"]', False, "denied by the policy"),
        ("llama3", 'allow = ["Apache-2.0"]', False, "LicenseRef-llama3: not in the policy's allow list"),
        ("llama3", 'allow = ["Apache-2.0", "LicenseRef-llama3"]', True, "LicenseRef-llama3: accepted"),
        (None, 'allow = ["Apache-2.0"]', False, "the model declares no licence"),
        (None, 'deny = ["GPL-*"]', True, "no licence declared: accepted"),
    ],
)
def test_the_declared_licence_is_judged_by_the_policy(
    make_key_pair: Callable[..., KeyPair],
    tmp_path: Path,
    licence: str | None,
    rules: str,
    passes: bool,
    shown: str,
) -> None:
    keys = make_key_pair()
    model = signed_model(tmp_path / "model", licence, keys)
    result = modelseal("check", model, "--policy", policy(tmp_path, keys, rules))
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    assert shown in result.stdout, result.stdout


def test_a_policy_exception_lets_a_denied_licence_through(
    make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    keys = make_key_pair()
    model = signed_model(tmp_path / "model", "cc-by-nc-4.0", keys)
    strict = modelseal("check", model, "--policy", policy(tmp_path, keys, 'deny = ["CC-BY-NC-*", "GPL-*"]'))
    assert strict.returncode == 1
    relaxed = modelseal("check", model, "--policy", policy(tmp_path, keys, 'deny = ["GPL-*"]'))
    assert relaxed.returncode == 0, relaxed.stdout


APACHE_TEXT = (FIXTURES / "model-transparency" / "LICENSE").read_text()  # a real project's Apache-2.0 LICENSE
MIT_TEXT = (FIXTURES / "peer-corpora" / "LICENSE-picklescan").read_text()  # a real project's MIT LICENSE
# Apache-2.0 without its appendix, as many repositories ship it: Pixar's modified Apache licence matches it as well
APACHE_WITHOUT_APPENDIX = APACHE_TEXT.split("END OF TERMS AND CONDITIONS")[0] + "END OF TERMS AND CONDITIONS\n"


@pytest.mark.parametrize(
    ("licence", "text", "rules", "passes", "shown"),
    [
        (None, APACHE_TEXT, 'allow = ["Apache-2.0"]', True, "Apache-2.0 (from LICENSE (its text))"),
        (None, MIT_TEXT, 'deny = ["MIT"]', False, "MIT: denied by the policy"),
        ("apache-2.0", APACHE_WITHOUT_APPENDIX, 'allow = ["Apache-2.0"]', True, "Apache-2.0: accepted"),
        (None, APACHE_WITHOUT_APPENDIX, 'allow = ["Apache-2.0"]', False, "Pixar: not in the policy's allow list"),
        (None, APACHE_WITHOUT_APPENDIX, 'allow = ["Apache-2.0"]', False, "as close to Pixar as to Apache-2.0"),
        (None, "Use it only on Tuesdays.\n", 'allow = ["Apache-2.0"]', False, "no licence in the SPDX License List"),
        ("mit", "Use it only on Tuesdays.\n", 'allow = ["MIT"]', True, "MIT: accepted"),
    ],
)
def test_a_licence_file_is_judged_by_its_text(
    make_key_pair: Callable[..., KeyPair],
    tmp_path: Path,
    licence: str | None,
    text: str,
    rules: str,
    passes: bool,
    shown: str,
) -> None:
    """The text of LICENSE is matched to the SPDX License List; a near tie is settled only by a licence the model
    declares, else every candidate is judged; a text SPDX does not list adds no licence."""
    keys = make_key_pair()
    root = tmp_path / "model"
    root.mkdir()
    (root / "LICENSE").write_text(text)
    model = signed_model(root, licence, keys, exist_ok=True)
    result = modelseal("check", model, "--policy", policy(tmp_path, keys, rules))
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    assert shown in result.stdout, result.stdout


def test_check_in_sarif_has_a_result_per_step(make_key_pair: Callable[..., KeyPair], tmp_path: Path) -> None:
    """Code scanning gets the failed licence step as an error, the passed steps as `pass` results, and the scan's
    findings (a URL pickled as a string, at note level)."""
    keys = make_key_pair()
    root = tmp_path / "model"
    root.mkdir()
    (root / "state.pkl").write_bytes(pickle.dumps({"fetch": "http://203.0.113.7/x"}, protocol=4))
    model = signed_model(root, "cc-by-nc-4.0", keys, exist_ok=True)
    output = tmp_path / "check.sarif"
    rules = 'deny = ["CC-BY-NC-*"]'
    result = modelseal(
        "check", model, "--policy", policy(tmp_path, keys, rules), "--format", "sarif", "--output", output
    )
    assert result.returncode == 1, result.stderr
    run = json.loads(output.read_text())["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    licences = by_rule["CHECK-LICENSES"]
    assert licences["kind"] == "fail" and licences["level"] == "error"
    assert "CC-BY-NC-4.0: denied by the policy" in licences["message"]["text"]
    assert by_rule["CHECK-SIGNATURE"]["kind"] == "pass" and by_rule["CHECK-SIGNATURE"]["level"] == "none"
    assert by_rule["network"]["level"] == "note" and "http://203.0.113.7/x" in by_rule["network"]["message"]["text"]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"CHECK-LICENSES", "CHECK-SIGNATURE", "network"}
