from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelseal.errors import ModelTreeError
from modelseal.tree import TreeOptions, check_name, enumerate_model, normalize_ignore_path


def names(root: Path, **options: object) -> list[str]:
    return [f.name for f in enumerate_model(root, TreeOptions(**options)).files]  # type: ignore[arg-type]


def test_lists_regular_files_recursively_with_posix_names(model_dir: Path) -> None:
    assert names(model_dir) == [
        "config.json",
        "sub/deeper/empty",
        "sub/naïve-ünïcode.txt",
        "sub/tokenizer.json",
        "weights.bin",
    ]


def test_git_paths_are_ignored_only_at_top_level(model_dir: Path) -> None:
    (model_dir / ".git").mkdir()
    (model_dir / ".git" / "HEAD").write_text("ref")
    (model_dir / ".gitattributes").write_text("*.bin lfs")
    (model_dir / "sub" / ".gitignore").write_text("x")
    listed = names(model_dir)
    assert ".git/HEAD" not in listed and ".gitattributes" not in listed
    assert "sub/.gitignore" in listed
    assert ".git/HEAD" in names(model_dir, ignore_git_paths=False)


def test_ignore_paths_are_exact_paths_and_their_subtrees(model_dir: Path) -> None:
    listed = names(model_dir, ignore_paths=("sub/deeper", "config.json"))
    assert "sub/deeper/empty" not in listed and "config.json" not in listed
    assert "sub/tokenizer.json" in listed
    # an ignore path is not a prefix match on names
    assert "sub/tokenizer.json" in names(model_dir, ignore_paths=("sub/tok",))


def test_empty_model_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "m" / "only-dirs").mkdir(parents=True)
    with pytest.raises(ModelTreeError, match="empty model"):
        enumerate_model(tmp_path / "m", TreeOptions())


def test_non_utf8_name_is_rejected(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    with open(os.path.join(os.fsencode(model), b"bad-\xff-name"), "wb") as handle:
        handle.write(b"x")
    with pytest.raises(ModelTreeError, match="not valid UTF-8"):
        enumerate_model(model, TreeOptions())


def test_symlink_refused_unless_allowed(model_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"outside")
    (model_dir / "link.bin").symlink_to(outside)
    with pytest.raises(ModelTreeError, match="symbolic link"):
        enumerate_model(model_dir, TreeOptions())
    tree = enumerate_model(model_dir, TreeOptions(allow_symlinks=True))
    link = next(f for f in tree.files if f.name == "link.bin")
    assert link.size == len(b"outside")
    assert any("outside the model" in w for w in tree.warnings)


def test_symlink_cycle_is_not_followed(model_dir: Path) -> None:
    (model_dir / "sub" / "loop").symlink_to(model_dir)
    tree = enumerate_model(model_dir, TreeOptions(allow_symlinks=True))
    assert any("cycle" in w for w in tree.warnings)
    assert len(tree.files) == 5


def test_fifo_is_rejected_instead_of_hanging(model_dir: Path) -> None:
    os.mkfifo(model_dir / "pipe")
    with pytest.raises(ModelTreeError, match="not a regular file"):
        enumerate_model(model_dir, TreeOptions())


def test_single_file_model_is_named_by_basename(model_dir: Path) -> None:
    tree = enumerate_model(model_dir / "weights.bin", TreeOptions())
    assert tree.single_file and [f.name for f in tree.files] == ["weights.bin"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a/../b", "'..'"),
        ("../escape", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a//b", "empty, "),
        ("./a", "'.'"),
        ("bad\udcffname", "UTF-8"),
        ("a\\b", "backslash"),
        ("", "empty name"),
    ],
)
def test_check_name_rejects_unsafe_names(name: str, problem: str) -> None:
    reason = check_name(name)
    assert reason is not None and problem in reason


def test_check_name_accepts_ordinary_names() -> None:
    assert check_name("dir/file:with:colons.bin") is None
    assert check_name("ünïcode/名前.txt") is None


def test_ignore_path_normalisation(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalize_ignore_path(model_dir, "sub/tokenizer.json") == "sub/tokenizer.json"
    assert normalize_ignore_path(model_dir, str(model_dir / "sub")) == "sub"
    assert normalize_ignore_path(model_dir, "/somewhere/else") is None
    monkeypatch.chdir(model_dir.parent)
    assert normalize_ignore_path(model_dir, "model/config.json") == "config.json"
