"""The device record file: private, atomic, merged under a lock, and set aside when damaged."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from coffer.freshness.record import RecordStore, SeenObject

REPO_ID = bytes(range(32))


def test_the_record_is_0600_in_a_0700_folder_and_only_moves_forward(tmp_path: Path) -> None:
    store = RecordStore(REPO_ID, tmp_path / "freshness")
    with store.update() as record:
        record.own_seq = 3
        record.see(record.writer, SeenObject(3, "a" * 64, "snapshot", "t", "phone"))
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.folder).st_mode) == 0o700
    with store.update() as record:
        assert not record.see(record.writer, SeenObject(2, "b" * 64))  # older: ignored
    loaded = store.load()
    assert loaded is not None and loaded.seen[loaded.writer].id == "a" * 64
    assert loaded.seen[loaded.writer].since  # when this device first saw it
    assert loaded.known() == {loaded.writer: 3}


def test_a_damaged_record_is_set_aside_and_a_new_one_started(tmp_path: Path) -> None:
    store = RecordStore(REPO_ID, tmp_path / "freshness")
    with store.update():
        pass
    store.path.write_text("{not json")
    assert store.load() is None
    assert store.damaged is not None and "moved to" in store.damaged
    assert store.path.with_suffix(".json.damaged").exists()
    with store.update() as record:
        assert record.own_seq == 0 and len(record.writer) == 32
