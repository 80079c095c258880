"""The built wheel, installed WITHOUT extras into a fresh venv, is a working client.

This is what ``pip install coffer-backup`` gives a user: the test builds the wheel from the
working tree, installs it with ``--no-index`` from a wheelhouse of the base dependencies only, and
runs the installed ``coffer`` script — not this checkout — through init, backup, snapshots,
restore and check with a clean environment (no ``.venv`` on PATH, no rclone, a private HOME).
Commands that need an extra must say which one, with the install line, and exit 2.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from engine.cli_support import summary_line

from .wheelhouse import coffer_wheel, dependency_wheels, fresh_venv, tree_size

pytestmark = [pytest.mark.install, pytest.mark.xdist_group("wheel-install")]

EXTRA_ONLY = ["boto3", "botocore", "psycopg", "pkcs11", "uvloop", "httptools"]


@dataclass
class Installed:
    bin: Path
    home: Path
    wheel: Path
    build_log: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        base = {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8"}
        return {**base, **self.extra_env}

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "coffer"), *args],
            env=self.env,
            cwd=self.home,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(self.bin / "coffer"), *args],
            env=self.env,
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    wheel, log = coffer_wheel(root / "dist")
    bin_dir = fresh_venv(root / "venv", wheel, dependency_wheels())
    home = root / "home"
    home.mkdir()
    yield Installed(bin_dir, home, wheel, log)


def _chat_store(root: Path) -> Path:
    (root / "media").mkdir(parents=True)
    db = sqlite3.connect(root / "msgstore.db")
    db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, chat TEXT, body TEXT)")
    db.executemany(
        "INSERT INTO messages (chat, body) VALUES (?, ?)",
        [(f"chat{i % 7}", f"message {i} " * 20) for i in range(3000)],
    )
    db.commit()
    db.close()
    (root / "media" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(300_000))
    (root / "notes.txt").write_text("hello\n" * 1000)
    return root


def test_the_wheel_builds_without_warnings_and_carries_its_metadata(installed: Installed) -> None:
    for word in ("Deprecat", "BuildBackendWarning", "SetuptoolsWarning"):
        assert word not in installed.build_log, installed.build_log
    with zipfile.ZipFile(installed.wheel) as whl:
        names = whl.namelist()
        meta = whl.read("coffer_backup-0.1.0.dist-info/METADATA").decode()
    assert "coffer_backup-0.1.0.dist-info/licenses/LICENSE" in names
    assert "\nName: coffer-backup\n" in meta  # PyPI's `coffer` is an unrelated project
    assert "License-Expression: Apache-2.0" in meta
    assert (
        "Project-URL: Source" in meta
        and "Classifier: Topic :: System :: Archiving :: Backup" in meta
    )
    for extra in ("s3", "rclone", "vault", "hsm", "all"):
        assert f"Provides-Extra: {extra}" in meta
    assert "coffer/py.typed" in names and not any(n.startswith("tests/") for n in names)


def test_installed_from_the_wheel_without_extras(installed: Installed) -> None:
    probe = installed.run("--version")
    assert probe.returncode == 0 and "0.1.0" in probe.stdout, probe.stderr
    helps = installed.run("--help")
    assert helps.returncode == 0 and "backup" in helps.stdout, helps.stderr
    python = installed.bin / "python"
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import coffer, importlib.util as u, sys; print(coffer.__file__);"
            f"print([m for m in {EXTRA_ONLY!r} if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=installed.home,
    ).stdout.splitlines()
    assert where[0].startswith(str(installed.bin.parent)), where  # not this checkout
    assert where[1] == "[]", f"extras' packages were installed by the base wheel: {where[1]}"
    assert not (installed.bin / "rclone").exists()
    size = tree_size(installed.bin.parent)
    assert size < 90 * 2**20, f"the client install takes {size / 2**20:.0f} MiB"


def test_init_backup_restore_check_browse_with_the_installed_script(
    installed: Installed, tmp_path: Path
) -> None:
    repo, key = tmp_path / "repo", tmp_path / "key.txt"
    src = _chat_store(tmp_path / "chat-store")
    r = installed.run("init", "--repo", str(repo), "--save-recovery-key", str(key))
    assert r.returncode == 0, r.stderr
    common = ["--repo", str(repo), "--recovery-key-file", str(key)]
    r = installed.run("backup", *common, "--json", str(src))
    assert r.returncode == 0, r.stderr
    snapshot = summary_line(r.stdout)["snapshot"]
    r = installed.run("snapshots", *common, "--json")
    assert [s["id"] for s in json.loads(r.stdout)] == [snapshot]
    target = tmp_path / "restored"
    r = installed.run("restore", *common, "latest", "--target", str(target))
    assert r.returncode == 0, r.stderr
    out = target / "chat-store"
    assert (out / "notes.txt").read_bytes() == (src / "notes.txt").read_bytes()
    assert (out / "media/photo.jpg").read_bytes() == (src / "media/photo.jpg").read_bytes()
    rows = sqlite3.connect(out / "msgstore.db").execute("SELECT count(*) FROM messages")
    assert rows.fetchone() == (3000,)
    r = installed.run("check", *common, "--read-data")
    assert r.returncode == 0 and "no errors were found" in r.stdout, r.stderr
    _browse_answers(installed, common, snapshot)


def _browse_answers(installed: Installed, common: list[str], snapshot: str) -> None:
    """``coffer browse`` runs on the base install's web stack (starlette, jinja2, uvicorn)."""
    proc = installed.popen("browse", *common, "--no-open")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/\S+", line)
        assert match, (line, proc.stderr.read() if proc.stderr else "")
        page = httpx.get(match.group(0), timeout=60)
        assert page.status_code == 200 and snapshot[:8] in page.text
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("args", "extra", "code"),
    [
        (["init", "--repo", "s3:http://127.0.0.1:9/bucket/x"], "s3", 2),
        (["vault", "init", "--db", "postgresql://127.0.0.1:9/x", "--key-file", "k"], "vault", 2),
        (["init", "--repo", "rclone:remote:path"], "rclone", 2),
    ],
    ids=["s3", "vault-postgres", "rclone"],
)
def test_a_missing_extra_is_named_with_its_install_line(
    installed: Installed, args: list[str], extra: str, code: int
) -> None:
    r = installed.run(*args)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    line = f"{installed.bin / 'python'} -m pip install 'coffer-backup[{extra}]'"
    assert line in r.stderr, r.stderr


