"""OCI model artifacts (CNCF ModelPack, KitOps, `oras push`): the model's files are the manifest's layers, named by
their `org.cncf.model.filepath` or `org.opencontainers.image.title` annotation. A raw layer's digest is the sha256
of the file, so a signature over the files can be made and checked from the manifest without pulling a blob.

Signatures live beside the artifact as OCI 1.1 referrers (a manifest whose `subject` is the model's manifest and
whose artifact type is a Sigstore bundle), also tagged `sha256-<hex>.sig` (cosign's scheme) for registries
without the referrers API. The registry client is `oras`; credentials come from the Docker config it reads.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modelseal.bom.statement import PREDICATE_TYPES as BOM_PREDICATE_TYPES
from modelseal.errors import InputError, ServiceError, VerificationError
from modelseal.oms.bundle import MAX_BUNDLE_BYTES
from modelseal.oms.statement import PREDICATE_TYPE as OMS_PREDICATE_TYPE
from modelseal.remote.objects import Meter, Published, RemoteFile, RemoteModel, network_reason, take
from modelseal.tree import check_name

Archives = Literal["refuse", "scan", "unpack"]

if TYPE_CHECKING:
    import oras.provider
    import requests

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
ACCEPTED = (MANIFEST_MEDIA_TYPE, "application/vnd.docker.distribution.manifest.v2+json", *INDEX_MEDIA_TYPES)
NAME_ANNOTATIONS = ("org.cncf.model.filepath", "org.opencontainers.image.title")
ORAS_UNPACK = "io.deis.oras.content.unpack"
ORAS_FILE_LAYER = "application/vnd.oci.image.layer.v1.tar"  # what `oras push FILE` labels a plain file
MAX_MANIFEST_BYTES = 4 << 20  # the distribution spec's own limit for manifests
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"  # on a bundle's manifest: what its statement says
TIMEOUT = 60  # seconds without a byte from the registry

_REFERENCE = re.compile(
    r"^oci://(?P<registry>[A-Za-z0-9.-]+(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?)/"
    r"(?P<repository>[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class OciReference:
    registry: str  # host[:port]
    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, url: str) -> OciReference:
        match = _REFERENCE.match(url)
        if not match:
            raise InputError(
                f"not an OCI reference: {url!r}",
                details=("write oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST",),
            )
        parts = match.groupdict()
        tag = parts["tag"] or (None if parts["digest"] else "latest")
        return cls(parts["registry"], parts["repository"], tag, parts["digest"])

    @property
    def plain_http(self) -> bool:
        """Docker's rule: a registry on this machine is spoken to over plain HTTP, any other over TLS."""
        return self.registry.rsplit(":", 1)[0] in LOCAL_HOSTS or self.registry in LOCAL_HOSTS

    def __str__(self) -> str:
        where = f"oci://{self.registry}/{self.repository}"
        return f"{where}@{self.digest}" if self.digest else f"{where}:{self.tag}"


