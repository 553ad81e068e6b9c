"""Shared test helpers: the fixtures folder, model builders, EC keys and a throwaway test PKI."""

from __future__ import annotations

import datetime
import os
import random
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import settings

# CI must not land or fail on the luck of the draw: the same examples every run there (explore locally with
# `--hypothesis-seed` or a larger `max_examples`)
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"  # data made by others, with their licences: see its README
MT = FIXTURES / "model-transparency"
MT_KEYS = MT / "keys" / "certificate"
OMS_VECTORS = FIXTURES / "oms-spec" / "v1.0"

CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}


@pytest.fixture(autouse=True, scope="session")
def _private_digest_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI caches digests by default: keep the suite's cache out of the user's home."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELSEAL_CACHE_DIR", str(tmp_path_factory.mktemp("digest-cache")))
        yield


NOW = datetime.datetime.now(datetime.UTC)


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> Path:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return path


def write_public_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, spki))
    return path


@dataclass
class KeyPair:
    private: Path
    public: Path
    key: ec.EllipticCurvePrivateKey


@pytest.fixture
def make_key_pair(tmp_path: Path) -> Callable[..., KeyPair]:
    counter = iter(range(1000))

    def make(curve: str = "P-256", password: bytes | None = None) -> KeyPair:
        n = next(counter)
        key = ec.generate_private_key(CURVES[curve])
        keys = tmp_path / "keys"
        keys.mkdir(exist_ok=True)
        private = write_private_key(keys / f"key{n}.pem", key, password)
        return KeyPair(private, write_public_key(keys / f"key{n}.pub", key), key)

    return make


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A small directory model with nesting, an empty file and a unicode name."""
    model = tmp_path / "model"
    (model / "sub" / "deeper").mkdir(parents=True)
    (model / "config.json").write_text('{"hidden": 8}')
    # seeded: the same bytes every run, so a scan of them cannot flake (random weights are swept on purpose in
    # tests/scanning/test_fail_closed.py::test_random_weights_are_data)
    (model / "weights.bin").write_bytes(random.Random(2026).randbytes(200_000))
    (model / "sub" / "tokenizer.json").write_text('{"vocab": {}}')
    (model / "sub" / "deeper" / "empty").write_bytes(b"")
    (model / "sub" / "naïve-ünïcode.txt").write_text("unicode name")
    return model


def copy_tree(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, symlinks=True)
    for path in [destination, *destination.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return destination


@contextmanager
def concurrent_writer(path: Path) -> Iterator[None]:
    """A real writer that keeps appending to `path` for as long as the block runs."""
    stop = threading.Event()

    def keep_writing() -> None:
        with open(path, "ab") as handle:
            while not stop.is_set():
                handle.write(b"\0" * 4096)
                handle.flush()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join()


# --- a throwaway PKI -------------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue_certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    code_signing: bool = True,
    time_stamping: bool = False,
    email: str | None = None,
) -> x509.Certificate:
    issuer_name = issuer[0].subject if issuer else _name(subject)
    signing_key = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    elif time_stamping:  # RFC 3161 asks for this extended key usage alone, and critical
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    elif code_signing:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    else:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, True, False, False, False, False, False, False), critical=True
        )
    if email:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def write_certificates(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


@dataclass
class Pki:
    root: Path
    intermediate: Path
    leaf_key: Path
    leaf_cert: Path
    directory: Path
    root_pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
    intermediate_pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]

    def leaf(self, name: str, **options: object) -> tuple[Path, Path]:
        """Another leaf under the intermediate, with `issue_certificate` options."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issue_certificate(name, key, self.intermediate_pair, ca=False, **options)  # type: ignore[arg-type]
        return (
            write_private_key(self.directory / f"{name}.key", key),
            write_certificates(self.directory / f"{name}.pem", cert),
        )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = issue_certificate("Test Root", root_key, None, ca=True)
    int_key = ec.generate_private_key(ec.SECP384R1())
    intermediate = issue_certificate("Test Intermediate", int_key, (root, root_key), ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue_certificate("Model Publisher", leaf_key, (intermediate, int_key), ca=False, email="ml@example.com")
    return Pki(
        root=write_certificates(directory / "root.pem", root),
        intermediate=write_certificates(directory / "intermediate.pem", intermediate),
        leaf_key=write_private_key(directory / "leaf.key", leaf_key),
        leaf_cert=write_certificates(directory / "leaf.pem", leaf),
        directory=directory,
        root_pair=(root, root_key),
        intermediate_pair=(intermediate, int_key),
    )


def without_root_privileges(*args: str | Path) -> list[str]:
    """`python -m modelseal ARGS`, and when run as root, as uid 0 without the capabilities that let root read
    anything: file permissions then apply to it, so unreadable files and directories can be tested in CI."""
    import sys

    command = [sys.executable, "-m", "modelseal", *map(str, args)]
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop root's capabilities"
    return [setpriv, "--securebits", "+noroot,+noroot_locked,+no_setuid_fixup", "--bounding-set", "-all", *command]


def remove_deep_tree(root: Path) -> None:
    """Remove a directory tree of any depth: shutil.rmtree (and pytest's clean-up of old temporary directories)
    recurses once per level and dies on the 1,100-level trees the walk-depth tests build."""
    stack = [(str(root), False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            os.rmdir(path)
            continue
        stack.append((path, True))
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, False))
                else:
                    os.unlink(entry.path)


@pytest.fixture
def canary_model(tmp_path: Path) -> tuple[Path, Path]:
    """A raw pickle every unpickling loader runs (torch.load(weights_only=False), joblib, numpy with
    allow_pickle, pandas, pickle itself): it touches `canary`, a file in the test's temporary directory."""
    from tests.scanning.pickles import system

    canary = tmp_path / "canary"
    model = tmp_path / "model.pt"
    model.write_bytes(system(f"touch {canary}"))
    return model, canary
