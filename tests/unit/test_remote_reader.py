"""The reader under remote models: a ranged stream reads as the bytes do, every format scanner judges a file the
same through it as from disk, and the OCI manifest and reference parsers refuse what they cannot use with an
InputError, never another exception (hypothesis)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelseal.errors import InputError, VerificationError
from modelseal.remote import objects
from modelseal.remote.objects import Meter, Published, RangeReader, RemoteFile, RemoteModel, read_whole
from modelseal.remote.oci import OciReference, files_of
from modelseal.remote.scan import scan_remote_file
from modelseal.scanning.context import ScanOptions
from modelseal.scanning.engine import scan_file
from tests.fuzz.seeds import build_seeds


def over(data: bytes, name: str = "file", published: Published | None = None) -> RemoteFile:
    return RemoteFile(name, len(data), lambda start, end: data[start:end], published)


@pytest.fixture
def tiny_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file read in ranges, in blocks small enough that reads straddle them all the time."""
    monkeypatch.setattr(objects, "WHOLE_READ_MAX", -1)
    monkeypatch.setattr(objects, "BLOCK_SIZE", 61)
    monkeypatch.setattr(objects, "MAX_BLOCK_SIZE", 4096)
    monkeypatch.setattr(objects, "CACHED_BLOCKS", 3)


operations = st.lists(
    st.tuples(st.sampled_from(["read", "seek_set", "seek_cur", "seek_end", "read_all"]), st.integers(-300, 5000)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=6000), steps=operations)
def test_a_ranged_stream_reads_exactly_as_the_bytes(data: bytes, steps: list[tuple[str, int]]) -> None:
    expected = io.BytesIO(data)
    actual = io.BufferedReader(RangeReader(over(data)), buffer_size=97)
    for operation, argument in steps:
        if operation == "read":
            assert actual.read(max(argument, 0)) == expected.read(max(argument, 0))
        elif operation == "read_all":
            assert actual.read() == expected.read()
        else:
            whence = {"seek_set": io.SEEK_SET, "seek_cur": io.SEEK_CUR, "seek_end": io.SEEK_END}[operation]
            base = {io.SEEK_SET: 0, io.SEEK_CUR: expected.tell(), io.SEEK_END: len(data)}[whence]
            if base + argument < 0:
                continue  # both refuse a negative position
            assert actual.seek(argument, whence) == expected.seek(argument, whence)
        assert actual.tell() == expected.tell()


def test_a_server_that_returns_short_ranges_is_an_error() -> None:
    short = RemoteFile("weights.bin", 1000, lambda start, end: b"\0" * (end - start - 1))
    with pytest.raises(VerificationError, match="returned"):
        io.BufferedReader(RangeReader(short)).read(10)


def test_a_whole_read_is_checked_against_the_published_digest() -> None:
    good = Published("sha256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")  # "hello"
    assert read_whole(over(b"hello", published=good)) == b"hello"
    with pytest.raises(VerificationError, match="do not match the digest"):
        read_whole(over(b"jello", published=good))
    blob = Published("git-sha1", "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0")  # git hash-object of "hello"
    assert read_whole(over(b"hello", published=blob)) == b"hello"


SEEDS = build_seeds("/nonexistent/modelseal-canary")


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_format_is_judged_the_same_from_disk_and_through_ranges(
    name: str, tiny_blocks: None, tmp_path: Path
) -> None:
    data = SEEDS[name]
    (tmp_path / name).write_bytes(data)
    local = scan_file(tmp_path / name, ScanOptions())
    model = RemoteModel("https://example.invalid/" + name, name, (over(data, name),), Meter(), single_file=True)
    remote = scan_remote_file(model, model.files[0], ScanOptions())
    assert (remote.status, remote.format, remote.findings) == (local.status, local.format, local.findings)


digests = st.sampled_from(["sha256:" + "ab" * 32, "sha256:" + "0" * 64, "md5:1", 7, None])
names = st.sampled_from(["model.safetensors", "a/b.bin", "../x", "/abs", "", "a//b", "config.json", 3])
layers = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": st.sampled_from(
            [
                "application/vnd.cncf.model.weight.v1.raw",
                "application/vnd.cncf.model.weight.v1.tar",
                "application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+gzip",
                5,
            ]
        ),
        "digest": digests,
        "size": st.one_of(st.integers(-2, 10**12), st.booleans(), st.text(max_size=3)),
        "annotations": st.one_of(
            st.none(),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(
                st.sampled_from(
                    ["org.cncf.model.filepath", "org.opencontainers.image.title", "io.deis.oras.content.unpack"]
                ),
                st.one_of(names, st.sampled_from(["true", "false"])),
            ),
        ),
    },
)
manifests = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "layers": st.one_of(st.lists(st.one_of(layers, st.integers()), max_size=4), st.text(max_size=2)),
            "manifests": st.lists(st.integers(), max_size=1),
            "mediaType": st.text(max_size=5),
        },
    ),
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.integers() | st.text(max_size=4), lambda inner: st.lists(inner, max_size=3), max_leaves=6
        ),
    ),
)


@settings(max_examples=500, deadline=None)
@given(manifest=manifests)
def test_any_manifest_gives_named_files_or_an_input_error(manifest: dict[str, object]) -> None:
    try:
        files = files_of(json.loads(json.dumps(manifest)), "oci://r/m:v", lambda digest, size: lambda s, e: b"")
    except InputError:
        return
    assert files and len({f.name for f in files}) == len(files)
    assert all(f.published is not None and f.published.vouched and f.size >= 0 for f in files)


@settings(max_examples=500, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=60),
        st.from_regex(
            r"oci://[a-z0-9.:-]{1,20}/[a-z0-9/._-]{1,20}(:[\w.-]{1,10})?(@sha256:[0-9a-f]{64})?", fullmatch=True
        ),
    )
)
def test_any_reference_parses_and_round_trips_or_is_an_input_error(text: str) -> None:
    try:
        reference = OciReference.parse(text)
    except InputError:
        return
    expected = reference if reference.digest is None else dataclasses.replace(reference, tag=None)
    assert OciReference.parse(str(reference)) == expected
