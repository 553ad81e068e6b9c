"""Chat templates (GGUF metadata, tokenizer_config.json, .jinja files): sandbox escapes found, real templates clean."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import gguf
import numpy as np
import pytest

from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.scanner import scan_file
from tests.conftest import FIXTURES

JINJA_SAMPLES = FIXTURES / "peer-corpora" / "modelaudit" / "ma_samples" / "jinja2"

TEMPLATES = {
    "chatml": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}",
    "llama3": "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}",
    "llama3.1-tools": "{%- set ns = namespace(found=false) -%}{%- for message in messages -%}{%- if message['role'] "
    "== 'system' -%}{%- set ns.found = true -%}{%- endif -%}{%- endfor -%}{%- if tools is not none "
    "-%}{{ tools | tojson(indent=4) }}{%- endif -%}{{ 'Today Date: ' + strftime_now('%d %b %Y') }}",
    "mistral": "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == "
    "0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif "
    "message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception("
    "'Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
    "gemma": "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') "
    "}}{% endif %}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' "
    "%}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + "
    "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{'<start_of_turn>model\\n'}}{% endif %}",
}
CVE_2024_34359 = (
    "{% for c in [].__class__.__base__.__subclasses__() %}{% if c.__name__ == 'catch_warnings' %}"
    "{{ c()._module.__builtins__['__import__']('os').system('touch /tmp/x') }}{% endif %}{% endfor %}"
)


def write_gguf(path: Path, template: str, **strings: str) -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template(template)
    writer.add_token_list(["<s>", "{{ not a template }}", "hello"])
    for key, value in strings.items():
        writer.add_string(key, value)
    writer.add_tensor("token_embd.weight", np.ones((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_common_chat_templates_in_gguf_are_clean(tmp_path: Path, name: str) -> None:
    result = scan_file(write_gguf(tmp_path / f"{name}.gguf", TEMPLATES[name]))
    assert result.format == "gguf" and result.status is Status.SCANNED and not result.findings, result


def test_cve_2024_34359_template_in_gguf(tmp_path: Path) -> None:
    result = scan_file(write_gguf(tmp_path / "model.gguf", CVE_2024_34359))
    assert result.worst is Severity.CRITICAL
    assert all("tokenizer.chat_template" in f.message for f in result.findings)


def test_templated_strings_in_other_metadata_are_checked(tmp_path: Path) -> None:
    result = scan_file(write_gguf(tmp_path / "m.gguf", TEMPLATES["chatml"], **{"general.description": CVE_2024_34359}))
    assert result.worst is Severity.CRITICAL


def test_gguf_inside_an_archive(tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "model.gguf", CVE_2024_34359)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(model, "weights/model.gguf")
    (tmp_path / "bundle.zip").write_bytes(buffer.getvalue())
    result = scan_file(tmp_path / "bundle.zip")
    assert any(f.member == "weights/model.gguf" and f.severity is Severity.CRITICAL for f in result.findings)


def test_truncated_gguf_is_incomplete(tmp_path: Path) -> None:
    data = write_gguf(tmp_path / "model.gguf", TEMPLATES["chatml"]).read_bytes()
    (tmp_path / "cut.gguf").write_bytes(data[: len(data) - 40])
    result = scan_file(tmp_path / "cut.gguf")
    assert result.status is Status.INCOMPLETE and "GGUF-INVALID" in {f.rule for f in result.findings}


def _samples(kind: str) -> list[Path]:
    return sorted(
        p
        for p in JINJA_SAMPLES.rglob("*")
        if p.is_file()
        and kind in p.relative_to(JINJA_SAMPLES).as_posix()
        and p.suffix in (".json", ".j2", ".jinja", ".template")
    )


@pytest.mark.parametrize("path", _samples("malicious") + _samples("obfuscated"), ids=lambda p: p.name)
def test_modelaudit_malicious_templates(path: Path) -> None:
    result = scan_file(path)
    assert result.worst is not None and result.worst >= Severity.HIGH, result


@pytest.mark.parametrize("path", _samples("benign"), ids=lambda p: p.name)
def test_modelaudit_benign_templates(path: Path) -> None:
    result: FileResult = scan_file(path)
    assert result.status is Status.SCANNED and not result.findings, result


def test_tokenizer_config_with_named_templates(tmp_path: Path) -> None:
    config = {
        "chat_template": [
            {"name": "default", "template": TEMPLATES["chatml"]},
            {"name": "tool_use", "template": CVE_2024_34359},
        ]
    }
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    result = scan_file(tmp_path / "tokenizer_config.json")
    assert result.format == "json (chat template)"
    assert {f.message.split(":")[0] for f in result.findings} == {"chat_template[tool_use]"}


def test_malformed_template_is_reported() -> None:
    result = scan_file(JINJA_SAMPLES / "edge_cases" / "malformed_template.json")
    assert {f.rule for f in result.findings} == {"TEMPLATE-SYNTAX"}
