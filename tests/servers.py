"""Real servers on 127.0.0.1 for the remote-model tests, started and stopped by the tests: Debian's
`docker-registry` (the CNCF distribution server), moto's S3 server, and a Hub-like HTTP server
(tests/hub_server.py). `scripts/test` installs the first; the test extra the others."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

RAW_WEIGHT = "application/vnd.cncf.model.weight.v1.raw"  # CNCF ModelPack: one file, stored as is
MODEL_CONFIG = "application/vnd.cncf.model.config.v1+json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], accept: tuple[int, ...] = (200,)) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in accept:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in accept:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within 30 s")


@contextmanager
def running(command: list[str], url: str, accept: tuple[int, ...] = (200,), **popen: object) -> Iterator[None]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)  # type: ignore[call-overload]
    try:
        wait_for(url, process, accept)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sparse_safetensors(path: Path, size: int) -> Path:
    """A safetensors file of `size` bytes that costs no disk: a real header, then a hole for the tensor. Its
    sha256 goes to a `.sha256` sidecar, which the test Hub publishes as the LFS digest (no hashing at start)."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [(size - 4096) // 4], "data_offsets": [0, size - 4096]}})
    raw = len(header.encode().ljust(4096 - 8, b" ")).to_bytes(8, "little") + header.encode().ljust(4096 - 8, b" ")
    with path.open("wb") as out:
        out.write(raw)
        out.truncate(size)
    digest = hashlib.sha256(raw)
    zeros = bytes(64 << 20)
    for start in range(len(raw), size, len(zeros)):
        digest.update(zeros[: min(len(zeros), size - start)])
    path.with_name(path.name + ".sha256").write_text(digest.hexdigest())
    return path


# --- an OCI registry ------------------------------------------------------------------------------------------


@contextmanager
def oci_registry(storage: Path, *, htpasswd: Path | None = None) -> Iterator[str]:
    """docker-registry serving `storage` on a free port; yields `127.0.0.1:PORT`."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    port = free_port()
    auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n" if htpasswd else ""
    config = storage / "config.yml"
    storage.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}",
        encoding="utf-8",
    )
    with running([binary, "serve", str(config)], f"http://127.0.0.1:{port}/v2/", (200, 401)):
        yield f"127.0.0.1:{port}"


def blob_path(storage: Path, digest: str) -> Path:
    """Where docker-registry's filesystem driver keeps a blob (to alter it behind the registry's back)."""
    hexdigest = digest.removeprefix("sha256:")
    return storage / "data/docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


def push_model(
    registry: str,
    reference: str,
    files: Mapping[str, bytes],
    *,
    media_type: str = RAW_WEIGHT,
    name_annotation: str = "org.cncf.model.filepath",
) -> str:
    """Push `files` as a ModelPack-style artifact (one raw layer per file) with the oras client; returns the
    manifest's digest."""
    import oras.provider

    client = oras.provider.Registry(hostname=registry, insecure=True)
    container = client.get_container(f"{registry}/{reference}")
    layers = []
    with tempfile.TemporaryDirectory() as spool:
        config = b"{}"
        for name, data in [("", config), *sorted(files.items())]:
            blob = Path(spool) / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            layer = {"mediaType": media_type, "digest": "sha256:" + blob.name, "size": len(data)}
            if name:
                layer["annotations"] = {name_annotation: name}  # type: ignore[assignment]
            else:
                layer["mediaType"] = MODEL_CONFIG
            response = client.upload_blob(str(blob), container, layer)
            assert response.status_code in (200, 201, 202), response.text
            if name:
                layers.append(layer)
            else:
                config_descriptor = layer
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cncf.model.manifest.v1+json",
        "config": config_descriptor,
        "layers": layers,
    }
    response = client.upload_manifest(manifest, container)
    assert response.status_code == 201, response.text
    return str(response.headers["Docker-Content-Digest"])


def pull_with_skopeo(registry: str, reference: str, layout: Path) -> None:
    """Copy an artifact to an OCI layout directory with Debian's skopeo (which checks every blob's digest)."""
    subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", f"docker://{registry}/{reference}", f"oci:{layout}:pulled"],
        check=True,
        capture_output=True,
    )


def unpack_layout(layout: Path, destination: Path) -> Path:
    """The model directory a puller writes from an OCI layout: each layer saved under its file-path annotation."""
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].removeprefix("sha256:")
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest).read_bytes())
    for layer in manifest["layers"]:
        name = (
            layer["annotations"].get("org.cncf.model.filepath")
            or layer["annotations"]["org.opencontainers.image.title"]
        )
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(layout / "blobs/sha256" / layer["digest"].removeprefix("sha256:"), target)
    return destination


def htpasswd_file(path: Path, user: str, password: str) -> Path:
    """An htpasswd file with one bcrypt entry (the only kind docker-registry accepts)."""
    import bcrypt

    path.write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    return path


def docker_config(directory: Path, registry: str, user: str, password: str) -> dict[str, str]:
    """Environment that points Docker-config readers (oras) at credentials for `registry`."""
    directory.mkdir(parents=True, exist_ok=True)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {registry: {"auth": token}}}))
    return {"DOCKER_CONFIG": str(directory)}


# --- S3 -------------------------------------------------------------------------------------------------------


@contextmanager
def moto_server() -> Iterator[dict[str, str]]:
    """moto's standalone server (S3, KMS, …); yields the environment boto3 needs to reach it."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(command, f"http://127.0.0.1:{port}/moto-api/", (200,)):
        yield {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


# --- an RFC 3161 timestamp authority ------------------------------------------------------------------------------


def make_tsa(directory: Path, name: str = "Test TSA") -> Path:
    """A TSA's root and its timestamping certificate (extendedKeyUsage critical timeStamping), with OpenSSL's
    configuration for `openssl ts -reply`; returns the root certificate's file (what a verifier trusts)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.conftest import issue_certificate

    directory.mkdir(parents=True, exist_ok=True)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = issue_certificate(f"{name} Root", root_key, None, ca=True)
    leaf = issue_certificate(name, key, (root, root_key), ca=False, time_stamping=True)
    (directory / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (directory / "tsa.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "tsa.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "serial").write_text("01\n")
    (directory / "tsa.cnf").write_text(
        "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\n"
        f"serial = {directory / 'serial'}\ncrypto_device = builtin\nsigner_cert = {directory / 'tsa.pem'}\n"
        f"signer_key = {directory / 'tsa.key'}\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n"
        "digests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\ntsa_name = yes\n"
        "ess_cert_id_chain = no\ness_cert_id_alg = sha256\n"
    )
    return directory / "root.pem"


@contextmanager
def tsa_server(directory: Path) -> Iterator[str]:
    """tests/tsa_server.py answering with the TSA in `directory` (see `make_tsa`); yields its URL."""
    port = free_port()
    command = [sys.executable, str(Path(__file__).with_name("tsa_server.py")), str(directory), str(port)]
    with running(command, f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}/"


# --- a Hugging Face Hub -----------------------------------------------------------------------------------------


@contextmanager
def hub_server(root: Path) -> Iterator[tuple[str, Path]]:
    """tests/hub_server.py serving the repositories under `root`; yields its endpoint and its access log."""
    port = free_port()
    log = root.parent / f"hub-{port}.log"
    command = [sys.executable, str(Path(__file__).with_name("hub_server.py")), str(root), str(port), str(log)]
    with running(command, f"http://127.0.0.1:{port}/health", env={**os.environ}):
        yield f"http://127.0.0.1:{port}", log
