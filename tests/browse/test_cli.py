"""``coffer browse`` as a real process on a real socket: URL printed, token, cleanup on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Phone

# one worker builds the fixture repository once and runs every browse test
pytestmark = pytest.mark.xdist_group("browse")


def start_browse(phone: Phone, tmp: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, COFFER_RECOVERY_KEY=phone.key.display(), TMPDIR=str(tmp))
    env.pop("DISPLAY", None)
    (tmp / "cwd").mkdir(exist_ok=True)  # the user's folder it is started from: stays empty
    proc = subprocess.Popen(
        [sys.executable, "-m", "coffer", "browse", "--repo", str(phone.repo_path), "--no-open",
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp / "cwd",
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/\S+", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no URL in {line!r}: {proc.stderr.read() if proc.stderr else ''}")
    return proc, match.group(0)


@pytest.fixture
def browse(phone: Phone, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    proc, url = start_browse(phone, tmp_path)
    yield proc, url, tmp_path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_browse_serves_on_loopback_with_a_token_and_cleans_up_on_sigterm(
    browse: tuple[subprocess.Popen[str], str, Path], phone: Phone
) -> None:
    proc, url, tmp = browse
    assert url.startswith("http://127.0.0.1:")
    token = url.rstrip("/").rsplit("/", 1)[-1]
    assert len(token) >= 40
    assert phone.key.display() not in url
    home = httpx.get(url, timeout=30)
    assert home.status_code == 200 and phone.snapshots[0][:8] in home.text
    base = url[: -len(token) - 1]
    assert httpx.get(base, timeout=10).status_code == 404
    rebinding = httpx.get(url, headers={"host": "attacker.example"}, timeout=10)
    assert rebinding.status_code == 421
    chats = httpx.get(url + f"s/{phone.snapshots[1]}/", timeout=60, follow_redirects=True)
    deadline = time.monotonic() + 120
    while chats.status_code == 503 and time.monotonic() < deadline:
        assert "Preparing snapshot" in chats.text and 'data-refresh="1"' in chats.text
        time.sleep(0.3)
        chats = httpx.get(url + f"s/{phone.snapshots[1]}/", timeout=60, follow_redirects=True)
    assert chats.status_code == 200 and "WhatsApp (Android msgstore.db)" in chats.text
    secret = phone.key.display()
    for page in (home, chats):  # no secret reaches a page (the key, in any spelling)
        text = page.text.upper()
        assert secret not in text and secret.replace(" ", "") not in text
        assert phone.key.secret.hex().upper() not in text
    workspaces = list(tmp.glob("coffer-browse-*"))
    assert len(workspaces) == 1 and (workspaces[0].stat().st_mode & 0o777) == 0o700
    assert any(workspaces[0].iterdir())  # the rebuilt databases are there
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert not list(tmp.glob("coffer-browse-*"))
    assert proc.returncode in (0, 130)
    assert not any((tmp / "cwd").iterdir())  # nothing was written where it was started


def test_browse_ctrl_c_removes_the_workspace(phone: Phone, tmp_path: Path) -> None:
    proc, url = start_browse(phone, tmp_path, "latest")
    try:
        assert "/s/" in url
        assert httpx.get(url, timeout=60, follow_redirects=True).status_code in (200, 503)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 5
    while list(tmp_path.glob("coffer-browse-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(tmp_path.glob("coffer-browse-*"))


def test_browse_unknown_snapshot_is_a_usage_error(phone: Phone, tmp_path: Path) -> None:
    env = dict(os.environ, COFFER_RECOVERY_KEY=phone.key.display(), TMPDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "coffer", "browse", "--repo", str(phone.repo_path), "--no-open",
         "deadbeef"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().startswith("coffer: error: no snapshot")
    assert not list(tmp_path.glob("coffer-browse-*"))


def test_browse_opens_a_password_protected_repository(tmp_path: Path) -> None:
    """The password route (a real vault on loopback) opens browse like every other command."""
    from password.support import PASSWORD, SETTINGS

    from coffer.vault.embedded import EmbeddedVault

    from .stores import generic_db

    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    env |= {"COFFER_CONFIG": str(tmp_path / "cfg" / "config.toml"), "COFFER_VAULT_MIN_KSF": "8,1",
            "TMPDIR": str(tmp_path)}  # fmt: skip
    env.pop("DISPLAY", None)
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    src = tmp_path / "device"
    src.mkdir()
    generic_db(src)
    repo = ["--repo", str(tmp_path / "repo"), "--password-file", str(pw)]

    def coffer(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "coffer", *args]
        return subprocess.run(
            argv, env=env, text=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120
        )

    with EmbeddedVault(tmp_path / "vault", SETTINGS) as vault:
        r = coffer("init", *repo, "--vault", vault.url, "--account", "bo", "--password",
                   "--no-recovery-key")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert coffer("backup", *repo, "-q", str(src)).returncode == 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "coffer", "browse", *repo, "--no-open", "latest"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env=env,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+/\S+", line)
            assert match, (line, proc.stderr.read() if proc.stderr else "")
            page = httpx.get(match.group(0), timeout=60, follow_redirects=True)
            deadline = time.monotonic() + 120
            while page.status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.3)
                page = httpx.get(match.group(0), timeout=60, follow_redirects=True)
            assert page.status_code == 200 and "device/other-app/notes.sqlite" in page.text
            assert PASSWORD not in page.text and PASSWORD not in match.group(0)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
