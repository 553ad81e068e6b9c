"""Network indicators: URLs and IP addresses in what a model carries (configs, metadata, templates, pickle string
literals). Reported at INFO, never failing a scan on their own: a link in a config is ordinary, but an address in a
pickle or a chat template is what a reviewer wants in front of them, and the BOM records every one. Prose (cards,
notes) is full of links, so there only IP addresses are reported; a URL's user and password are never shown (the
secret detectors report them)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from modelseal.scanning.context import MAX_TEXT_BYTES
from modelseal.scanning.findings import Finding, Severity

RULE = "network"
MAX_REPORTED = 20  # per text: a vocabulary of links says what it is after a few
SHOWN = 120  # characters of an address a report shows

_URL = re.compile(r"(?<![A-Za-z0-9+.-])(?:https?|ftp|wss?|s3|gs)://[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+", re.I)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_USERINFO = re.compile(r"^([a-z0-9+.-]+://)[^/@]*@", re.I)


def _urls(text: str) -> Iterator[str]:
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)]'")
        if "://" in url and len(url.split("://", 1)[1]) > 0:
            yield _USERINFO.sub(r"\1…@", url)


def _addresses(text: str) -> Iterator[str]:
    for match in _IPV4.finditer(text):
        try:
            address = ipaddress.IPv4Address(match.group(0))
        except ValueError:
            continue
        if not address.is_unspecified:
            yield str(address)


def find_network_indicators(text: str, where: str, *, prose: bool = False) -> list[Finding]:
    """One INFO `network` finding per distinct URL (not in prose) and IPv4 address in `text`, at most
    `MAX_REPORTED`, then one saying how many more there were."""
    text = text[:MAX_TEXT_BYTES]
    urls = [] if prose else list(_urls(text))
    found = dict.fromkeys([*urls, *(a for a in _addresses(text) if not any(a in url for url in urls))])
    findings = []
    for indicator in list(found)[:MAX_REPORTED]:
        kind = "URL" if "://" in indicator else "IP address"
        shown = indicator if len(indicator) <= SHOWN else indicator[:SHOWN] + "…"
        findings.append(Finding(RULE, Severity.INFO, f"{kind} in the {where}: {shown}"))
    if len(found) > MAX_REPORTED:
        more = len(found) - MAX_REPORTED
        findings.append(Finding(RULE, Severity.INFO, f"{more} more network address(es) in the {where}"))
    return findings
