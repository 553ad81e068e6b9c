"""Formats with structure to validate rather than code to emulate: safetensors, HDF5/Keras, GGUF, JSON configs
and chat templates, ONNX, Python sources, and NumPy files (whose object arrays hand over to the pickle scanner)."""

from __future__ import annotations

import json
import re
from typing import IO

from modelseal.scanning.context import MAX_JSON_BYTES, MAX_PROTOBUF_BYTES, ScanContext, join
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.streams import window

# the npy header is a Python dict literal; read it with patterns, not `ast` (which compiles): only the dtype matters
_NPY_DESCR = re.compile(r"""['"]descr['"]\s*:\s*(.*?)\s*,\s*['"](?:fortran_order|shape)['"]""", re.S)
_NPY_OBJECT = re.compile(r"""['"][<>|=]?O\d*['"]""")


class StructuredScans(ScanContext):
    def _scan_safetensors(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        from modelseal.scanning.formats import safetensors

        def scan_region(start: int, length: int, label: str) -> None:
            with window(handle, start, length) as region:
                self.scan_handle(region, length, join(member, label), depth + 1)

        try:
            self.add_all(member, safetensors.check(handle, size, scan_region))
        except safetensors.SafetensorsError as exc:
            self.add(
                member,
                Finding(
                    "SAFETENSORS-INVALID", Severity.MEDIUM, f"not a valid safetensors file: {exc} (loaders refuse it)"
                ),
            )
            self.gap(member, f"invalid safetensors header ({exc})")
        return "safetensors"

    def _scan_hdf5(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """Legacy Keras H5: the model config lives in a root attribute; weights-only files have none."""
        import h5py

        from modelseal.scanning.formats.keras import check_config

        try:
            handle.seek(0)
            with h5py.File(handle, "r") as store:  # h5py reads file objects: archive members are not copied out
                raw = store.attrs.get("model_config")
        except (OSError, ValueError) as exc:
            self.gap(member, f"HDF5 file unreadable ({exc})")
            return "hdf5"
        if raw is None:
            return "hdf5"
        try:
            config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
        except (UnicodeDecodeError, ValueError) as exc:
            self.gap(member, f"Keras model_config is not JSON ({exc})")
            return "keras-h5"
        self.add_all(member, check_config(config))
        return "keras-h5"

    def _scan_gguf(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        from modelseal.scanning.formats import gguf

        try:
            with self._as_file(handle, member, ".gguf") as path:
                findings = gguf.check(path, size)
        except gguf.GGUFError as exc:
            self.add(member, Finding("GGUF-INVALID", Severity.MEDIUM, f"not a valid GGUF file: {exc}"))
            self.gap(member, f"GGUF could not be read ({exc})")
            return "gguf"
        self.add_all(member, findings)
        return "gguf"

    def _scan_json(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """Hugging Face configs: remote-code mappings and Jinja2 chat templates; other JSON is not scanned yet."""
        from modelseal.scanning.formats import hf
        from modelseal.scanning.formats.templates import check_template

        if size > MAX_JSON_BYTES:
            return "json"
        try:
            document = json.loads(handle.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return "json"
        if hf.is_hf_config(document):
            self.add_all(member, hf.check_config(document, self.directory(member)))
        templates = document.get("chat_template") if isinstance(document, dict) else None
        if isinstance(templates, str):
            templates = [{"name": "default", "template": templates}]
        if not isinstance(templates, list):
            return "json (hugging face config)" if hf.is_hf_config(document) else "json"
        for entry in templates:
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                self.add_all(member, check_template(entry["template"], f"chat_template[{entry.get('name', '?')}]"))
        return "json (chat template)"

    def _scan_protobuf(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """ONNX if it parses as a model with a graph, else a TensorFlow SavedModel if it has a meta graph."""
        from modelseal.scanning.formats import onnx, savedmodel

        if size > MAX_PROTOBUF_BYTES:
            self.gap(member, "protobuf larger than protobuf's own 2 GiB limit")
            return "protobuf"
        data = handle.read()
        if self.display_name(member).endswith("keras_metadata.pb"):
            return self._keras_metadata(data, member)
        try:
            findings = onnx.check(data, self.directory(member))
        except onnx.OnnxError:
            pass
        else:
            self.add_all(member, findings)
            return "onnx"
        try:
            findings = savedmodel.check(data)
        except savedmodel.SavedModelError as exc:
            if self.display_name(member).endswith("saved_model.pb"):
                self.gap(member, f"SavedModel could not be read ({exc})")
            return "protobuf"
        self.add_all(member, findings)
        return "tf-savedmodel"

    def _keras_metadata(self, data: bytes, member: str) -> str:
        """TF-Keras SavedModels keep each layer's config as JSON inside keras_metadata.pb."""
        from modelseal.scanning.formats import savedmodel
        from modelseal.scanning.formats.keras import check_config

        try:
            configs = savedmodel.keras_metadata(data)
        except savedmodel.SavedModelError as exc:
            self.gap(member, f"keras_metadata.pb could not be read ({exc})")
            return "keras-metadata"
        for config in configs:
            self.add_all(member, check_config(config))
        return "keras-metadata"

    def _scan_python(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        from modelseal.scanning.formats.hf import check_python

        if size > MAX_JSON_BYTES:
            self.gap(member, "Python source larger than the scan bound")
            return "python"
        self.add_all(member, check_python(handle.read().decode("utf-8", "replace"), self.display_name(member)))
        return "python"

    def _scan_jinja(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        from modelseal.scanning.formats.templates import check_template

        if size > MAX_JSON_BYTES:
            self.gap(member, "template larger than the scan bound")
            return "jinja"
        text = handle.read().decode("utf-8", "replace")
        self.add_all(member, check_template(text, self.display_name(member)))
        return "jinja"

    def _scan_npy(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """Object arrays carry a pickle right after the header; plain arrays are data."""
        prefix = handle.read(10)
        if len(prefix) < 10 or prefix[6] not in (1, 2, 3):
            self.gap(member, "npy header truncated or of an unknown version")
            return "npy"
        if prefix[6] == 1:
            length, start = int.from_bytes(prefix[8:10], "little"), 10
        else:
            length, start = int.from_bytes(prefix[8:10] + handle.read(2), "little"), 12
        handle.seek(start)
        header = handle.read(length).decode("latin-1")
        descr = _NPY_DESCR.search(header)
        if descr is None:
            self.gap(member, "npy header unreadable (no 'descr')")
            return "npy"
        if _NPY_OBJECT.search(descr.group(1)):
            with window(handle, start + length, size - start - length) as payload:
                self._scan_pickle(payload, size - start - length, join(member, "<npy object data>"), depth + 1)
            return "npy (object)"
        return "npy"
