"""Issue 11: one test per technique of the 2025-26 research, built from raw bytes, named after its source.

hide_and_seek: T. Liu et al., "The Art of Hide and Seek" (arXiv:2508.19774): gadgets laundered through allowed
callables, and sinks no denylist named. sleepy_pickle: Trail of Bits (2024): tampering with live classes while
loading. The canary tests load a sample in a throwaway process to prove the technique runs code for real.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelseal.scanning.findings import FileResult, Severity
from modelseal.scanning.scanner import scan_file
from tests.scanning.pickles import call, global_, stack_global, stop, tuple_, unicode

BUILD, EMPTY_DICT, EMPTY_TUPLE, MARK, LIST = b"b", b"}", b")", b"(", b"l"


def scan(tmp_path: Path, data: bytes, name: str = "model.pkl") -> FileResult:
    (tmp_path / name).write_bytes(data)
    return scan_file(tmp_path / name)


def findings(result: FileResult, rule: str, severity: Severity = Severity.CRITICAL) -> list[str]:
    """The payloads of the findings of `rule` at `severity`."""
    return [f.payload or f.message for f in result.findings if f.rule == rule and f.severity is severity]


def canary_runs(tmp_path: Path, data: bytes) -> bool:
    """Load `data` with pickle in a throwaway process; the payload touches `tmp_path / 'canary'`."""
    sample = tmp_path / "canary.pkl"
    sample.write_bytes(data)
    code = f"import pickle\ntry:\n    pickle.load(open({str(sample)!r}, 'rb'))\nexcept Exception:\n    pass"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, capture_output=True)
    return (tmp_path / "canary").exists()


def path_of(tmp_path: Path) -> bytes:
    return call(global_("pathlib", "Path"), unicode(str(tmp_path / "canary")))


# --- laundering through allowed higher-order callables ------------------------------------------------------


def rebuild_from_type(func: bytes, args: bytes) -> bytes:
    return stop(
        call(global_("torch._tensor", "_rebuild_from_type_v2"), func, global_("torch", "Tensor"), args, EMPTY_DICT)
    )


def test_hide_and_seek_rebuild_from_type_v2_calls_its_first_argument(tmp_path: Path) -> None:
    sample = rebuild_from_type(global_("somepkg.helpers", "run"), tuple_(unicode("id")))
    payloads = findings(scan(tmp_path, sample), "PICKLE-UNKNOWN-CALL")
    assert payloads == ["somepkg.helpers.run('id') via torch._tensor._rebuild_from_type_v2"]


def test_hide_and_seek_rebuild_from_type_v2_canary(tmp_path: Path) -> None:
    sample = rebuild_from_type(global_("pathlib", "Path.touch"), tuple_(path_of(tmp_path)))
    assert any(
        "via torch._tensor._rebuild_from_type_v2" in p
        for p in findings(scan(tmp_path, sample), "PICKLE-DANGEROUS-CALL")
    )
    assert canary_runs(tmp_path, sample)


def test_hide_and_seek_numpy_random_state_calls_the_constructor_it_is_handed(tmp_path: Path) -> None:
    ctor = global_("numpy.random._pickle", "__randomstate_ctor")
    sample = stop(call(ctor, path_of(tmp_path), global_("pathlib", "Path.touch")))
    result = scan(tmp_path, sample)
    assert findings(result, "PICKLE-DANGEROUS-CALL") == [
        f"pathlib.Path.touch(pathlib.Path({str(tmp_path / 'canary')!r})) via numpy.random._pickle.__randomstate_ctor"
    ]
    assert canary_runs(tmp_path, sample)


def test_numpy_random_state_as_numpy_writes_it_is_clean(tmp_path: Path) -> None:
    ctor = global_("numpy.random._pickle", "__randomstate_ctor")
    honest = stop(call(ctor, unicode("MT19937"), global_("numpy.random._pickle", "__bit_generator_ctor")))
    assert scan(tmp_path, honest).findings == ()


def test_hide_and_seek_partial_restored_by_setstate(tmp_path: Path) -> None:
    """pickle restores a partial as `partial(f)` then BUILD (func, args, kwds, dict): the state swaps in the callable
    and its arguments, and calling the partial calls them."""
    state = tuple_(global_("somepkg.helpers", "run"), tuple_(unicode("id")), EMPTY_DICT, b"N")
    partial = call(global_("functools", "partial"), global_("builtins", "len")) + state + BUILD
    result = scan(tmp_path, stop(partial + EMPTY_TUPLE + b"R"))
    assert findings(result, "PICKLE-UNKNOWN-CALL") == ["somepkg.helpers.run('id') via functools.partial"]


def test_hide_and_seek_partial_of_a_higher_order_helper(tmp_path: Path) -> None:
    inner = global_("torch._tensor", "_rebuild_from_type_v2")
    partial = call(global_("functools", "partial"), inner, global_("somepkg", "run"), global_("torch", "Tensor"))
    result = scan(tmp_path, stop(call(partial, tuple_(unicode("id")), EMPTY_DICT)))
    assert findings(result, "PICKLE-UNKNOWN-CALL") == ["somepkg.run('id') via torch._tensor._rebuild_from_type_v2"]


def test_hide_and_seek_callable_hidden_after_sixteen_literals(tmp_path: Path) -> None:
    """A contract is checked on every argument, not on the first items the emulator keeps for rendering."""
    items = b"".join(b"K\x01" for _ in range(40)) + global_("somepkg", "run")
    result = scan(tmp_path, stop(call(global_("torch.jit._pickle", "build_intlist"), MARK + items + LIST)))
    assert findings(result, "PICKLE-CONTRACT-BREACH")


def test_hide_and_seek_partial_in_tensor_backward_hooks(tmp_path: Path) -> None:
    hooks = call(
        global_("collections", "OrderedDict"),
        MARK + tuple_(b"K\x00", call(global_("functools", "partial"), global_("builtins", "len"))) + LIST,
    )
    rebuild = call(
        global_("torch._utils", "_rebuild_tensor_v2"), b"N", b"K\x00", EMPTY_TUPLE, EMPTY_TUPLE, b"\x89", hooks
    )
    result = scan(tmp_path, stop(rebuild))
    assert findings(result, "PICKLE-CONTRACT-BREACH")


# --- allowed-looking names that are not what they look like ------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("sklearn.utils", "np.load"),  # a module reached through an attribute, under its usual alias
        ("pandas.core.frame", "DataFrame.to_csv"),  # a method of an allowed class: writes a .pth file
        ("torch.nn.modules.module", "register_module_forward_hook"),  # a function under an allowed prefix
        ("numpy.lib._npyio_impl", "load"),  # numpy 2's private home of numpy.load
        ("sklearn.datasets._base", "_fetch_remote"),  # downloads a URL (a data: URL writes any bytes)
        ("typing", "get_type_hints"),  # evaluates strings as forward references
        ("dataclasses", "_create_fn"),  # exec
        ("torch._utils", "_import_dotted_name"),
        ("sympy", "sympify"),
        ("_tkinter", "create"),
    ],
)
def test_hide_and_seek_sinks_and_traversals(tmp_path: Path, module: str, name: str) -> None:
    result = scan(tmp_path, stop(call(stack_global(module, name), unicode("x"))))
    assert result.worst is Severity.CRITICAL, result.findings


def test_a_module_prefix_allows_classes_only(tmp_path: Path) -> None:
    """`sklearn.*` allows `sklearn.tree._tree.Tree`, not an arbitrary function of sklearn."""
    result = scan(tmp_path, stop(call(global_("sklearn.utils._joblib", "somefunction"), unicode("x"))))
    assert findings(result, "PICKLE-UNKNOWN-CALL", Severity.HIGH)


# --- effects without a dangerous call ----------------------------------------------------------------------


def test_sleepy_pickle_build_on_an_allowed_class(tmp_path: Path) -> None:
    """BUILD on `torch.nn.Linear` itself rewrites `forward` for every model in the process."""
    state = EMPTY_DICT + unicode("forward") + global_("builtins", "len") + b"s"
    result = scan(tmp_path, stop(global_("torch.nn.modules.linear", "Linear") + state + BUILD))
    assert findings(result, "PICKLE-GLOBAL-MUTATION")


def test_sleepy_pickle_copyreg_extension_registry_poisoned_in_stream(tmp_path: Path) -> None:
    register = call(global_("copyreg", "add_extension"), unicode("os"), unicode("system"), b"K\xf0") + b"0"
    result = scan(tmp_path, stop(register + b"\x82\xf0" + tuple_(unicode("id")) + b"R"))
    assert result.worst is Severity.CRITICAL
    assert "copyreg.add_extension" in {f.target for f in result.findings}


# --- benign shapes of the same helpers stay clean ----------------------------------------------------------


def test_legacy_torch_module_record_is_the_class_it_names(tmp_path: Path) -> None:
    """torch < 1.6 pickles a whole module with ('module', cls, file, source) persistent ids: the class, as torch's
    loader returns it, instantiated by copyreg."""
    record = tuple_(unicode("module"), global_("torch.nn.modules.linear", "Linear"), unicode("f.py"), unicode("src"))
    body = record + b"Q"  # BINPERSID
    sample = stop(call(global_("copyreg", "_reconstructor"), body, global_("builtins", "object"), b"N"), protocol=2)
    assert scan(tmp_path, sample).findings == ()
    evil = record.replace(b"torch.nn.modules.linear\nLinear", b"somepkg\nEvil")
    sample = stop(
        call(global_("copyreg", "_reconstructor"), evil + b"Q", global_("builtins", "object"), b"N"), protocol=2
    )
    assert findings(scan(tmp_path, sample), "PICKLE-UNKNOWN-CLASS", Severity.MEDIUM)


def test_cve_2025_32434_torchscript_setstate_writing_a_file(tmp_path: Path) -> None:
    """A TorchScript `__setstate__` mapping a file writable with `aten::from_file(shared=True)`."""
    import io
    import zipfile

    code = (
        "class Evil(Module):\n  def __setstate__(self, state: Tuple[Tensor]) -> NoneType:\n"
        "    t = ops.aten.from_file('/home/user/.bashrc', True, 64)\n    return None\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/data.pkl", stop(b"N"))
        archive.writestr("model/code/__torch__/evil.py", code)
    result = scan(tmp_path, buffer.getvalue(), "model.pt")
    assert findings(result, "TORCHSCRIPT-FILE-ACCESS", Severity.HIGH)


def test_hide_and_seek_partial_keywords_smuggle_a_key_function(tmp_path: Path) -> None:
    """`partial(sorted, key=f)` restored by BUILD: `sorted` is allowed for data only, and `key=` hands it a callable."""
    keywords = EMPTY_DICT + unicode("key") + global_("somepkg", "run") + b"s"
    state = tuple_(global_("builtins", "sorted"), EMPTY_TUPLE, keywords, b"N")
    partial = call(global_("functools", "partial"), global_("builtins", "sorted")) + state + BUILD
    result = scan(tmp_path, stop(call(partial, MARK + unicode("id") + LIST)))
    assert findings(result, "PICKLE-CONTRACT-BREACH")
