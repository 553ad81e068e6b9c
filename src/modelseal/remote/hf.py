"""Models on the Hugging Face Hub: `hf://org/name[@revision]`, listed through `huggingface_hub` (which honours
`HF_ENDPOINT` and `HF_TOKEN`) at one commit, so every byte read comes from the same revision. The Hub publishes
an LFS sha256 for large files and a git blob id for the rest; both are compared with every file read whole."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from modelseal.errors import InputError, ServiceError
from modelseal.remote.objects import (
    Meter,
    Published,
    RemoteFile,
    RemoteModel,
    is_transport_error,
    network_reason,
    take,
)

_LOCATION = re.compile(r"^hf://(?:models/)?(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<revision>[\w./-]+))?/?$")
TIMEOUT = 60


def open_hub(url: str) -> RemoteModel:
    match = _LOCATION.match(url)
    if not match:
        raise InputError(f"not a Hugging Face model location: {url!r}", details=("write hf://ORG/NAME[@REVISION]",))
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
        from huggingface_hub.hf_api import RepoFile
    except ImportError as exc:
        raise InputError("hf:// models need the hf extra", details=("pip install 'modelseal[hf]'",)) from exc
    repo, revision = match["repo"], match["revision"] or "main"
    api = HfApi()
    try:
        commit = api.model_info(repo, revision=revision).sha
        if not commit:
            raise ServiceError(f"{url}: the Hub did not name the commit of revision {revision!r}")
        entries = list(api.list_repo_tree(repo, revision=commit, recursive=True))
    except HfHubHTTPError as exc:
        raise _service_error(exc, url) from exc
    except Exception as exc:
        if not is_transport_error(exc):
            raise
        raise ServiceError(f"cannot reach the Hub for {url}: {network_reason(exc)}") from exc
    meter = Meter()
    files = []
    for entry in entries:
        if not isinstance(entry, RepoFile):
            continue  # a folder
        lfs = entry.lfs
        published = Published("sha256", lfs.sha256) if lfs is not None else Published("git-sha1", entry.blob_id)
        fetch = _fetch(api, repo, commit, entry.path, meter)
        files.append(RemoteFile(entry.path, int(entry.size), fetch, published))
    if not files:
        raise InputError(f"{url}: the repository holds no files at {revision}")
    location = f"hf://{repo}@{commit}"
    return RemoteModel(location, repo.rsplit("/", 1)[-1], tuple(sorted(files, key=lambda f: f.name)), meter)


def _service_error(exc: Any, url: str) -> ServiceError | InputError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status == 404:
        return InputError(f"{url}: no such model or revision on the Hub (404)")
    if status in (401, 403):
        return ServiceError(
            f"{url}: the Hub refused access ({status})", details=("set HF_TOKEN to a token that may read it",)
        )
    return ServiceError(f"{url}: the Hub answered {status}: {exc}")


def _fetch(api: Any, repo: str, commit: str, path: str, meter: Meter) -> Callable[[int, int], bytes]:
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils._headers import build_hf_headers
    from huggingface_hub.utils._http import get_session

    url = hf_hub_url(repo, path, revision=commit, endpoint=api.endpoint)

    def fetch(start: int, end: int) -> bytes:
        headers = {**build_hf_headers(token=api.token), "Range": f"bytes={start}-{end - 1}"}
        try:
            with get_session().stream("GET", url, headers=headers, follow_redirects=True, timeout=TIMEOUT) as response:
                if response.status_code in (401, 403):
                    raise ServiceError(f"{url}: the Hub refused access ({response.status_code})")
                if response.status_code != 206 and not (response.status_code == 200 and start == 0):
                    raise ServiceError(f"{url}: the Hub answered {response.status_code} to a range request")
                return meter.count(take(response.iter_bytes(1 << 20), end - start))
        except ServiceError:
            raise
        except Exception as exc:
            if not is_transport_error(exc):
                raise
            raise ServiceError(f"cannot read {url}: {network_reason(exc)}") from exc

    return fetch
