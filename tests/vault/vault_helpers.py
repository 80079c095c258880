"""Shared constants and helpers of the vault tests (importable: tests run in prepend mode)."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from coffer.opaque import Argon2idKSF
from coffer.vault import wire
from coffer.vault.app import HttpSettings
from coffer.vault.protocol import VaultSettings
from coffer.vault.ratelimit import Limit
from coffer.vault.store_postgres import PostgresStore

FAST_KSF = Argon2idKSF(memory_kib=64, iterations=1, parallelism=1)
SETTINGS = VaultSettings(default_ksf=wire.ksf_to_json(FAST_KSF), node="test")
# stored settings for node processes (the rate limits would throttle the concurrency tests)
OPEN_SETTINGS = VaultSettings(
    default_ksf=wire.ksf_to_json(FAST_KSF), rate_per_address=0, rate_per_account=0
)
OPEN_LIMITS = HttpSettings(per_address=Limit(0, 0), per_account=Limit(0, 0))

_PG_CANDIDATES = (
    "host=127.0.0.1 port=5432 user=postgres dbname=test",
    "host=127.0.0.1 port=5432 user=root dbname=test",
)


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run PostgreSQL's tools as the ``postgres`` user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start_throwaway_pg() -> str | None:
    """initdb + pg_ctl start on a free port from the installed binaries; None if impossible."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        return None
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists("postgres")):
        return None
    base = Path(tempfile.mkdtemp(prefix="coffer-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    try:
        subprocess.run(
            _as_postgres(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            _as_postgres(
                [
                    "pg_ctl",
                    "-D",
                    str(data),
                    "-w",
                    "-l",
                    str(base / "log"),
                    "-o",
                    f"-p {port} -k {base} -h 127.0.0.1",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    atexit.register(
        lambda: subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
    )
    admin = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE test")
    return f"host=127.0.0.1 port={port} user=postgres dbname=test"


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _find_pg() -> str | None:
    """The server on 127.0.0.1:5432 if reachable, else a throwaway one, else None (skip)."""
    if os.environ.get("COFFER_TEST_PG_THROWAWAY") != "1":
        for dsn in _PG_CANDIDATES:
            if _reachable(dsn):
                return dsn
    return start_throwaway_pg()


PG_DSN = _find_pg()


def new_pg_store(dsn: str, max_attempts: int = 10) -> PostgresStore:
    """A store in a fresh schema, so parallel runs never share tables."""
    return PostgresStore(dsn, f"vt_{os.getpid()}_{uuid.uuid4().hex[:10]}", max_attempts)
