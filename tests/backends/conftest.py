"""Fixtures for the backend tests: one ``backend`` fixture parametrised over every backend.

Each entry of ``FACTORIES`` builds a fresh, empty backend for one test; remote backends reuse
a module- or session-scoped server and get a fresh prefix per test.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coffer.backends.base import Backend
from coffer.backends.faults import FaultInjector
from coffer.backends.limits import LimitedBackend
from coffer.backends.local import LocalBackend
from coffer.backends.memory import MemoryBackend
from coffer.backends.rclone import RcloneBackend
from coffer.backends.rest import RestBackend
from coffer.backends.retry import RetryBackend
from coffer.backends.s3 import S3Backend

from .servers import S3_KEY, S3_SECRET, Server, rclone_or_skip, rclone_server

Factory = Callable[[pytest.FixtureRequest], Backend]


def _memory(request: pytest.FixtureRequest) -> Backend:
    return MemoryBackend()


def _memory_named(request: pytest.FixtureRequest) -> Backend:
    name = f"test-{uuid.uuid4().hex}"
    request.addfinalizer(lambda: MemoryBackend.drop(name))
    return MemoryBackend.named(name)


def _local(request: pytest.FixtureRequest) -> Backend:
    tmp = request.getfixturevalue("tmp_path")
    return LocalBackend(tmp / "repo")


def _no_sleep(seconds: float) -> None:
    pass


def _retry_memory(request: pytest.FixtureRequest) -> Backend:
    return RetryBackend(MemoryBackend(), sleep=_no_sleep)


def _limits_local(request: pytest.FixtureRequest) -> Backend:
    # Limits high enough not to slow the suite; the limiter code still runs on every call.
    return LimitedBackend(_local(request), connections=2, upload_kib=1 << 20, download_kib=1 << 20)


def _faults_memory(request: pytest.FixtureRequest) -> Backend:
    return FaultInjector(MemoryBackend())


def _retry_flaky_local(request: pytest.FixtureRequest) -> Backend:
    """20% of calls fail transiently (and some uploads lose their reply); retries hide it."""
    flaky = FaultInjector(
        _local(request), fail_rate=0.2, seed=1234, lost_ack_calls=range(3, 10_000, 7)
    )
    return RetryBackend(flaky, attempts=12, sleep=_no_sleep)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("s3") / "root"
    with rclone_server(["s3", "--auth-key", f"{S3_KEY},{S3_SECRET}"], root) as server:
        (root / "coffer").mkdir()  # the bucket
        yield server


def _s3(request: pytest.FixtureRequest) -> Backend:
    server: Server = request.getfixturevalue("s3_server")
    return S3Backend(
        "coffer",
        f"t/{uuid.uuid4().hex}",
        endpoint_url=server.url,
        access_key=S3_KEY,
        secret_key=S3_SECRET,
    )


@pytest.fixture(scope="session")
def rest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with rclone_server(["restic"], tmp_path_factory.mktemp("rest") / "root") as server:
        yield server


@pytest.fixture(scope="session")
def rest_append_only_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("rest-ao") / "root"
    with rclone_server(["restic", "--append-only"], root) as server:
        yield server


def _rest(request: pytest.FixtureRequest) -> Backend:
    server: Server = request.getfixturevalue("rest_server")
    return RestBackend(f"{server.url}/{uuid.uuid4().hex}/")


def _rest_append_only(request: pytest.FixtureRequest) -> Backend:
    server: Server = request.getfixturevalue("rest_append_only_server")
    return RestBackend(f"{server.url}/{uuid.uuid4().hex}/")


@pytest.fixture(scope="session")
def rclone_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An rclone.conf with a local remote and a crypt remote layered on it."""
    binary = rclone_or_skip()
    base = tmp_path_factory.mktemp("rclone")
    obscured = subprocess.run(
        [binary, "obscure", "coffer test crypt password"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    conf = base / "rclone.conf"
    conf.write_text(
        "[localdisk]\ntype = local\n\n"
        f"[secret]\ntype = crypt\nremote = localdisk:{base / 'crypt-under'}\n"
        f"password = {obscured}\n"
    )
    (base / "plain").mkdir()
    return conf


def _rclone_local(request: pytest.FixtureRequest) -> Backend:
    conf: Path = request.getfixturevalue("rclone_config")
    remote = f"localdisk:{conf.parent / 'plain' / uuid.uuid4().hex}"
    return RcloneBackend(remote, args=["--config", str(conf)])


def _rclone_crypt(request: pytest.FixtureRequest) -> Backend:
    conf: Path = request.getfixturevalue("rclone_config")
    return RcloneBackend(f"secret:{uuid.uuid4().hex}", args=["--config", str(conf)])


FACTORIES: dict[str, Factory] = {
    "rclone(local)": _rclone_local,
    "rclone(crypt)": _rclone_crypt,
    "rest": _rest,
    "rest-append-only": _rest_append_only,
    "s3": _s3,
    "memory": _memory,
    "memory-named": _memory_named,
    "local": _local,
    "retry(memory)": _retry_memory,
    "limits(local)": _limits_local,
    "faults(memory)": _faults_memory,
    "retry(flaky(local))": _retry_flaky_local,
}


@pytest.fixture(params=sorted(FACTORIES))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    b = FACTORIES[request.param](request)
    try:
        yield b
    finally:
        b.close()
