"""`modelseal verify --policy FILE MODEL`: the method comes from the signature, the signer must be one the policy
trusts for this model, and a malformed policy is refused with the line at fault."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from modelseal import KeySigner, VerificationError, sign, verify
from modelseal.errors import InputError
from modelseal.policy.trust import load_trust_policy
from tests.conftest import MT, KeyPair, Pki
from tests.integration.test_cli import modelseal
from tests.integration.test_sigstore import IDENTITY, ISSUER, shipped_trust_config


def write_policy(directory: Path, body: str) -> Path:
    path = directory / "trust.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


@pytest.fixture
def two_keys(tmp_path: Path, model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> tuple[KeyPair, KeyPair]:
    """The model signed with the second of two keys."""
    first, second = make_key_pair(), make_key_pair("P-384")
    sign(model_dir, KeySigner.from_file(second.private))
    return first, second


def test_policy_picks_the_key_that_signed(tmp_path: Path, model_dir: Path, two_keys: tuple[KeyPair, KeyPair]) -> None:
    policy = write_policy(
        tmp_path,
        f"""
        version = 1
        [[signers]]
        name = "laptop key"
        method = "key"
        public-key = "{two_keys[0].public.relative_to(tmp_path)}"
        [[signers]]
        name = "release key"
        method = "key"
        public-key = "{two_keys[1].public.relative_to(tmp_path)}"
        """,
    )
    result = modelseal("verify", "--policy", policy, model_dir, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["signer"]["policy_signer"] == "release key"
    explicit = modelseal("verify", "policy", model_dir, "--policy", policy)
    assert explicit.returncode == 0 and "[policy signer: release key]" in explicit.stdout


def test_signer_not_in_policy_is_rejected(tmp_path: Path, model_dir: Path, two_keys: tuple[KeyPair, KeyPair]) -> None:
    policy = write_policy(tmp_path, f'version = 1\n[[signers]]\nmethod = "key"\npublic-key = "{two_keys[0].public}"\n')
    result = modelseal("verify", "--policy", policy, model_dir)
    assert result.returncode == 1
    assert "no signer trusted by the policy made this signature" in result.stderr
    assert "signer 1 (key): the signature does not verify" in result.stderr


@pytest.mark.parametrize(
    ("models", "trusted"),
    [
        ('["model"]', True),
        ('["mod*"]', True),
        ('["**/model"]', True),
        ('["other-*"]', False),
        ('["/elsewhere/**"]', False),
    ],
)
def test_signer_is_trusted_only_for_its_models(
    tmp_path: Path, model_dir: Path, two_keys: tuple[KeyPair, KeyPair], models: str, trusted: bool
) -> None:
    policy = write_policy(
        tmp_path, f'version = 1\n[[signers]]\nmethod = "key"\npublic-key = "{two_keys[1].public}"\nmodels = {models}\n'
    )
    verifier = load_trust_policy(policy).verifier_for(model_dir)
    if trusted:
        assert verify(model_dir, verifier).signer.details["policy_signer"] == "signer 1 (key)"
    else:
        with pytest.raises(VerificationError, match="the policy trusts no key signer for model"):
            verify(model_dir, verifier)


def test_method_comes_from_the_signature(tmp_path: Path, model_dir: Path, pki: Pki) -> None:
    modelseal("sign", "certificate", model_dir, "--private-key", pki.leaf_key, "--signing-certificate", pki.leaf_cert,
              "--certificate-chain", pki.intermediate)  # fmt: skip
    policy = write_policy(
        tmp_path,
        f"""
        version = 1
        [[signers]]
        name = "corporate PKI"
        method = "certificate"
        certificate-chain = ["{pki.root}"]
        identity = "ml@example.com"
        """,
    )
    assert modelseal("verify", "--policy", policy, model_dir).returncode == 0
    wrong = write_policy(tmp_path, policy.read_text().replace("ml@example.com", "eve@example.com"))
    result = modelseal("verify", "--policy", wrong, model_dir)
    assert result.returncode == 1 and "does not belong to 'eve@example.com'" in result.stderr
    no_certificates = write_policy(tmp_path, f'version = 1\n[[signers]]\nmethod = "key"\npublic-key = "{pki.root}"\n')
    result = modelseal("verify", "--policy", no_certificates, model_dir)
    assert result.returncode == 2 and "cannot load public key" in result.stderr and "trust.toml:4" in result.stderr


def test_sigstore_signers_any_of_with_trust_config(tmp_path: Path) -> None:
    config = shipped_trust_config(tmp_path)
    policy = write_policy(
        tmp_path,
        f"""
        version = 1
        [sigstore]
        trust-config = "{config.name}"

        [[signers]]
        name = "release workflow"
        method = "sigstore"
        issuer = "https://token.actions.githubusercontent.com"
        identity-pattern = "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"
        github = {{ repository = "acme/*", trigger = "push" }}

        [[signers]]
        name = "IBM maintainer"
        method = "sigstore"
        issuer = "{ISSUER}"
        identity = "{IDENTITY}"
        """,
    )
    result = verify(MT / "v1.1.0-sigstore", load_trust_policy(policy).verifier_for(MT / "v1.1.0-sigstore"))
    assert result.signer.details["policy_signer"] == "IBM maintainer"
    staging = write_policy(tmp_path, policy.read_text().replace(f'trust-config = "{config.name}"', "staging = true"))
    with pytest.raises(VerificationError, match="does not verify"):
        verify(MT / "v1.1.0-sigstore", load_trust_policy(staging).verifier_for(MT / "v1.1.0-sigstore"))


KEY_SIGNER = 'version = 1\n\n[[signers]]\nmethod = "key"\npublic-key = "key.pub"\n'


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (KEY_SIGNER.replace("public-key", "publik-key"), 5, "unknown key 'publik-key' in a key signer"),
        (KEY_SIGNER.replace("version = 1", "version = 2"), 1, "'version = 1' is required"),
        (KEY_SIGNER.replace('"key"\n', '"gpg"\n'), 4, "unknown method 'gpg'"),
        (KEY_SIGNER.replace("key.pub", "missing.pub"), 5, "file 'missing.pub' not found"),
        (KEY_SIGNER + "models = \"llama\"\n", 6, "'models' must be a list"),
        (KEY_SIGNER + "colour = 1\n", 6, "unknown key 'colour'"),
        (KEY_SIGNER + "[[signers]]\nmethod = 'sigstore'\nissuer = 'x'\n", 6, "exactly one of 'identity'"),
        (
            KEY_SIGNER + "[[signers]]\nmethod = 'sigstore'\nissuer = 'x'\nidentity = 'y'\n"
            "[signers.github]\nbranch = 'main'\n",
            11,
            "unknown key 'branch' in github claims",
        ),
        ("version = 1\n[sigstore]\ntrusted-root = 'a'\ntrust-config = 'b'\n", 4, "not both"),
        ("version = 1\n", None, "trusts no signer"),
        (KEY_SIGNER.replace("[[signers]]", "[[signers]]\nname = 'k'") * 1 + "[[signers]]\nname = 'k'\n"
         "method = 'key'\npublic-key = 'key.pub'\n", 8, "signer name 'k' is used twice"),
        (KEY_SIGNER.replace('"key.pub"', '"key.pub'), 5, "not valid TOML"),
    ],
    ids=["misspelt key", "version", "method", "missing file", "models type", "unknown key", "sigstore identity",
         "github claim", "two roots", "no signers", "duplicate name", "syntax"],
)  # fmt: skip
def test_malformed_policy_names_the_line(
    tmp_path: Path, model_dir: Path, make_key_pair: Callable[..., KeyPair], body: str, line: int | None, message: str
) -> None:
    (tmp_path / "key.pub").write_bytes(make_key_pair().public.read_bytes())
    policy = write_policy(tmp_path, body)
    with pytest.raises(InputError, match=message) as caught:
        load_trust_policy(policy)
    assert caught.value.message.startswith(f"{policy}:{line}: " if line else f"{policy}: ")
    result = modelseal("verify", "--policy", policy, model_dir)
    assert (
        result.returncode == 2
        and message.split("'", maxsplit=1)[0] in result.stderr
        and "Traceback" not in result.stderr
    )