def test_hsm_seal_key_names_the_hsm_extra(installed: Installed, tmp_path: Path) -> None:
    r = installed.run(
        "vault", "init", "--db", str(tmp_path / "v.db"), "--pkcs11-lib", "/nonexistent.so"
    )
    assert r.returncode == 2 and "'coffer-backup[hsm]'" in r.stderr, (r.stdout, r.stderr)


def test_the_password_route_from_the_installed_client(installed: Installed, tmp_path: Path) -> None:
    """The client side of the password flow (OPAQUE, Argon2id) needs no extra: the installed
    client registers, backs up and restores through a vault served from the test environment."""
    from password.support import PASSWORD, SETTINGS

    from coffer.vault.embedded import EmbeddedVault

    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    src = _chat_store(tmp_path / "chat-store")
    repo = ["--repo", str(tmp_path / "repo"), "--password-file", str(pw)]
    with EmbeddedVault(tmp_path / "vault", SETTINGS) as vault:
        light = {"COFFER_VAULT_MIN_KSF": "8,1"}  # the test vault's light KSF
        client = dataclasses.replace(installed, extra_env=light)
        r = client.run(
            "init", *repo, "--vault", vault.url, "--account", "lee", "--password",
            "--no-recovery-key", "--json",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["vault_fingerprint"] == vault.fingerprint
        assert client.run("backup", *repo, str(src)).returncode == 0
        target = tmp_path / "out"
        r = client.run("restore", *repo, "latest", "--target", str(target))
        assert r.returncode == 0, r.stderr
    assert (target / "chat-store/notes.txt").read_bytes() == (src / "notes.txt").read_bytes()


def test_a_system_rclone_on_path_serves_the_base_install(
    installed: Installed, tmp_path: Path
) -> None:
    """The base install has no rclone of its own, but uses one on PATH (a distribution's)."""
    from backends.servers import rclone_or_skip

    system_bin = tmp_path / "usr-bin"
    system_bin.mkdir()
    (system_bin / "rclone").symlink_to(rclone_or_skip())
    conf = tmp_path / "rclone.conf"
    conf.write_text("[disk]\ntype = local\n")
    path = f"{installed.bin}:{system_bin}:/usr/bin:/bin"
    client = dataclasses.replace(installed, extra_env={"PATH": path, "RCLONE_CONFIG": str(conf)})
    repo, key = f"rclone:disk:{tmp_path / 'remote'}", tmp_path / "key.txt"
    r = client.run("init", "--repo", repo, "--save-recovery-key", str(key))
    assert r.returncode == 0, r.stderr
    src = _chat_store(tmp_path / "chat-store")
    common = ["--repo", repo, "--recovery-key-file", str(key)]
    assert client.run("backup", *common, "-q", str(src)).returncode == 0
    r = client.run("check", *common, "--read-data")
    assert r.returncode == 0 and "no errors were found" in r.stdout, r.stderr
    assert (tmp_path / "remote" / "config").is_file()  # it went through that rclone
