"""The three backup programs behind one small interface: init, backup, restore.

Each tool backs up the same live folder to its own local repository. Restores go to a fresh
folder; :func:`find_store` locates the restored chat store inside it (restic keeps absolute
paths, borg relative ones, Coffer the source's base name).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import ClassVar

from measure import Step, run

PASSWORD = "bench-password-not-secret"


class Tool:
    name = ""

    def __init__(self, work: Path) -> None:
        self.repo = work / f"repo-{self.name}"
        self.work = work
        shutil.rmtree(self.repo, ignore_errors=True)

    def available(self) -> str | None:
        """None when usable, else why not."""
        return None

    def init(self) -> None:
        raise NotImplementedError

    def backup(self, source: Path, label: str, limit_upload: int | None = None) -> Step:
        raise NotImplementedError

    def restore(self, target: Path, label: str) -> Step:
        raise NotImplementedError


class Coffer(Tool):
    """``coffer`` with extra backup arguments; ``name`` tells variants apart (own repository)."""

    def __init__(self, work: Path, extra: list[str], name: str = "coffer") -> None:
        self.name = name
        super().__init__(work)
        self.exe = str(Path(sys.executable).with_name("coffer"))
        self.key = work / f"{name}.key"
        self.extra = extra

    def available(self) -> str | None:
        return None if Path(self.exe).exists() else f"{self.exe} is missing"

    def _common(self) -> list[str]:
        return ["--repo", str(self.repo), "--recovery-key-file", str(self.key), "-q"]

    def init(self) -> None:
        self.key.unlink(missing_ok=True)
        run([self.exe, "init", "--repo", str(self.repo), "--save-recovery-key", str(self.key),
             "-q", "--json"], cold=False)  # fmt: skip

    def backup(self, source: Path, label: str, limit_upload: int | None = None) -> Step:
        limit = ["--limit-upload", str(limit_upload)] if limit_upload else []
        return run([self.exe, "backup", *self._common(), *limit, "--json", *self.extra,
                    str(source)])  # fmt: skip

    def restore(self, target: Path, label: str) -> Step:
        return run([self.exe, "restore", "latest", *self._common(), "--target", str(target)])


class Restic(Tool):
    name = "restic"
    env: ClassVar[dict[str, str]] = {"RESTIC_PASSWORD": PASSWORD}

    def available(self) -> str | None:
        return None if shutil.which("restic") else "restic not installed (apt-get install restic)"

    def init(self) -> None:
        run(["restic", "init", "-r", str(self.repo)], env=self.env, cold=False)

    def backup(self, source: Path, label: str, limit_upload: int | None = None) -> Step:
        limit = ["--limit-upload", str(limit_upload)] if limit_upload else []
        return run(["restic", "backup", "-r", str(self.repo), "--quiet", "--tag", label, *limit,
                    str(source)], env=self.env)  # fmt: skip

    def restore(self, target: Path, label: str) -> Step:
        return run(["restic", "restore", "latest", "-r", str(self.repo), "--target", str(target)],
                   env=self.env)  # fmt: skip


class Borg(Tool):
    name = "borg"

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.exe = str(Path(sys.executable).with_name("borg"))
        self.env = {"BORG_PASSPHRASE": PASSWORD, "BORG_BASE_DIR": str(work / "borg-home")}
        shutil.rmtree(work / "borg-home", ignore_errors=True)

    def available(self) -> str | None:
        if Path(self.exe).exists():
            return None
        return "borg missing: .venv/bin/pip install -e '.[bench]' (see bench/README.md)"

    def init(self) -> None:
        run([self.exe, "init", "--encryption=repokey-blake2", str(self.repo)], env=self.env,
            cold=False)  # fmt: skip

    def backup(self, source: Path, label: str, limit_upload: int | None = None) -> Step:
        return run([self.exe, "create", f"{self.repo}::{label}", source.name], env=self.env,
                   cwd=source.parent)  # fmt: skip

    def restore(self, target: Path, label: str) -> Step:
        target.mkdir(parents=True, exist_ok=True)
        return run([self.exe, "extract", f"{self.repo}::{label}"], env=self.env, cwd=target)


def find_store(target: Path) -> Path:
    """The folder holding the restored ``msgstore.db``."""
    found = sorted(target.rglob("msgstore.db"), key=lambda p: len(p.parts))
    if not found:
        raise RuntimeError(f"no msgstore.db restored under {target}")
    return found[0].parent
