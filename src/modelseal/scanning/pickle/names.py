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


# the names libraries import their dependencies under: `sklearn.utils` + `np.load` reaches `numpy.load`
MODULE_ALIASES = {"np": "numpy", "pd": "pandas", "tf": "tensorflow", "nn": "torch.nn", "F": "torch.nn.functional"}


def reachable_names(module: str, name: str) -> list[str]:
    """Every name a dotted lookup can reach: `shlex` + `os.system` is also `os.system` (shlex imports os), and a
    module re-exported under its usual alias is that module."""
    parts = name.split(".")
    tails = [parts[i:] for i in range(len(parts) - 1)]
    aliased = [[MODULE_ALIASES[tail[0]], *tail[1:]] for tail in tails if tail[0] in MODULE_ALIASES]
    return [f"{module}.{name}", *(".".join(tail) for tail in tails + aliased)]
