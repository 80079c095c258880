"""REST protocol core (sans I/O) and RestBackend against real ``rclone serve restic`` servers."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from coffer.backends.base import (
    AppendOnlyError,
    BackendConfigError,
    BackendError,
    ObjectNotFound,
    ObjectType,
    ShortRead,
    TransientError,
)
from coffer.backends.registry import open_backend
from coffer.backends.rest import RestBackend, parse_url
from coffer.backends.restproto import V2, Response, RestProtocol

from .servers import Server, free_port, rclone_server


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


P = RestProtocol("/repo")


# -- protocol core ---------------------------------------------------------------------------


def test_request_paths() -> None:
    assert P.base == "/repo/"
    assert P.save(ObjectType.CONFIG, "config", b"c").path == "/repo/config"
    req = P.save(ObjectType.DATA, oid("d"), b"abc")
    assert (req.method, req.path, req.body) == ("POST", f"/repo/data/{oid('d')}", b"abc")
    assert P.load(ObjectType.DATA, oid("d"), 5, 10).headers["Range"] == "bytes=5-14"
    assert P.list(ObjectType.INDEX).headers["Accept"] == V2
    assert P.create().path == "/repo/?create=true"
    with pytest.raises(ValueError):
        P.remove(ObjectType.DATA, "../../etc/passwd")


@pytest.mark.parametrize(
    "status,error",
    [
        (404, ObjectNotFound),
        (416, ShortRead),
        (500, TransientError),
        (503, TransientError),
        (429, TransientError),
        (408, TransientError),
        (401, BackendError),
        (400, BackendError),
    ],
)
def test_status_mapping(status: int, error: type[BackendError]) -> None:
    exc = P.error(Response(status, {}, b"server says no"), "data/x")
    assert type(exc) is error
    if error is BackendError:
        assert "server says no" in str(exc)


def test_403_means_append_only_only_when_the_server_is() -> None:
    resp = Response(403, {}, b"Forbidden")
    assert isinstance(P.error(resp, "data/x", append_only=True), AppendOnlyError)
    plain = P.error(resp, "data/x")
    assert type(plain) is BackendError and "refused access" in str(plain)


def test_server_ignoring_range_is_sliced() -> None:
    assert P.loaded(Response(200, {}, b"0123456789"), "x", 2, 3) == b"234"
    assert P.loaded(Response(206, {}, b"234"), "x", 2, 3) == b"234"
    with pytest.raises(ShortRead):
        P.loaded(Response(206, {}, b"23"), "x", 2, 3)


def test_listing_v2_and_v1() -> None:
    a, b = oid("a"), oid("b")
    v2 = json.dumps([{"name": a, "size": 3}, {"name": "junk", "size": 1}]).encode()
    assert P.listed(Response(200, {}, v2), ObjectType.KEYS) == ([(a, 3)], [])
    v1 = json.dumps([a, b, "../x"]).encode()
    assert P.listed(Response(200, {}, v1), ObjectType.KEYS) == ([], [a, b])
    assert P.listed(Response(404, {}, b""), ObjectType.KEYS) == ([], [])
    with pytest.raises(BackendError, match="invalid listing"):
        P.listed(Response(200, {}, b"<html>"), ObjectType.KEYS)


def test_rejected_upload_is_a_plain_backend_error() -> None:
    body = b"sealed index"
    with pytest.raises(BackendError, match="400"):
        P.saved(Response(400, {}, b"Bad Request"), ObjectType.INDEX, oid("x"), body)
    P.saved(Response(200, {}, b""), ObjectType.INDEX, oid("x"), body)


# -- addresses -------------------------------------------------------------------------------


def test_parse_url_keeps_credentials_out_of_location() -> None:
    origin, path, auth = parse_url("https://alice:s%40cret@backup.example:8000/alice/")
    assert (origin, path, auth) == ("https://backup.example:8000", "/alice/", ("alice", "s@cret"))
    b = RestBackend("http://alice:secret-key@127.0.0.1:1/alice/")
    assert "secret" not in b.location and "secret" not in repr(b)
    assert b.location == "rest:http://127.0.0.1:1/alice/"


def test_parse_url_env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COFFER_REST_USERNAME", "bob")
    monkeypatch.setenv("COFFER_REST_PASSWORD", "pw")
    assert parse_url("http://h/")[2] == ("bob", "pw")


@pytest.mark.parametrize("url", ["ftp://h/", "h:8000/x", "http:///x"])
def test_parse_url_errors(url: str) -> None:
    with pytest.raises(BackendConfigError):
        parse_url(url)


# -- real servers ----------------------------------------------------------------------------


def test_append_only_server_refuses_deletes_with_reason(rest_append_only_server: Server) -> None:
    with open_backend(f"rest:{rest_append_only_server.url}/ao-{uuid.uuid4().hex}/") as b:
        assert b.capabilities.append_only
        snap = oid("snap")
        b.save(ObjectType.SNAPSHOTS, snap, b"s")
        with pytest.raises(AppendOnlyError, match="the server is append-only") as info:
            b.remove(ObjectType.SNAPSHOTS, snap)
        assert info.value.exit_code == 14
        assert b.load(ObjectType.SNAPSHOTS, snap) == b"s"


def test_normal_server_is_not_append_only(rest_server: Server) -> None:
    with open_backend(f"rest:{rest_server.url}/n-{uuid.uuid4().hex}/") as b:
        assert not b.capabilities.append_only
        assert b.capabilities.remote


def test_repository_folder_layout(rest_server: Server) -> None:
    repo = f"lay-{uuid.uuid4().hex}"
    d = oid("layout")
    with RestBackend(f"{rest_server.url}/{repo}/") as b:
        b.save(ObjectType.DATA, d, b"packed")
        b.save(ObjectType.CONFIG, "config", b"cfg")
    root = rest_server.root / repo
    assert (root / "data" / d[:2] / d).read_bytes() == b"packed"
    assert (root / "config").read_bytes() == b"cfg"


def test_unreachable_server_is_transient() -> None:
    with RestBackend(f"http://127.0.0.1:{free_port()}/") as b:
        with pytest.raises(TransientError):
            b.stat(ObjectType.CONFIG, "config")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("rest-auth") / "root"
    with rclone_server(["restic", "--user", "alice", "--pass", "right"], root) as server:
        yield server


def test_credentials(auth_server: Server) -> None:
    host = auth_server.url.removeprefix("http://")
    with RestBackend(f"http://alice:right@{host}/r/") as good:
        good.save(ObjectType.KEYS, oid("k"), b"k", overwrite=True)
    with RestBackend(f"http://alice:wrong@{host}/r/") as bad:
        with pytest.raises(BackendError, match="refused access") as info:
            bad.load(ObjectType.KEYS, oid("k"))
        assert not isinstance(info.value, TransientError)
