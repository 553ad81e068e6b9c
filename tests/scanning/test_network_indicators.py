"""Network indicators: URLs and IP addresses in pickle string literals, configs (read as a loader decodes them),
chat templates and safetensors metadata are reported at INFO, never failing a scan; prose reports only IP
addresses; a URL's credentials are never shown; GGUF general.* links (the model's own) are not reported."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.network import MAX_REPORTED, find_network_indicators
from modelseal.scanning.scanner import scan_file
from tests.scanning.benign_models import PRODUCERS
from tests.scanning.test_templates_gguf import TEMPLATES, write_gguf


def indicators(result: FileResult) -> list[str]:
    assert result.status is Status.SCANNED, result
    found = [f for f in result.findings if f.rule == "network"]
    assert all(f.severity is Severity.INFO for f in found)
    return [f.message for f in found]


def test_a_download_url_and_an_address_pickled_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "state.pkl"  # plain data, built with the real pickler and never loaded
    path.write_bytes(pickle.dumps({"fetch": "http://203.0.113.7:8080/stage2.sh", "peer": "198.51.100.23"}, 4))
    assert indicators(scan_file(path)) == [
        "URL in the pickle's strings: http://203.0.113.7:8080/stage2.sh",
        "IP address in the pickle's strings: 198.51.100.23",
    ]


def test_config_strings_are_read_decoded(tmp_path: Path) -> None:
    """JSON escapes hide nothing: `\\/` and `\\u0041` are what the loader reads, so they are what is checked."""
    path = tmp_path / "config.json"
    path.write_text(
        '{"model_type": "gpt2", "endpoint": "https:\\/\\/collect.example\\/v1", "k": "\\u0041KIAIOSFODNN7EXAMPLE"}'
    )
    result = scan_file(path)
    assert indicators(result) == ["URL in the config: https://collect.example/v1"]
    assert any(f.rule == "secret" and "AWS Access Key" in f.message for f in result.findings)


def test_credentials_in_a_url_are_not_shown(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"mirror": "https://bob:hunter2@mirror.example/models"}))
    assert indicators(scan_file(path)) == ["URL in the config: https://…@mirror.example/models"]


def test_cards_report_addresses_but_not_links(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text("# model\nSee https://arxiv.org/abs/1908.10084 and the demo at http://10.20.30.40:7860/.\n")
    assert indicators(scan_file(path)) == ["IP address in the text: 10.20.30.40"]


def test_a_chat_template_that_phones_home_but_not_the_models_own_links(tmp_path: Path) -> None:
    template = TEMPLATES["chatml"] + "{# https://exfil.example/c #}"
    path = write_gguf(tmp_path / "m.gguf", template, **{"general.source.url": "https://huggingface.co/org/m"})
    assert indicators(scan_file(path)) == ["URL in the metadata 'tokenizer.chat_template': https://exfil.example/c"]


def test_safetensors_metadata(tmp_path: Path) -> None:
    header = json.dumps(
        {
            "__metadata__": {"format": "pt", "callback": "wss://192.0.2.1/ws"},
            "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        }
    ).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(4))
    assert indicators(scan_file(path)) == ["URL in the metadata 'callback': wss://192.0.2.1/ws"]


def test_a_text_full_of_links_is_summarised() -> None:
    text = "\n".join(f"http://host{n}.example/" for n in range(MAX_REPORTED + 5))
    found = find_network_indicators(text, "config")
    assert len(found) == MAX_REPORTED + 1 and found[-1].message == "5 more network address(es) in the config"


def test_version_numbers_and_unspecified_addresses_are_not_addresses() -> None:
    assert find_network_indicators("transformers 4.57.1, bind 0.0.0.0, build 1.2.3.4.5, 999.1.1.1", "config") == []


@given(st.text(max_size=300))
def test_any_text_yields_only_info_findings_and_no_url_password(text: str) -> None:
    for finding in find_network_indicators(text + " ftp://u:secretpw@h.example/", "config"):
        assert finding.severity is Severity.INFO and "secretpw" not in finding.message


def test_every_string_length_is_read_as_the_unpickler_reads_it(tmp_path: Path) -> None:
    """A SHORT_BINUNICODE length byte is often a letter or digit: read from raw bytes, it would glue itself to the
    URL; decoded literals have no such edge. Protocol 0 escapes are decoded too."""
    path = tmp_path / "u.pkl"
    for n in range(1, 130):
        url = "http://evil.example/" + "a" * n
        path.write_bytes(pickle.dumps({"u": url}, protocol=4))
        (message,) = indicators(scan_file(path))
        assert message.startswith("URL in the pickle's strings: " + url[:90]), n
    path.write_bytes(b"(dp0\nVu\np1\nV\\u0068ttp://hidden.example/x\np2\ns.")
    assert indicators(scan_file(path)) == ["URL in the pickle's strings: http://hidden.example/x"]


def test_source_code_kept_in_a_legacy_torch_pickle_is_not_an_indicator(tmp_path: Path) -> None:
    """torch's legacy format pickles each module's source, docstring links and all: long strings are prose."""
    PRODUCERS["torch_full_model_legacy_format"](tmp_path)
    (model,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert indicators(scan_file(model)) == []