def _client(reference: OciReference) -> oras.provider.Registry:
    """An oras client whose authentication matches the registry's challenge: token (Docker Hub, GHCR, Harbor,
    ECR) or basic (a distribution server behind htpasswd), with credentials from the Docker config."""
    try:
        import oras.provider
        import requests
    except ImportError as exc:
        raise InputError("OCI registries need the oci extra", details=("pip install 'modelseal[oci]'",)) from exc

    class Client(oras.provider.Registry):  # type: ignore[misc]
        # oras retries a failed request five times over two minutes; a gate answers at once, and says why
        do_request = oras.provider.Registry.do_request.__wrapped__

    scheme = "http" if reference.plain_http else "https"
    try:
        probe = requests.get(f"{scheme}://{reference.registry}/v2/", timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise ServiceError(f"cannot reach the registry {reference.registry}: {network_reason(exc)}") from exc
    basic = probe.headers.get("WWW-Authenticate", "").lower().startswith("basic")
    client = Client(
        hostname=reference.registry, insecure=reference.plain_http, auth_backend="basic" if basic else "token"
    )
    # oras sets no timeout: a registry that stops answering would hold the gate forever
    client.session.request = functools.partial(client.session.request, timeout=TIMEOUT)
    return client


class OciArtifact:
    """One model artifact in a registry: its manifest (read once and checked against its digest), its files,
    and the signatures that refer to it."""

    def __init__(self, reference: OciReference) -> None:
        self.reference = reference
        self._client = _client(reference)
        self._container = self._client.get_container(f"{reference.registry}/{reference.repository}")
        self._client.auth.load_configs(self._container, configs=credential_files())
        if self._client.auth.__class__.__name__ == "BasicAuth" and not getattr(self._client.auth, "_basic_auth", None):
            raise _login_needed(reference.registry)
        self.meter = Meter()
        body, self.manifest_digest = self._manifest(reference.digest or reference.tag or "latest")
        if reference.digest and self.manifest_digest != reference.digest:
            raise VerificationError(
                f"{reference}: the registry served a manifest whose digest is {self.manifest_digest}",
                details=("the registry is not serving the content it is asked for by digest",),
            )
        self.manifest_bytes = body
        self.manifest = _json_object(body, "manifest")

    # --- reading ----------------------------------------------------------------------------------------------

    def _request(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        """GET `url` (streamed: a body is read by `_body`, within a bound), as the registry's auth requires."""
        import requests

        try:
            response: requests.Response = self._client.do_request(
                f"{self._client.prefix}://{url}", "GET", headers=headers or {}, stream=True
            )
        except requests.RequestException as exc:
            raise ServiceError(f"cannot reach the registry {self.reference.registry}: {network_reason(exc)}") from exc
        except ValueError as exc:  # oras: "Cannot respond to request for authentication."
            raise _login_needed(self.reference.registry) from exc
        if response.status_code in (401, 403):
            raise ServiceError(
                f"the registry {self.reference.registry} refused access ({response.status_code})",
                details=("log in with `docker login` or `oras login` with an account that may read it",),
            )
        return response

    def _manifest(self, tag_or_digest: str) -> tuple[bytes, str]:
        url = self._container.manifest_url(tag_or_digest)
        response = self._request(url, headers={"Accept": ", ".join(ACCEPTED)})
        if response.status_code == 404:
            raise InputError(f"{self.reference.registry}/{self.reference.repository}:{tag_or_digest} does not exist")
        if response.status_code != 200:
            raise ServiceError(f"the registry answered {response.status_code} for {url}")
        body = _body(response, MAX_MANIFEST_BYTES, f"{url}: a manifest larger than {MAX_MANIFEST_BYTES >> 20} MiB")
        return body, "sha256:" + hashlib.sha256(body).hexdigest()

    def fetch_blob(self, digest: str, size: int) -> Callable[[int, int], bytes]:
        url = self._container.get_blob_url(digest)

        def fetch(start: int, end: int) -> bytes:
            whole = start == 0 and end == size
            headers = {} if whole else {"Range": f"bytes={start}-{end - 1}"}
            response = self._request(url, headers=headers)
            if response.status_code == 404:
                raise ServiceError(f"the registry lists blob {digest} but does not serve it")
            if response.status_code not in (200, 206) or (response.status_code == 200 and not whole):
                raise ServiceError(f"the registry answered {response.status_code} for a range of blob {digest}")
            wanted = end - start
            return self.meter.count(_body(response, wanted, f"blob {digest}: more bytes than the {wanted:,} asked for"))

        return fetch

    def model(self, archives: Archives = "refuse") -> RemoteModel:
        """The artifact as a model; what becomes of tarball layers is `archives` (see `files_of`)."""
        location = f"oci://{self.reference.registry}/{self.reference.repository}@{self.manifest_digest}"
        name = self.reference.repository.rsplit("/", 1)[-1]
        if archives != "unpack":
            files = files_of(self.manifest, str(self.reference), self.fetch_blob, archives)
            return RemoteModel(location, name, files, self.meter)
        from modelseal.remote.unpack import unpack_directory, unpack_layer

        directory = unpack_directory()
        counter = iter(range(len(self.manifest.get("layers") or [])))

        def unpack(layer: RemoteFile, media_type: str) -> list[RemoteFile]:
            into = Path(directory.name) / str(next(counter))
            into.mkdir()
            return unpack_layer(layer, media_type, into)

        files = files_of(self.manifest, str(self.reference), self.fetch_blob, archives, unpack)
        return RemoteModel(location, name, files, self.meter, keep=directory)

    # --- signatures and attestations, as referrers -----------------------------------------------------------

    def tag_for(self, kind: Document) -> str:
        """The fallback tag of a document of this kind, for registries without the referrers API."""
        return self.manifest_digest.replace(":", "-") + kind.tag_suffix

    def where(self, kind: Document) -> str:
        return f"oci://{self.reference.registry}/{self.reference.repository}:{self.tag_for(kind)}"

    def documents(self, kind: Document) -> list[bytes]:
        """Every bundle of this kind that refers to this manifest: from the referrers API, or from the fallback tag
        on registries without it."""
        digests: list[str] = []
        url = f"{self.reference.registry}/v2/{self._container.api_prefix}/referrers/{self.manifest_digest}"
        response = self._request(url, headers={"Accept": INDEX_MEDIA_TYPES[0]})
        if response.status_code == 200:
            body = _body(response, MAX_MANIFEST_BYTES, f"{url}: a referrers index larger than the bound")
            index = _json_object(body, "referrers index")
            for entry in index.get("manifests") or []:
                bundle = isinstance(entry, dict) and entry.get("artifactType") == BUNDLE_MEDIA_TYPE
                if bundle and kind.holds(entry.get("annotations")):
                    digests.append(str(entry.get("digest")))
        bundles: list[bytes] = []
        for digest in digests:
            bundles.extend(self._bundles_of(digest, kind))
        if not digests:
            with contextlib.suppress(InputError):  # no fallback tag either: none of this kind
                bundles.extend(self._bundles_of(self.tag_for(kind), kind))
        return bundles

    def _bundles_of(self, tag_or_digest: str, kind: Document) -> list[bytes]:
        body, digest = self._manifest(tag_or_digest)
        if tag_or_digest.startswith("sha256:") and digest != tag_or_digest:
            raise VerificationError(f"the registry served {kind.what} manifest {tag_or_digest} with digest {digest}")
        manifest = _json_object(body, f"{kind.what} manifest")
        subject = manifest.get("subject") or {}
        if not isinstance(subject, dict) or subject.get("digest") != self.manifest_digest:
            return []  # a tag that happens to have the name, or a referrer of something else
        if not kind.holds(manifest.get("annotations")):
            return []
        bundles: list[bytes] = []
        for layer in manifest.get("layers") or []:
            if not isinstance(layer, dict) or layer.get("mediaType") != BUNDLE_MEDIA_TYPE:
                continue
            size, blob = layer.get("size"), layer.get("digest")
            if not isinstance(size, int) or not isinstance(blob, str) or not 0 < size <= MAX_BUNDLE_BYTES:
                continue
            data = self.fetch_blob(blob, size)(0, size)
            if not Published("sha256", blob.removeprefix("sha256:")).matches(data):
                raise VerificationError(f"the registry served {kind.what} blob {blob} with other bytes")
            bundles.append(data)
        return bundles

    def push(self, bundle: bytes, name: str, kind: Document, predicate_type: str) -> str:
        """Store a bundle as a referrer of this manifest, tagged for its kind; returns where it went."""
        import requests

        config = {"mediaType": EMPTY_MEDIA_TYPE, "digest": _sha256(b"{}"), "size": 2}
        layer = {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "digest": _sha256(bundle),
            "size": len(bundle),
            "annotations": {"org.opencontainers.image.title": name},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": BUNDLE_MEDIA_TYPE,
            "config": config,
            "layers": [layer],
            "subject": {
                "mediaType": self.manifest.get("mediaType", MANIFEST_MEDIA_TYPE),
                "digest": self.manifest_digest,
                "size": len(self.manifest_bytes),
            },
            "annotations": {PREDICATE_ANNOTATION: predicate_type},
        }
        target = self._client.get_container(
            f"{self.reference.registry}/{self.reference.repository}:{self.tag_for(kind)}"
        )
        try:
            for blob, descriptor in ((b"{}", config), (bundle, layer)):
                with tempfile.NamedTemporaryFile(prefix="modelseal-") as spool:
                    spool.write(blob)
                    spool.flush()
                    response = self._client.upload_blob(spool.name, target, descriptor)
                _check(response, f"uploading {descriptor['digest']}")
            _check(self._client.upload_manifest(manifest, target), f"pushing the {kind.what} manifest")
        except requests.RequestException as exc:
            raise ServiceError(f"cannot reach the registry {self.reference.registry}: {network_reason(exc)}") from exc
        except ValueError as exc:
            raise ServiceError(f"the registry {self.reference.registry} refused the {kind.what}: {exc}") from exc
        return self.where(kind)


@dataclass(frozen=True)
class Document:
    """A kind of bundle modelseal keeps beside an artifact. The referrers API tells kinds apart by the predicate
    type annotated on each bundle's manifest (a signature pushed before annotations existed has none); registries
    without the API by the fallback tag's suffix."""

    what: str
    tag_suffix: str
    predicate_types: frozenset[str]
    unannotated: bool = False  # a manifest without the annotation is of this kind

    def holds(self, annotations: object) -> bool:
        """Whether a manifest (or a referrers index entry) with these annotations is of this kind."""
        predicate_type = annotations.get(PREDICATE_ANNOTATION) if isinstance(annotations, dict) else None
        return predicate_type in self.predicate_types or (predicate_type is None and self.unannotated)


SIGNATURE = Document("signature", ".sig", frozenset({OMS_PREDICATE_TYPE}), unannotated=True)
BOM_ATTESTATION = Document("BOM attestation", ".bom", frozenset(BOM_PREDICATE_TYPES.values()))


def files_of(
    manifest: dict[str, Any],
    where: str,
    fetch_blob: Callable[[str, int], Callable[[int, int], bytes]],
    archives: Archives = "refuse",
    unpack: Callable[[RemoteFile, str], list[RemoteFile]] | None = None,
) -> tuple[RemoteFile, ...]:
    """A model's files, one per layer of its manifest; anything that is not one named file is refused with the
    reason (an index, a layer without a name, a name no directory could hold, a name used twice). A tarball
    layer is refused, kept as one file for the scanner to open (`scan`), or replaced by its files (`unpack`)."""
    media_type = manifest.get("mediaType", "")
    if media_type in INDEX_MEDIA_TYPES or "manifests" in manifest:
        raise InputError(
            f"{where} is an image index (several manifests)",
            details=("name one of its manifests by digest: oci://REGISTRY/REPOSITORY@sha256:…",),
        )
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not layers:
        raise InputError(f"{where}: the manifest lists no layers")
    files: dict[str, RemoteFile] = {}
    for layer in layers:
        name, digest, size, media_type = _layer(layer, where)
        published = Published("sha256", digest.removeprefix("sha256:"), vouched=True)
        file = RemoteFile(name, size, fetch_blob(digest, size), published)
        archive = _is_archive(media_type, layer.get("annotations") or {})
        if archive and archives == "refuse":
            raise InputError(
                f"{where}: layer {name!r} is an archive ({media_type}): its digest is not a file's",
                details=(
                    "the files inside it cannot be signed or checked from the manifest alone",
                    "pass --pull to fetch and unpack it (its files are hashed as a directory's would be)",
                ),
            )
        for member in unpack(file, media_type) if archive and archives == "unpack" and unpack else [file]:
            if member.name in files:
                raise InputError(f"{where}: two files are named {member.name!r}")
            files[member.name] = member
    return tuple(files[name] for name in sorted(files))


def _layer(layer: Any, where: str) -> tuple[str, str, int, str]:
    if not isinstance(layer, dict):
        raise InputError(f"{where}: a layer of the manifest is not an object")
    annotations = layer.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    digest, size, media_type = layer.get("digest"), layer.get("size"), str(layer.get("mediaType", ""))
    name = next((annotations[key] for key in NAME_ANNOTATIONS if isinstance(annotations.get(key), str)), None)
    if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise InputError(f"{where}: layer digest {digest!r} is not a sha256 digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InputError(f"{where}: layer {digest} has no valid size")
    if name is None:
        raise InputError(
            f"{where}: layer {digest} has no file name",
            details=(f"a model layer is named by one of the annotations {', '.join(NAME_ANNOTATIONS)}",),
        )
    problem = check_name(name.rstrip("/"))
    if problem:
        raise InputError(f"{where}: layer name {name!r} cannot be a file of a model: {problem}")
    return name.rstrip("/"), digest, size, media_type


def credential_files() -> list[str]:
    """Registry credential files beyond `~/.docker/config.json` (which oras reads itself), in the places the
    Docker CLI, podman and skopeo look: `$DOCKER_CONFIG/config.json`, `$REGISTRY_AUTH_FILE`, and
    `$XDG_RUNTIME_DIR/containers/auth.json`."""
    candidates = []
    if os.environ.get("DOCKER_CONFIG"):
        candidates.append(os.path.join(os.environ["DOCKER_CONFIG"], "config.json"))
    if os.environ.get("REGISTRY_AUTH_FILE"):
        candidates.append(os.environ["REGISTRY_AUTH_FILE"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        candidates.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    return [path for path in candidates if os.path.isfile(path)]


def _is_archive(media_type: str, annotations: dict[str, Any]) -> bool:
    """Whether a layer is a tarball or compressed: then its digest is not the digest of one file."""
    if str(annotations.get(ORAS_UNPACK, "")).lower() == "true":
        return True
    if media_type == ORAS_FILE_LAYER:
        return False
    suffix = media_type.rsplit("/", 1)[-1]
    return bool(re.search(r"(^|[.+])(tar|gzip|gz|zstd|zst|lz4|bzip2|xz)($|[.+])", suffix))


def _login_needed(registry: str) -> ServiceError:
    return ServiceError(
        f"the registry {registry} asks for credentials that were not found",
        details=("log in with `docker login` or `oras login`, then run again",),
    )


def _body(response: requests.Response, limit: int, too_large: str) -> bytes:
    """At most `limit` bytes of a streamed response; more is an error, and is never held in memory."""
    with response:
        data = take(response.iter_content(1 << 20), limit + 1)
    if len(data) > limit:
        raise VerificationError(too_large)
    return data


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise VerificationError(f"the registry served a {what} that is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise VerificationError(f"the registry served a {what} that is not a JSON object")
    return value


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _check(response: requests.Response, what: str) -> None:
    if response.status_code in (401, 403):
        raise ServiceError(
            f"the registry refused {what} ({response.status_code})", details=("log in with push rights",)
        )
    if response.status_code not in (200, 201, 202):
        raise ServiceError(f"the registry answered {response.status_code} {response.reason} while {what}")
