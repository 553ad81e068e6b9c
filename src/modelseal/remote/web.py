"""One model file over HTTP(S): its size from a HEAD request, its bytes from ranged GETs (the server must
honour `Range`, as every CDN and object store does). The URL names a single-file model."""

from __future__ import annotations

from collections.abc import Callable

from modelseal.errors import InputError, ServiceError
from modelseal.remote.objects import Meter, RemoteFile, RemoteModel, network_reason, take

TIMEOUT = 60


def open_url(url: str) -> RemoteModel:
    import requests

    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise InputError(f"{url}: the URL does not name a file")
    session = requests.Session()
    try:
        head = session.head(url, allow_redirects=True, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise ServiceError(f"cannot reach {url}: {network_reason(exc)}") from exc
    _raise_for(head.status_code, url)
    length = head.headers.get("Content-Length")
    if length is None or not length.isdigit():
        raise ServiceError(f"{url}: the server does not say how large the file is (no Content-Length)")
    meter = Meter()
    file = RemoteFile(name, int(length), _fetch(session, head.url, meter))
    return RemoteModel(url, name, (file,), meter, single_file=True)


def _raise_for(status: int, url: str) -> None:
    if status in (401, 403):
        raise ServiceError(f"{url}: access refused ({status})")
    if status == 404:
        raise InputError(f"{url}: not found (404)")
    if status >= 400:
        raise ServiceError(f"{url}: the server answered {status}")


def _fetch(session: object, url: str, meter: Meter) -> Callable[[int, int], bytes]:
    import requests

    assert isinstance(session, requests.Session)

    def fetch(start: int, end: int) -> bytes:
        try:
            response = session.get(url, headers={"Range": f"bytes={start}-{end - 1}"}, timeout=TIMEOUT, stream=True)
        except requests.RequestException as exc:
            raise ServiceError(f"cannot read {url}: {network_reason(exc)}") from exc
        _raise_for(response.status_code, url)
        if response.status_code != 206 and not (response.status_code == 200 and start == 0):
            raise ServiceError(f"{url}: the server does not honour range requests ({response.status_code})")
        with response:
            return meter.count(take(response.iter_content(1 << 20), end - start))

    return fetch
