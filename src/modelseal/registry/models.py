"""Which models a registry command covers: the models of a directory (`ROOT/name` or `ROOT/org/name`), every
repository of a Hugging Face hub cache (its `main` snapshot), or a file that lists model paths or `org/name` ids."""

from __future__ import annotations

from pathlib import Path

from modelseal.errors import InputError
from modelseal.hf_cache import looks_like_repo_id, resolve_repo

LIST_SUFFIXES = (".txt", ".list", ".lst")


def _has_files(directory: Path) -> bool:
    return any(entry.is_file() for entry in directory.iterdir() if not entry.name.startswith("."))


def _from_directory(root: Path) -> list[Path]:
    """A child holding files is a model; a child holding only directories is an organisation of models."""
    models: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if _has_files(child):
            models.append(child)
        else:
            models.extend(sorted(p for p in child.iterdir() if p.is_dir() and not p.name.startswith(".")))
    return models


def _from_hub_cache(root: Path) -> list[Path]:
    models = []
    for entry in sorted(root.glob("models--*--*")):
        _, owner, name = entry.name.split("--", 2)
        models.append(resolve_repo(f"{owner}/{name}", cache=root))
    return models


def _from_list(listing: Path) -> list[Path]:
    models = []
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        path = Path(text) if Path(text).is_absolute() else listing.parent / text
        if path.exists():
            models.append(path)
        elif looks_like_repo_id(text):
            models.append(resolve_repo(text))
        else:
            raise InputError(f"{listing}:{number}: {text!r} is neither a path nor a cached org/name")
    return models


def discover(source: Path) -> list[Path]:
    """The models `source` names, each once, in a stable order."""
    if source.is_file():
        models = _from_list(source)
    elif source.is_dir() and any(source.glob("models--*--*")):
        models = _from_hub_cache(source)
    elif source.is_dir():
        models = _from_directory(source)
    else:
        raise InputError(f"{source} is not a directory of models, a Hugging Face cache or a list of models")
    unique = list(dict.fromkeys(p.absolute() for p in models))
    if not unique:
        raise InputError(f"no models found in {source}", details=("a model is a directory holding files",))
    return unique
