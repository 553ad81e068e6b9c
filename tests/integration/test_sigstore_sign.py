"""Keyless signing, as far as it can be tested honestly without Sigstore's services: every failure happens before
the model is hashed, exits with a clear message and leaves no signature file. (A full signing round trip needs
Fulcio and Rekor; it is not run here.)"""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt
import pytest

from tests.integration.test_cli import modelseal
from tests.integration.test_sigstore import shipped_trust_config

# Variables through which sigstore-python's `id` package detects ambient CI credentials.
AMBIENT = (
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITLAB_CI",
    "BUILDKITE",
    "GOOGLE_SERVICE_ACCOUNT_NAME",
)


def identity_token(*, expires_in: int = 300, audience: str = "sigstore") -> str:
    """An OIDC-shaped token. sigstore-python checks claims and expiry locally; only Fulcio checks the signature."""
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "sub": "1234", "email": "ml@example.com", "aud": audience}
    claims |= {"iat": now - 10, "exp": now + expires_in}
    return jwt.encode(claims, "a-test-secret-that-is-long-enough-for-hs256", algorithm="HS256")


def sign(model: Path, *args: str | Path) -> tuple[int, str]:
    environment = {name: "" for name in AMBIENT}
    result = modelseal(
        "sign", "sigstore", model, *args, env={k: v for k, v in os.environ.items() if k not in AMBIENT} | environment
    )
    assert "Traceback" not in result.stderr
    assert not (model / "model.sig").exists()
    return result.returncode, result.stderr


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not-a-jwt", "the identity token was refused: Identity token is malformed"),
        (identity_token(expires_in=-600), "the identity token was refused"),
        (identity_token(audience="someone-else"), "audience 'sigstore'"),
    ],
    ids=["malformed", "expired", "wrong audience"],
)
def test_bad_identity_token_is_a_usage_error(model_dir: Path, token: str, message: str) -> None:
    code, stderr = sign(model_dir, "--identity-token", token)
    assert code == 2 and message in stderr


def test_no_token_without_a_terminal_fails_at_once(model_dir: Path) -> None:
    code, stderr = sign(model_dir, "--no-ambient-credentials")
    assert code == 2 and "no identity token: pass --identity-token" in stderr


@pytest.mark.parametrize("instance", ["production", "staging"])
def test_without_network_signing_fails_fast_and_says_why(model_dir: Path, instance: str) -> None:
    args = ["--use-staging"] if instance == "staging" else []
    code, stderr = sign(model_dir, "--identity-token", identity_token(), *args)
    assert code == 3, stderr
    assert f"cannot reach the Sigstore {instance} TUF repository" in stderr
    assert "verification of Sigstore signatures works offline" in stderr


def test_private_instance_from_trust_config_is_contacted(model_dir: Path, tmp_path: Path) -> None:
    """--trust-config is honoured: the certificate request goes to the configured Fulcio (here: nothing listens)."""
    config = shipped_trust_config(tmp_path, "http://127.0.0.1:9")
    code, stderr = sign(model_dir, "--identity-token", identity_token(), "--trust-config", config)
    assert code == 3 and "cannot reach Fulcio" in stderr and "127.0.0.1" in stderr


def test_unreadable_trust_config_is_a_usage_error(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "trust.json"
    broken.write_text("{not json")
    code, stderr = sign(model_dir, "--identity-token", identity_token(), "--trust-config", broken)
    assert code == 2 and "cannot load the Sigstore trust config" in stderr
