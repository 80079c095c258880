"""File names are bytes: any POSIX name survives backup and restore byte for byte, and the CLI
shows the ones that are not UTF-8 (or hold control characters) safely and reversibly."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.backup import backup
from coffer.ops.restore import restore

from .cli_support import run_cli
from .conftest import SMALL_PARAMS, RepoHandle

# any byte but '/' and NUL, 1..255 bytes, not "." or ".."
NAMES = (
    st.binary(min_size=1, max_size=255)
    .map(lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_"))
    .filter(lambda b: b not in (b".", b".."))
)


def _tree(root: bytes, names: list[bytes]) -> None:
    os.mkdir(root)
    sub = os.path.join(root, names[0])
    os.mkdir(sub)  # a folder with a byte name, holding files with byte names
    for i, name in enumerate(names):
        for parent in (root, sub):
            path = os.path.join(parent, name)
            if not os.path.exists(path):
                with open(path, "wb") as fh:
                    fh.write(b"content %d of " % i + name)


def _listing(root: bytes) -> dict[bytes, bytes | None]:
    out: dict[bytes, bytes | None] = {}
    for dirpath, _dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out[rel] = None
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                out[os.path.join(rel, f)] = fh.read()
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(NAMES, min_size=1, max_size=6, unique=True))
def test_any_byte_name_is_restored_byte_exact(names: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = os.fsencode(tmp)
        repo = Repository.init(LocalBackend(os.path.join(tmp, "repo")), SMALL_PARAMS)
        key = RecoveryKey.generate()
        repo.add_slot(SlotKind.RECOVERY, key.secret)
        src = os.path.join(base, b"src")
        _tree(src, names)
        result = backup(repo, [Path(os.fsdecode(src))])
        assert result.skipped == []
        reopened = Repository.open(
            LocalBackend(os.path.join(tmp, "repo")), SlotKind.RECOVERY, key.secret
        )
        reopened.load_index()
        snap = reopened.load_snapshot(result.snapshot.id)
        out = os.path.join(base, b"out")
        res = restore(reopened, snap, Path(os.fsdecode(out)))
        assert res.errors == []
        assert _listing(os.path.join(out, b"src")) == _listing(src)


def test_undecodable_and_control_names_are_escaped_in_ls(
    repo_handle: RepoHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COFFER_REPO", str(repo_handle.path))
    monkeypatch.setenv("COFFER_RECOVERY_KEY", repo_handle.key.display())
    src = os.fsencode(tmp_path / "src")
    os.mkdir(src)
    latin1 = b"caf\xe9.txt"  # Latin-1, not UTF-8
    escape = b"\x1b[2Jcleared\nline.txt"  # would clear the terminal and forge a line
    for name in (latin1, escape):
        with open(os.path.join(src, name), "wb") as fh:
            fh.write(name)
    r = run_cli(capsys, "backup", os.fsdecode(src))
    assert r.code == 0, r.err
    r = run_cli(capsys, "ls", "latest")
    assert r.code == 0, r.err
    assert "src/caf\\xe9.txt" in r.out
    assert "src/\\x1b[2Jcleared\\x0aline.txt" in r.out and "\x1b" not in r.out
    assert len(r.out.splitlines()) == 3  # src, and one line per file
