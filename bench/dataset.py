"""Bench dataset: a generated chat store cached under ``bench/out/cache`` and a live copy.

The cache holds day 0 of a spec (made once; a ``spec.json`` marker is written last, so an
interrupted generation is redone). Each run copies it (data and mtimes) to a fresh live folder
that the tools back up, and applies the next day to that live copy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import coffer.sample
from coffer.sample import ChatStoreSpec, apply_next_day, generate_chat_store

SIZES = {
    "bench": ChatStoreSpec.bench(),
    "demo": ChatStoreSpec(),
    "small": ChatStoreSpec(messages=50_000, contacts=300, chats=120, media_bytes=50_000_000),
}


def spec_for(size: str, seed: int, scale: int = 1) -> ChatStoreSpec:
    """The spec of ``size`` with ``scale`` times the messages and the same day's work: the
    next day adds as many messages as at scale 1 (``next_day_share`` divided by ``scale``)."""
    base = SIZES[size]
    return dataclasses.replace(base, seed=seed, messages=base.messages * scale,
                               next_day_share=base.next_day_share / scale)  # fmt: skip


def generator_version() -> str:
    """Short hash of the generator's source, so a changed generator never reuses a stale cache."""
    digest = hashlib.sha256()
    for path in sorted(Path(coffer.sample.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def cached_store(out: Path, spec: ChatStoreSpec) -> Path:
    """Path of the cached day-0 store for ``spec``, generating it if needed."""
    key = f"m{spec.messages}-b{spec.media_bytes}-s{spec.seed}-g{generator_version()}"
    folder = out / "cache" / key
    marker = folder / "spec.json"
    store = folder / "store"
    wanted = json.dumps(dataclasses.asdict(spec), sort_keys=True)
    if marker.exists() and marker.read_text() == wanted:
        return store
    shutil.rmtree(folder, ignore_errors=True)
    stats = generate_chat_store(store, spec)
    print(f"generated {store}: {stats.messages} messages, db {stats.db_bytes / 1e6:.1f} MB, "
          f"media {stats.media_files} files {stats.media_bytes / 1e6:.1f} MB "
          f"in {stats.seconds:.1f} s")  # fmt: skip
    marker.write_text(wanted)
    return store


def live_copy(store: Path, live: Path) -> Path:
    """A fresh copy of ``store`` at ``live`` (contents and mtimes)."""
    shutil.rmtree(live, ignore_errors=True)
    shutil.copytree(store, live, copy_function=shutil.copy2)
    return live


def next_day(live: Path, spec: ChatStoreSpec, day: int = 1) -> str:
    stats = apply_next_day(live, spec, day)
    return (f"day {day}: +{stats.messages} messages, {stats.status_updates} read updates, "
            f"+{stats.media_files} media ({stats.media_bytes / 1e6:.1f} MB)")  # fmt: skip


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
