"""Check a model before a framework loads it, in one line of the user's code:

    from modelseal import guard
    state = guard.torch_load("model.pt", policy="trust.toml")
    model = guard.from_pretrained(AutoModel, "./llama", policy="trust.toml")
    guard.install(policy="trust.toml")   # or: every loader in the process checks first

With a trust policy, the model must pass `check` (trusted signature, clean scan); without one, it must scan
clean. Anything else raises `UntrustedModelError` and the framework is never called.
"""

from modelseal.guard.decide import UntrustedModelError, ensure_trusted, from_pretrained, torch_load
from modelseal.guard.hooks import install, installed, uninstall
from modelseal.guard.lazy import LazyModel

__all__ = [
    "LazyModel",
    "UntrustedModelError",
    "ensure_trusted",
    "from_pretrained",
    "install",
    "installed",
    "torch_load",
    "uninstall",
]
