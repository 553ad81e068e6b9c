"""One module per format the engine dispatches to (see `registry.REGISTRY`): each reads structure, never weights,
and reports findings, gaps and notes to the file's `ScanContext`."""
