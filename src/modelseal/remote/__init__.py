"""Models where they live: OCI registries (`oci://`), S3 (`s3://`), the Hugging Face Hub (`hf://`) and single
files over HTTPS. Each source lists a model's files with a ranged fetch for each (`objects.RemoteFile`); the
scanner and the hashing side read them through one reader and know nothing of where the bytes come from.

This module is imported by every command that takes a model, so it holds only the location syntax; each
source's client library is imported when a location of its kind is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelseal.remote.objects import RemoteModel
    from modelseal.remote.oci import OciArtifact

SCHEMES = ("oci", "s3", "hf", "https", "http")


@dataclass(frozen=True)
class RemoteLocation:
    """A model named by a URL rather than a path."""

    url: str

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]

    def __str__(self) -> str:
        return self.url


def remote_location(text: str) -> RemoteLocation | None:
    """The location `text` names, if it is a URL of a source modelseal reads."""
    scheme, separator, rest = text.partition("://")
    return RemoteLocation(text) if separator and rest and scheme in SCHEMES else None


def open_model(location: RemoteLocation, *, pull: bool = False, scanning: bool = False) -> RemoteModel:
    """List the model's files (nothing but listings and manifests is transferred). An OCI layer that is an
    archive is unpacked with `pull`, kept whole for the scanner when `scanning`, and refused otherwise."""
    if location.scheme == "oci":
        return open_artifact(location).model("unpack" if pull else "scan" if scanning else "refuse")
    if location.scheme == "s3":
        from modelseal.remote.s3 import open_s3

        return open_s3(location.url)
    if location.scheme == "hf":
        from modelseal.remote.hf import open_hub

        return open_hub(location.url)
    from modelseal.remote.web import open_url

    return open_url(location.url)


def open_artifact(location: RemoteLocation) -> OciArtifact:
    from modelseal.remote.oci import OciArtifact, OciReference

    return OciArtifact(OciReference.parse(location.url))


__all__ = ["SCHEMES", "RemoteLocation", "open_artifact", "open_model", "remote_location"]
