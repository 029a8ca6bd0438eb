"""``sandbox.persistence``: snapshots of live objects, new dataclass fields, atomic writes."""

from __future__ import annotations

import asyncio
import itertools
import pickle
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandbox.persistence import Part, PersistedState, StateFileError, read_snapshot

MODULE = "tests_sandbox_persistence_models"


class Holder:
    def __init__(self) -> None:
        self.items: dict[int, Any] = {}
        self.seq = itertools.count(1)
        self.wake: set[asyncio.Event] = set()
        self.limit = 10


def _models(with_note: bool) -> types.ModuleType:
    """A module holding a dataclass ``Item``, without or with a field added later."""
    module = types.ModuleType(MODULE)
    if with_note:

        @dataclass
        class Item:
            name: str
            tags: list[str] = field(default_factory=list)
            note: str = "none yet"
            seen: list[str] = field(default_factory=list)

    else:

        @dataclass  # type: ignore[no-redef]
        class Item:
            name: str
            tags: list[str] = field(default_factory=list)

    Item.__module__, Item.__qualname__ = MODULE, "Item"
    module.Item = Item  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    return module


def _state(path: Path, holder: Holder) -> PersistedState:
    return PersistedState(path, {"h": Part(lambda: holder, skip=frozenset({"wake", "limit"}))})


def test_round_trip_keeps_counters_and_leaves_skipped_attributes(tmp_path: Path) -> None:
    models = _models(with_note=False)
    first = Holder()
    first.items[next(first.seq)] = models.Item("a", ["x"])
    first.items[next(first.seq)] = models.Item("b")
    first.limit = 99
    assert _state(tmp_path / "s.pickle", first).save() is True
    assert _state(tmp_path / "s.pickle", first).save() is True  # a new writer writes once
    second = Holder()
    event = asyncio.Event()
    second.wake.add(event)
    assert _state(tmp_path / "s.pickle", second).load() is True
    assert [i.name for i in second.items.values()] == ["a", "b"]
    assert next(second.seq) == 3  # the id sequence goes on, nothing is reused
    assert second.wake == {event} and second.limit == 10  # skipped: the live values stay


def test_save_writes_only_changes(tmp_path: Path) -> None:
    holder = Holder()
    state = _state(tmp_path / "s.pickle", holder)
    assert state.save() is True
    assert state.save() is False
    holder.items[1] = "one"
    assert state.save() is True
    saved = read_snapshot(tmp_path / "s.pickle")
    assert saved is not None and saved["h"]["items"] == {1: "one"}
    assert set(saved["h"]) == {"items", "seq"}


def test_dataclass_saved_before_a_field_was_added_gets_its_default(tmp_path: Path) -> None:
    holder = Holder()
    holder.items[1] = _models(with_note=False).Item("old", ["t"])
    _state(tmp_path / "s.pickle", holder).save()
    newer = _models(with_note=True)
    loaded = Holder()
    _state(tmp_path / "s.pickle", loaded).load()
    item = loaded.items[1]
    assert isinstance(item, newer.Item)
    assert (item.name, item.tags, item.note, item.seen) == ("old", ["t"], "none yet", [])
    item.seen.append("x")
    assert newer.Item("other").seen == []  # the default factory ran per instance


def test_unpicklable_attribute_is_left_out_and_the_rest_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = Holder()
    holder.items[1] = "kept"
    holder.callback = lambda: None  # type: ignore[attr-defined]
    _state(tmp_path / "s.pickle", holder).save()
    assert "attribute=callback" in caplog.text
    loaded = Holder()
    _state(tmp_path / "s.pickle", loaded).load()
    assert loaded.items == {1: "kept"} and not hasattr(loaded, "callback")


def test_unreadable_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "s.pickle"
    path.write_bytes(b"not a pickle")
    with pytest.raises(StateFileError, match="FRESH=1"):
        _state(path, Holder()).load()
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(StateFileError, match="snapshot"):
        _state(path, Holder()).load()


WRITER = """
import sys
from pathlib import Path
from sandbox.persistence import write_atomically
path = Path(sys.argv[1])
for version in range(10**9):
    write_atomically(path, bytes([version % 251]) * 4_000_000)
    print(version, flush=True)
"""


def test_a_writer_killed_mid_write_leaves_a_whole_file(tmp_path: Path) -> None:
    """SIGKILL a process rewriting a 4 MB file in a loop: the file is always one whole version."""
    path = tmp_path / "state.bin"
    for _ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        for _ in range(3):  # a few whole writes, then the kill lands in the middle of one
            writer.stdout.readline()
        writer.kill()
        writer.wait()
        data = path.read_bytes()
        assert len(data) == 4_000_000 and data == bytes([data[0]]) * len(data)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "state.bin"]
    assert all(name.startswith(".state.bin.") for name in leftovers)  # only temp files


def test_load_removes_temp_files_of_a_killed_writer(tmp_path: Path) -> None:
    holder = Holder()
    _state(tmp_path / "s.pickle", holder).save()
    (tmp_path / ".s.pickle.abc123.tmp").write_bytes(b"half a write")
    _state(tmp_path / "s.pickle", Holder()).load()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.pickle"]


def test_attributes_skipped_since_the_save_are_not_loaded(tmp_path: Path) -> None:
    holder = Holder()
    holder.limit = 99
    PersistedState(tmp_path / "s.pickle", {"h": Part(lambda: holder)}).save()
    loaded = Holder()
    _state(tmp_path / "s.pickle", loaded).load()  # skips "limit" now
    assert loaded.limit == 10


def test_attributes_newer_than_the_save_keep_fresh_values_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = Holder()
    holder.items[1] = "saved"
    _state(tmp_path / "s.pickle", holder).save()
    loaded = Holder()
    loaded.users = {7: "fresh"}  # type: ignore[attr-defined]
    _state(tmp_path / "s.pickle", loaded).load()
    assert loaded.items == {1: "saved"} and loaded.users == {7: "fresh"}  # type: ignore[attr-defined]
    assert "new_attributes=users" in caplog.text
