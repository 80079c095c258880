"""Real node processes (uvicorn on 127.0.0.1): slow clients, TLS with a CA made here, plain HTTP
refused off loopback, metrics on their own port, settings and rate limits shared by nodes."""

from __future__ import annotations

import datetime
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault, save_settings
from coffer.vault.store import AuditContext
from coffer.vault.store_sqlite import SqliteStore

from .vault_helpers import OPEN_SETTINGS
from .vault_nodes import Node, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def vault_db(tmp_path: Path) -> tuple[SqliteStore, Path, Path]:
    db, key = tmp_path / "vault.db", tmp_path / "seal.key"
    store = SqliteStore(db)
    init_vault(store, KeyFileSealer.create(key), settings=OPEN_SETTINGS)
    yield store, db, key
    store.close()


def _slow(port: int, n: int) -> list[socket.socket]:
    """``n`` connections from 127.0.0.2… that send half a request line and stall."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), 5, (f"127.0.0.{2 + i % 200}", 0))
        s.sendall(b"POST /v1/recover/start HTTP/1.1\r\nHost: x\r\nContent-Le")
        socks.append(s)
    return socks


def _closed_by_peer(s: socket.socket) -> bool:
    s.settimeout(0.05)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_200_slow_connections_do_not_block_a_normal_request(vault_db, tmp_path: Path) -> None:
    _, db, key = vault_db
    node = Node(str(db), key, extra=["--read-timeout", "3"], log=tmp_path / "n.log").wait_ready()
    socks = _slow(node.port, 200)
    try:
        time.sleep(0.3)
        t0 = time.monotonic()
        r = httpx.get(node.url + "/v1/info", timeout=5)
        took = time.monotonic() - t0
        assert r.status_code == 200
        assert took < 1.0, f"a normal request took {took:.2f} s next to 200 slow ones"
        time.sleep(3.5)  # past the read deadline: the node has cut every slow connection
        assert sum(_closed_by_peer(s) for s in socks) == 200
    finally:
        for s in socks:
            s.close()
        node.stop()


def test_per_address_and_total_connection_caps(vault_db, tmp_path: Path) -> None:
    _, db, key = vault_db
    extra = ["--max-per-address", "5", "--max-connections", "20"]
    node = Node(str(db), key, extra=extra, log=tmp_path / "n.log").wait_ready()
    socks: list[socket.socket] = []
    try:
        for _ in range(6):  # one address: the 6th is refused at once with a 503
            socks.append(socket.create_connection(("127.0.0.1", node.port), 5, ("127.0.0.250", 0)))
        answer = socks[-1].recv(200)
        assert answer.startswith(b"HTTP/1.1 503") and b"too many connections" in answer
        first = _slow(node.port, 15)  # 5 + 15 from other addresses: the total cap is full
        socks += first
        time.sleep(0.2)
        # a newcomer evicts the oldest connection still sending its request, and is served
        assert httpx.get(node.url + "/v1/info", timeout=5).status_code == 200
        assert _closed_by_peer(socks[0])  # the oldest of the 127.0.0.250 ones
        assert not any(_closed_by_peer(s) for s in first)
        metrics = node.metrics()
        assert 'coffer_vault_connections_refused_total{reason="address-cap"} 1.0' in metrics
        assert 'coffer_vault_connections_refused_total{reason="evicted-slow"} 1.0' in metrics
    finally:
        for s in socks:
            s.close()
        node.stop()


def test_spoofed_forwarded_for_against_a_real_node(vault_db, tmp_path: Path) -> None:
    store, db, key = vault_db
    limited = OPEN_SETTINGS.replace(rate_per_address=0.01, burst_per_address=5)
    save_settings(store, limited, AuditContext("test", "test"))
    node = Node(str(db), key, log=tmp_path / "n.log").wait_ready()
    try:
        codes = [
            httpx.get(
                node.url + "/v1/info", headers={"x-forwarded-for": f"203.0.113.{i}"}
            ).status_code
            for i in range(60)
        ]
    finally:
        node.stop()
    assert codes.count(200) == 5 and codes.count(429) == 55


def test_two_nodes_share_settings_and_rate_limits(vault_db, tmp_path: Path) -> None:
    """`vault init --max-attempts 5` is what every node serves, a later `settings set` reaches
    running nodes, and one client address gets one shared allowance across both nodes."""
    store, db, key = vault_db
    save_settings(store, OPEN_SETTINGS.replace(max_attempts=5), AuditContext("t", "t"))
    nodes = [Node(str(db), key, name=f"n{i}", log=tmp_path / f"n{i}.log") for i in range(2)]
    try:
        for n in nodes:
            n.wait_ready()
        assert [httpx.get(n.url + "/v1/info").json()["max_attempts"] for n in nodes] == [5, 5]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "coffer.cli.vault_cmd",
                "settings",
                "set",
                "--db",
                str(db),
                "--rate-per-address",
                "0.01",
                "--burst-per-address",
                "8",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "rate_per_address" in out.stdout
        time.sleep(6)  # nodes re-read the stored settings every 5 s
        codes = [httpx.get(nodes[i % 2].url + "/v1/info").status_code for i in range(16)]
        assert codes.count(200) == 8, codes
    finally:
        for n in nodes:
            n.stop()


def test_metrics_count_requests_and_logins_on_their_own_port(vault_db, tmp_path: Path) -> None:
    from coffer.vault.client import VaultClient

    from .vault_helpers import FAST_KSF

    _, db, key = vault_db
    node = Node(str(db), key, log=tmp_path / "n.log").wait_ready()
    try:
        client = VaultClient(node.url)
        client.register("met", b"pw", bytes(32), ksf=FAST_KSF)
        client.recover("met", b"pw")
        with pytest.raises(Exception):
            client.recover("met", b"wrong")
        text = node.metrics()
        assert httpx.get(node.url + "/metrics").status_code == 404  # not on the API port
        assert httpx.get(node.url + "/v1/health").json()["status"] == "alive"
        assert httpx.get(node.url + "/v1/ready").json()["status"] == "ready"
    finally:
        node.stop()
    assert 'coffer_vault_logins_total{outcome="ok"} 1.0' in text
    assert 'coffer_vault_logins_total{outcome="failed"} 1.0' in text
    assert "coffer_vault_attempts_spent_total 2.0" in text
    assert 'coffer_vault_requests_total{endpoint="/v1/recover/start",status="200"} 2.0' in text
    assert 'coffer_vault_request_seconds_bucket{endpoint="/v1/recover/finish"' in text


def _make_ca_and_cert(folder: Path) -> tuple[Path, Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coffer test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vault.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


def test_tls_with_a_ca_made_here(vault_db, tmp_path: Path) -> None:
    from coffer.vault.client import VaultClient

    from .vault_helpers import FAST_KSF

    _, db, key = vault_db
    ca, cert, tls_key = _make_ca_and_cert(tmp_path)
    node = Node(
        str(db),
        key,
        extra=["--tls-cert", str(cert), "--tls-key", str(tls_key)],
        log=tmp_path / "n.log",
        scheme="https",
        verify=str(ca),
    ).wait_ready()
    try:
        ctx = ssl.create_default_context(cafile=str(ca))
        client = VaultClient(node.url, transport=httpx.HTTPTransport(verify=ctx))
        client.register("tls", b"pw", bytes(32), ksf=FAST_KSF)
        assert client.recover("tls", b"pw") == bytes(32)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(node.url + "/v1/info")  # the system CAs do not know ours
        with pytest.raises(httpx.HTTPError):
            httpx.get(node.url.replace("https", "http") + "/v1/info")
    finally:
        node.stop()


def test_plain_http_off_loopback_needs_insecure_http(vault_db) -> None:
    _, db, key = vault_db
    base = [
        sys.executable,
        "-m",
        "coffer.cli.vault_cmd",
        "serve",
        "--db",
        str(db),
        "--key-file",
        str(key),
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        "--metrics-port",
        "0",
    ]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 15 and "refusing plain HTTP on 0.0.0.0" in refused.stderr
    proc = subprocess.Popen([*base, "--insecure-http"], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "WARNING: serving PLAIN HTTP" in line
    finally:
        proc.terminate()
        proc.wait(10)


def test_workers_share_one_port(vault_db, tmp_path: Path) -> None:
    from coffer.vault.client import VaultClient

    from .vault_helpers import FAST_KSF

    _, db, key = vault_db
    node = Node(str(db), key, extra=["--workers", "2"], log=tmp_path / "n.log").wait_ready()
    try:
        client = VaultClient(node.url)
        client.register("w", b"pw", bytes(32), ksf=FAST_KSF)
        pids = set()
        for _ in range(20):
            with httpx.Client() as h:  # a new connection each time: the kernel spreads them
                pids.add(h.get(node.url + "/v1/health").json()["pid"])
            assert client.recover("w", b"pw") == bytes(32)
        assert len(pids) == 2
        assert "coffer_vault_logins_total" in node.metrics()
    finally:
        node.stop()
    assert node.proc.returncode == 0
