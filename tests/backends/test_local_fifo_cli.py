"""A FIFO in any folder of a local repository: every command ends, with a clear error.

One FIFO at a time in ``config``, ``keys/``, ``snapshots/``, ``index/``, ``data/xx/`` (in place
of an indexed pack, and as an unknown pack a backup would adopt) and ``locks/``. Each command
runs as a real process under a timeout guard: opening a FIFO for reading blocks until a writer
appears, so before the local backend refused non-regular files these commands hung forever.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.backup import backup

NAME = "cd" * 32
GUARD_SECONDS = 120


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RecoveryKey, Path]:
    root = tmp_path_factory.mktemp("fifo")
    repo = Repository.init(LocalBackend(root / "repo"))
    key = RecoveryKey.generate()
    repo.add_slot(SlotKind.RECOVERY, key.secret)
    src = root / "src"
    src.mkdir()
    (src / "notes.txt").write_text("hello\n" * 1000)
    backup(repo, [src])
    return root / "repo", key, src


def coffer(repo: Path, key: RecoveryKey, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COFFER_REPO": str(repo), "COFFER_RECOVERY_KEY": key.display()}
    try:
        return subprocess.run(
            [sys.executable, "-m", "coffer", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=GUARD_SECONDS,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`coffer {' '.join(args)}` hung on a FIFO (killed after {GUARD_SECONDS} s)")


def _plant(repo: Path, where: str) -> str:
    """Put a FIFO in ``where``; return the object name the messages must carry."""
    if where == "config":
        (repo / "config").unlink()
        os.mkfifo(repo / "config")
        return "config"
    if where == "data-indexed":
        pack = sorted((repo / "data").glob("*/*"))[0]
        pack.unlink()
        os.mkfifo(pack)
        return f"data/{pack.name}"
    if where == "data-unknown":
        (repo / "data" / NAME[:2]).mkdir(exist_ok=True)
        os.mkfifo(repo / "data" / NAME[:2] / NAME)
        return f"data/{NAME}"
    (repo / where).mkdir(exist_ok=True)
    os.mkfifo(repo / where / NAME)
    return f"{where}/{NAME}"


# (folder, command, expected exit code(s), must the FIFO be named on stderr)
CASES = [
    ("config", ("snapshots",), 14, True),
    ("config", ("check",), 14, True),
    ("keys", ("snapshots",), 0, False),  # another slot opens; the FIFO is not a key slot
    ("keys", ("check",), 12, True),
    ("snapshots", ("snapshots",), 0, True),
    ("snapshots", ("check",), 12, True),
    ("index", ("ls", "latest"), 0, False),  # a damaged index object: packs' headers instead
    ("index", ("check",), 12, True),
    ("data-indexed", ("check",), 12, True),
    # 12 when the pack holds a file's data (that entry is damaged), 14 when it holds the tree
    ("data-indexed", ("restore", "latest", "--target", "{tmp}/out"), (12, 14), True),
    ("data-unknown", ("check",), 0, False),  # a warning: not referenced by any index
    ("data-unknown", ("backup", "{src}"), 0, False),  # adoption skips what it cannot read
    ("locks", ("check",), 0, True),  # a warning: not a lock, it cannot block anyone
    ("locks", ("backup", "{src}"), 0, False),
]


@pytest.mark.parametrize(("where", "args", "code", "named"), CASES)
def test_a_fifo_in_a_repository_folder_never_hangs_a_command(
    base_repo: tuple[Path, RecoveryKey, Path],
    tmp_path: Path,
    where: str,
    args: tuple[str, ...],
    code: int | tuple[int, ...],
    named: bool,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(base_repo[0], repo)
    name = _plant(repo, where)
    argv = [a.format(tmp=tmp_path, src=base_repo[2]) for a in args]
    proc = coffer(repo, base_repo[1], *argv)
    print(f"{where} / coffer {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
    assert proc.returncode in (code if isinstance(code, tuple) else (code,)), proc.stderr
    assert "Traceback" not in proc.stderr
    if named:
        assert name in proc.stderr and "not a regular file" in proc.stderr, proc.stderr
