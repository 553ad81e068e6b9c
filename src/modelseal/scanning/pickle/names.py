"""Resolve a pickled global to the name the unpickler would really import."""

from __future__ import annotations

import _compat_pickle


def canonical(module: str, name: str, protocol: int) -> tuple[str, str]:
    """(module, qualname) after the Python 2 aliases the unpickler applies below protocol 3."""
    if protocol < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            return _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return module, name


def reachable_names(module: str, name: str) -> list[str]:
    """Every name a dotted lookup can reach: `shlex` + `os.system` is also `os.system` (shlex imports os)."""
    parts = name.split(".")
    return [f"{module}.{name}", *(".".join(parts[i:]) for i in range(len(parts) - 1))]
