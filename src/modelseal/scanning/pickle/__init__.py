"""Pickle scanning: a symbolic unpickler, name resolution and the allow/deny policy."""
