"""Credentials left in a model: cloud keys, API and registry tokens, private keys, passwords in URLs, found in
configs, cards, templates, metadata and pickle string literals. Detection is detect-secrets' pattern plugins
(the maintained set, no entropy guessing: a tokenizer's vocabulary is full of high-entropy strings), plus a
Hugging Face token detector written on its RegexBasedDetector. Findings name the kind and where, never the secret
(only its first characters), so a report can be shared."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from modelseal.scanning.context import MAX_TEXT_BYTES
from modelseal.scanning.findings import Finding, Severity

RULE = "secret"
SHOWN = 4  # characters of a secret a report shows


@cache
def _detectors() -> tuple[Any, ...]:
    from detect_secrets.plugins.artifactory import ArtifactoryDetector
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    class HuggingFaceTokenDetector(RegexBasedDetector):
        """Hugging Face user access tokens (`hf_` and 34 letters and digits) and organisation API tokens."""

        secret_type = "Hugging Face Token"
        denylist = (re.compile(r"(?<![A-Za-z0-9_])((?:hf|api_org)_[A-Za-z0-9]{34})(?![A-Za-z0-9])"),)

    plugins = (
        AWSKeyDetector,
        ArtifactoryDetector,
        AzureStorageKeyDetector,
        BasicAuthDetector,
        DiscordBotTokenDetector,
        GitHubTokenDetector,
        GitLabTokenDetector,
        HuggingFaceTokenDetector,
        NpmDetector,
        OpenAIDetector,
        PrivateKeyDetector,
        PypiTokenDetector,
        SendGridDetector,
        SlackDetector,
        StripeDetector,
        TwilioKeyDetector,
    )
    return tuple(plugin() for plugin in plugins)


def _found(text: str) -> Iterator[tuple[str, str]]:
    lines = text.splitlines()  # once, not once per detector (a pickle or tokenizer is megabytes)
    for detector in _detectors():
        for line in lines:
            for secret in detector.analyze_string(line):
                yield detector.secret_type, str(secret)


def find_secrets(text: str, where: str) -> list[Finding]:
    """One MEDIUM `secret` finding per distinct secret in `text` (`where` says in what: "config", "metadata"...).
    A trust policy's `[secrets] fail-on` decides whether `check` fails on them."""
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for kind, secret in _found(text[:MAX_TEXT_BYTES]):
        if (kind, secret) in seen:
            continue
        seen.add((kind, secret))
        shown = secret[:SHOWN] + "…" if len(secret) > SHOWN else "…"
        message = f"{kind} in the {where} ({shown}): anyone with the model has it; revoke it, then remove it"
        findings.append(Finding(RULE, Severity.MEDIUM, message))
    return findings
