"""Trash: a discarded directory is gone at once (its name free again), its files are
deleted in the background, and leftovers of an earlier process at the next start."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.trash import Trash


def tree(root: Path) -> Path:
    (root / "rootfs" / "etc").mkdir(parents=True)
    (root / "rootfs" / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "state.json").write_text("{}")
    return root


def test_discard_frees_the_name_and_deletes_the_files(tmp_path: Path) -> None:
    trash = Trash(tmp_path / "state")
    c = tree(tmp_path / "state" / "containers" / "c1")
    trash.discard(c)
    assert not c.exists()
    tree(c)                                   # a new container of that id, at once
    assert trash.wait(10)
    assert list(trash.dir.iterdir()) == []
    assert (c / "state.json").exists()        # the new one is untouched


def test_leftovers_of_an_earlier_process_are_deleted_at_start(tmp_path: Path) -> None:
    left = tree(tmp_path / "state" / "trash" / "c9.0badf00d")
    trash = Trash(tmp_path / "state")
    assert trash.wait(10)
    assert not left.exists()
