"""`guard.install(policy=...)`: every loader people call checks first, for the whole process.

Patched: `pickle.load/loads/Unpickler` (C and Python), `torch.load`, `joblib.load`, `numpy.load(allow_pickle=True)`,
`pandas.read_pickle`, `keras.saving.load_model`, and transformers' `from_pretrained` (models, Auto classes, configs
and tokenizers: `trust_remote_code` runs the repository's Python, which the check scans). A library imported
after `install()` is patched when it is imported.

What each loader gets is what was checked:
- a stream or bytes is read once; those bytes are scanned (and, with a policy, compared with the signed digest of
  the file they came from) and the loader unpickles exactly them;
- a path is opened first, checked, and handed on as that open file once the path still names it (a directory, or
  a loader that insists on a path, gets the path after the same identity check; see the README's TOCTOU notes).

Inside a guarded load the library's own nested loads (torch.load's inner unpickler) pass through: the file they
read was checked as a whole.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.machinery
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from modelseal.guard.decide import UntrustedModelError, ensure_trusted, ensure_trusted_bytes, pinned
from modelseal.guard.lazy import LazyModel


@dataclass
class _Installation:
    """What `install()` set up: the policy, the mode, and the models from_pretrained opened lazily."""

    policy: Path | None
    lazy: bool
    models: list[LazyModel] = field(default_factory=list)


@dataclass
class _Process:
    installation: _Installation | None = None  # None: not installed


_process = _Process()
_state = threading.local()
_restore: list[Callable[[], None]] = []


def _inside() -> bool:
    return bool(getattr(_state, "depth", 0))


@contextlib.contextmanager
def _guarded() -> Iterator[None]:
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1


def _current_policy() -> Path | None:
    return _process.installation.policy if _process.installation is not None else None


# --- the two ways a loader is fed: bytes read once, or a path pinned by an open file ----------------------


def _source_of(stream: Any) -> Path | None:
    name = getattr(stream, "name", None)
    return Path(name) if isinstance(name, (str, os.PathLike)) and Path(name).is_file() else None


def _read_checked(stream: IO[bytes]) -> tuple[bytes, int | None]:
    """The rest of `stream`, checked; and where it started (None: not seekable)."""
    start = stream.tell() if _seekable(stream) else None
    data = stream.read()
    if not isinstance(data, bytes):
        raise UntrustedModelError("the loader was given a stream that does not yield bytes")
    ensure_trusted_bytes(data, _source_of(stream), _current_policy())
    return data, start


def _seekable(stream: Any) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def _checked_stream(file: IO[bytes]) -> Iterator[IO[bytes]]:
    """The rest of `file`, read once and checked, as a stream to unpickle from; afterwards `file` is left where
    pickle would leave it, right after what was unpickled."""
    data, start = _read_checked(file)
    stream = io.BytesIO(data)
    yield stream
    if start is not None:
        file.seek(start + stream.tell())


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


# --- the wrappers ---------------------------------------------------------------------------------------


def _file_loader(
    original: Callable[..., Any],
    *,
    pass_path: Callable[[tuple[Any, ...], dict[str, Any]], bool] = lambda args, kwargs: False,
    for_handle: Callable[[Any, dict[str, Any]], dict[str, Any]] = lambda path, kwargs: kwargs,
) -> Any:
    """A loader whose first argument is a path or a binary stream (torch.load, joblib.load, numpy.load, ...).
    `pass_path`: the loader must get the path itself (memory-mapped loads), after the same identity check;
    `for_handle`: the keyword arguments that replace what the loader would have inferred from the path."""

    @functools.wraps(original)
    def load(source: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside():
            return original(source, *args, **kwargs)
        with _guarded():
            if _is_path(source):
                with pinned(source, _current_policy()) as handle:
                    if pass_path(args, kwargs):
                        return original(source, *args, **kwargs)
                    return original(handle, *args, **for_handle(source, kwargs))
            data, _ = _read_checked(source)
            return original(io.BytesIO(data), *args, **kwargs)

    return load


def _pickle_load(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def load(file: IO[bytes], *args: Any, **kwargs: Any) -> Any:
        if _inside():
            return original(file, *args, **kwargs)
        with _guarded(), _checked_stream(file) as stream:
            return original(stream, *args, **kwargs)

    return load


def _pickle_loads(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def loads(data: Any, /, *args: Any, **kwargs: Any) -> Any:
        if _inside():
            return original(data, *args, **kwargs)
        with _guarded():
            ensure_trusted_bytes(bytes(data), None, None)  # bytes have no file to verify: the scan decides
            return original(data, *args, **kwargs)

    return loads


def _guarded_unpickler(base: type) -> type:
    """A subclass whose `load()` reads the rest of its file, checks it, and unpickles exactly those bytes
    (re-initialising itself on them: subclasses' find_class and persistent_load stay in force)."""

    class GuardedUnpickler(base):  # type: ignore[misc]
        def __init__(self, file: IO[bytes], *args: Any, **kwargs: Any) -> None:
            super().__init__(file, *args, **kwargs)
            self._modelseal_file, self._modelseal_options = file, (args, kwargs)

        def load(self) -> Any:
            if _inside():
                return super().load()
            with _guarded(), _checked_stream(self._modelseal_file) as stream:
                args, kwargs = self._modelseal_options
                super().__init__(stream, *args, **kwargs)
                return super().load()

    GuardedUnpickler.__name__ = GuardedUnpickler.__qualname__ = base.__name__
    GuardedUnpickler.__module__ = base.__module__
    return GuardedUnpickler


def _from_pretrained(original: Callable[..., Any]) -> Callable[..., Any]:
    """transformers' `from_pretrained` (a classmethod's function): a local directory, or a repository already in
    the Hugging Face cache, is checked and loaded from disk; anything else would be downloaded unchecked."""

    @functools.wraps(original)
    def from_pretrained(cls: Any, name_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside():
            return original(cls, name_or_path, *args, **kwargs)
        with _guarded():
            directory = _local_model(name_or_path)
            setup = _process.installation
            if setup is not None and setup.lazy and setup.policy is not None and directory.is_dir():
                model = LazyModel.open(directory, setup.policy)
                model.verify_eager_part()  # weights are verified as safetensors opens them
                setup.models.append(model)
            else:
                ensure_trusted(directory, _current_policy())
            return original(cls, str(directory), *args, **kwargs)

    return from_pretrained


def _safetensors_opener(original: Callable[..., Any]) -> Callable[..., Any]:
    """safe_open / load_file: a file of a lazily opened model is verified first (inside from_pretrained too)."""

    @functools.wraps(original)
    def opener(filename: Any, *args: Any, **kwargs: Any) -> Any:
        for model in _process.installation.models if _process.installation is not None else ():
            name = model.name_of(filename)
            if name is not None:
                return original(str(model.path(name)), *args, **kwargs)
        return original(filename, *args, **kwargs)

    return opener


def _local_model(name_or_path: Any) -> Path:
    path = Path(name_or_path)
    if path.exists():
        return path
    from modelseal.errors import InputError
    from modelseal.hf_cache import looks_like_repo_id, resolve_repo

    if isinstance(name_or_path, str) and looks_like_repo_id(name_or_path):
        try:
            return resolve_repo(name_or_path)
        except InputError as exc:
            raise UntrustedModelError(
                f"{name_or_path} is not on disk: modelseal checks a model before it is loaded, not while it downloads",
                details=(exc.message, "download it first (hf download), then load it"),
            ) from exc
    raise UntrustedModelError(f"{name_or_path} is neither a local model nor a repository in the local cache")


# --- what is patched where ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Patch:
    module: str
    owner: str  # dotted attribute path inside the module ("" for the module itself)
    name: str
    wrap: Callable[[Any], Any]
    classmethod_: bool = False


def _joblib_mmap(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """joblib.load and numpy.load both take `mmap_mode` second: a memory map needs the path itself."""
    return bool(kwargs.get("mmap_mode") or (args and args[0]))


def _numpy_load(original: Callable[..., Any]) -> Callable[..., Any]:
    guarded = _file_loader(original, pass_path=_joblib_mmap)  # numpy.load(file, mmap_mode, allow_pickle, ...)

    @functools.wraps(original)
    def load(file: Any, *args: Any, **kwargs: Any) -> Any:
        allow_pickle = kwargs.get("allow_pickle", args[1] if len(args) > 1 else False)
        if not allow_pickle:
            return original(file, *args, **kwargs)  # numpy refuses pickles itself; arrays carry no code
        return guarded(file, *args, **kwargs)

    return load


def _pandas_compression(path: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """pandas infers compression from the file name, which an open handle does not carry."""
    if kwargs.get("compression", "infer") != "infer":
        return kwargs
    from pandas.io.common import infer_compression  # type: ignore[import-untyped]

    return {**kwargs, "compression": infer_compression(os.fspath(path), "infer")}


def _path_loader(original: Callable[..., Any]) -> Callable[..., Any]:
    """A loader that takes only a path (keras.saving.load_model): checked, pinned, then called with the path."""

    @functools.wraps(original)
    def load(path: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside() or not _is_path(path):
            return original(path, *args, **kwargs)
        with _guarded():
            if Path(path).is_dir():
                ensure_trusted(Path(path), _current_policy())
                return original(path, *args, **kwargs)
            with pinned(path, _current_policy()):
                return original(path, *args, **kwargs)

    return load


_PATCHES: Sequence[_Patch] = (
    _Patch("pickle", "", "load", _pickle_load),
    _Patch("pickle", "", "_load", _pickle_load),
    _Patch("pickle", "", "loads", _pickle_loads),
    _Patch("pickle", "", "_loads", _pickle_loads),
    _Patch("pickle", "", "Unpickler", _guarded_unpickler),
    _Patch("pickle", "", "_Unpickler", _guarded_unpickler),
    _Patch("torch", "", "load", lambda original: _file_loader(original, pass_path=lambda a, k: bool(k.get("mmap")))),
    _Patch("joblib", "", "load", lambda original: _file_loader(original, pass_path=_joblib_mmap)),
    _Patch("numpy", "", "load", _numpy_load),
    _Patch("pandas", "", "read_pickle", lambda original: _file_loader(original, for_handle=_pandas_compression)),
    _Patch("keras.saving", "", "load_model", _path_loader),
    _Patch("keras", "saving", "load_model", _path_loader),
    _Patch("safetensors", "", "safe_open", _safetensors_opener),
    _Patch("safetensors.torch", "", "load_file", _safetensors_opener),
    _Patch("transformers.modeling_utils", "", "safe_open", _safetensors_opener),
    _Patch("transformers.modeling_layers", "", "safe_open", _safetensors_opener),
    _Patch("transformers.integrations.accelerate", "", "safe_open", _safetensors_opener),
    _Patch("transformers", "PreTrainedModel", "from_pretrained", _from_pretrained, classmethod_=True),
    _Patch("transformers", "AutoConfig", "from_pretrained", _from_pretrained, classmethod_=True),
    _Patch("transformers", "AutoTokenizer", "from_pretrained", _from_pretrained, classmethod_=True),
    _Patch(
        "transformers.models.auto.auto_factory",
        "_BaseAutoModelClass",
        "from_pretrained",
        _from_pretrained,
        classmethod_=True,
    ),
)


_applied: set[_Patch] = set()


def _apply(patch: _Patch, module: ModuleType) -> None:
    if patch in _applied:
        return  # patched already, as a side effect of reaching another patch's owner
    _applied.add(patch)
    owner: Any = module
    for part in filter(None, patch.owner.split(".")):
        owner = getattr(owner, part, None)
        if owner is None:
            return
    if patch.classmethod_:
        raw = owner.__dict__.get(patch.name)
        if not isinstance(raw, classmethod):
            return
        setattr(owner, patch.name, classmethod(patch.wrap(raw.__func__)))
    else:
        raw = getattr(owner, patch.name, None)
        if raw is None:
            return
        setattr(owner, patch.name, patch.wrap(raw))
    _restore.append(lambda: setattr(owner, patch.name, raw))


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches a guarded library when it is imported after `install()`."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not any(p.module == fullname for p in _PATCHES):
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                loader = spec.loader
                run = loader.exec_module

                def exec_module(module: ModuleType, run: Callable[[ModuleType], None] = run) -> None:
                    run(module)
                    if _process.installation is not None:
                        for patch in _PATCHES:
                            if patch.module == fullname:
                                _apply(patch, module)

                loader.exec_module = exec_module  # type: ignore[method-assign]
                return spec
        return None


_FINDER = _PatchOnImport()


def install(policy: str | Path | None = None, *, lazy: bool = False) -> None:
    """Guard every supported loader in this process. With `policy`, loads must pass `check` under it; without,
    what they read must scan clean. `lazy` (with a policy): `from_pretrained` checks the signature and listing
    once and each safetensors shard when it is opened (see `modelseal.guard.lazy`). Installing again replaces
    the policy and the mode."""
    if lazy and policy is None:
        from modelseal.errors import InputError

        raise InputError("lazy verification needs a policy: it checks files against a trusted signature")
    again = _process.installation is not None
    _process.installation = _Installation(Path(policy) if policy is not None else None, lazy)
    if again:
        return
    import pickle  # noqa: F401 - always guarded, so always imported

    sys.meta_path.insert(0, _FINDER)  # first: reaching transformers.PreTrainedModel imports safetensors
    for patch in _PATCHES:
        module = sys.modules.get(patch.module)
        if module is not None:
            _apply(patch, module)


def uninstall() -> None:
    """Put every patched loader back."""
    while _restore:
        _restore.pop()()
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    _applied.clear()
    _process.installation = None


def installed() -> bool:
    return _process.installation is not None
