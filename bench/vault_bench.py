"""Key vault benchmark: complete OPAQUE logins per second (KE1→KE2→KE3 plus the release of V)
and their p50/p99 latency, against real vault node processes over HTTP on 127.0.0.1:

- SQLite, one node;
- PostgreSQL (127.0.0.1:5432, database ``test``), two nodes on one database;

plus the server-side cost measured separately in process, so the HTTP and storage overhead is
visible: (a) the server's OPAQUE crypto per login (server_login_start, sealing the state,
opening it, server_login_finish, sealing V for release); (b) the store transactions per login
(take_attempt + finish_login) on each database, without crypto or HTTP; (c) the floors of
``vault_floors.py`` (group operations, a minimal HTTP request, a libpq round trip) and their sum,
the least node CPU a login can cost here. Each HTTP run also reports the PostgreSQL server's CPU
and the load generator's per login, and the throughput their sum allows on this machine's cores.

Clients use a tiny Argon2id (64 KiB, t=1) so the figure is the vault's capacity, not the client's
password hashing. The load generators run on the same 2-core machine as the nodes, so the HTTP
figures include their CPU use. Not a test; run: ``.venv/bin/python bench/vault_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
import vault_floors
import vault_loadgen as loadgen
from vault.vault_nodes import Node
from vault_loadgen import Target

from coffer.opaque import (
    Argon2idKSF,
    Config,
    ServerLoginState,
    client_login_finish,
    client_login_start,
    client_registration_finish,
    client_registration_start,
    server_login_finish,
    server_login_start,
    server_registration_response,
)
from coffer.vault import _crypto, wire
from coffer.vault.client import VaultClient
from coffer.vault.protocol import CONTEXT
from coffer.vault.seal import KeyFileSealer
from coffer.vault.server import init_vault
from coffer.vault.settings import VaultSettings
from coffer.vault.store import Action, AuditContext, PendingRow, SqlStore
from coffer.vault.store_postgres import PostgresStore
from coffer.vault.store_sqlite import SqliteStore

KSF = Argon2idKSF(memory_kib=64, iterations=1, parallelism=1)
# the bench measures the server: let the client register with this light KSF
os.environ.setdefault("COFFER_VAULT_MIN_KSF", "64,1")
PW = b"benchmark password"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- in-process costs ------------------------------------------------------------------------
def server_crypto_cost(n: int = 400) -> dict[str, float]:
    from coffer.opaque import ServerSetup

    setup = ServerSetup.generate()
    cfg = Config(context=CONTEXT, ksf=KSF)
    cred = b"bench-cred"
    state, req = client_registration_start(PW)
    record, _ = client_registration_finish(
        state, server_registration_response(setup, req, cred), cfg
    )
    key = _crypto.derive(setup.to_bytes(), _crypto.LABEL_STATE)
    server_s = 0.0  # CPU time of this thread (wall time would count other jobs' turns)
    for _ in range(n):
        cstate, ke1 = client_login_start(PW)
        t0 = time.thread_time()
        sstate, ke2 = server_login_start(setup, record, ke1, cred, cfg)
        sealed = _crypto.seal(key, sstate.to_bytes(), b"ad")
        server_s += time.thread_time() - t0
        ke3, _, _ = client_login_finish(cstate, ke2, cfg)
        t0 = time.thread_time()
        session = server_login_finish(
            ServerLoginState.from_bytes(_crypto.open_sealed(key, sealed, b"ad")), ke3
        )
        _crypto.seal(_crypto.derive(session, _crypto.LABEL_RELEASE), os.urandom(88), b"r")
        server_s += time.thread_time() - t0
    per = server_s / n
    return {"server_crypto_ms_per_login": per * 1000, "server_crypto_logins_per_s_1core": 1 / per}


def store_cost(store: SqlStore, n: int = 300) -> dict[str, float]:
    from coffer.vault.store import NewRecord

    ctx = AuditContext("bench", "bench")
    store.register(NewRecord("store-bench", b"c" * 16, b"r" * 192, b"s" * 88, "{}"), 1.0, ctx)
    lat: list[float] = []
    for _ in range(n):
        pid = os.urandom(16)
        t0 = time.perf_counter()
        now = time.time()
        store.take_attempt(
            "store-bench",
            (b"g" * 16, "{}"),
            now,
            ctx,
            lambda row: (
                PendingRow(pid, row.account, "login", row.generation, b"x" * 200, now + 60),
                None,
            ),
        )
        store.finish_login(pid, now, ctx, lambda p: True, Action.RECOVER)
        lat.append(time.perf_counter() - t0)
    return {"store_ms_p50": pct(lat, 0.5) * 1000, "store_ms_p99": pct(lat, 0.99) * 1000}


def core_cpu_cost(store: SqlStore, n: int = 200) -> dict[str, float]:
    """CPU per login of the node's work without HTTP: VaultCore handlers (JSON fields, base64,
    OPAQUE, sealing, store statements) called in process; the client's work is not counted."""
    from coffer.opaque import client_registration_finish as reg_finish
    from coffer.vault.protocol import VaultCore

    tmp_key = Path(tempfile.mkdtemp()) / "k"
    settings = VaultSettings(default_ksf=wire.ksf_to_json(KSF))
    setup = init_vault(store, KeyFileSealer.create(tmp_key), settings=settings)
    core = VaultCore(setup, store, settings, clock=time.time)
    ctx = AuditContext("bench", "bench")
    cfg = Config(context=CONTEXT, ksf=KSF)
    st, req = client_registration_start(PW)
    start = core.register_start({"account": "core", "registration_request": wire.b64e(req)}, ctx)
    record, _ = reg_finish(st, wire.b64d(start["registration_response"]), cfg)
    core.register_finish(
        {
            "account": "core",
            "registration_id": start["registration_id"],
            "record": wire.b64e(record),
            "sealed_secret": wire.b64e(os.urandom(72)),
            "ksf": wire.ksf_to_json(KSF),
        },
        ctx,
    )
    cpu = 0.0
    for _ in range(n):
        cstate, ke1 = client_login_start(PW)
        t0 = time.thread_time()
        ans = core.recover_start({"account": "core", "ke1": wire.b64e(ke1)}, ctx)
        cpu += time.thread_time() - t0
        ke3, _, _ = client_login_finish(cstate, wire.b64d(ans["ke2"]), cfg)
        t0 = time.thread_time()
        core.recover_finish({"attempt_id": ans["attempt_id"], "ke3": wire.b64e(ke3)}, ctx)
        cpu += time.thread_time() - t0
    return {"core_cpu_ms_per_login": 1000 * cpu / n}


# -- HTTP load ---------------------------------------------------------------------------------
def _httpx_worker(
    urls: list[str], target: Target, accounts: list[str], threads: int, duration: float, out: Any
) -> None:
    """The same loop with the CLI's client (httpx): for comparison with the lean one."""
    lat: list[float] = []
    errors = [0]
    stop = time.monotonic() + duration
    lock = threading.Lock()
    cpu0 = time.process_time()

    def loop(i: int) -> None:
        client = VaultClient(urls[i % len(urls)], pinned_key=target.public_key, timeout=30)
        mine: list[float] = []
        account = accounts[i % len(accounts)]
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                client.recover(account, PW)
                mine.append(time.perf_counter() - t0)
            except Exception:
                with lock:
                    errors[0] += 1
        with lock:
            lat.extend(mine)
        client.close()

    ts = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put((lat, errors[0], time.process_time() - cpu0))


def register_accounts(url: str, key: bytes, n: int, client_state: bool = True) -> Target:
    """Register ``n`` accounts (before the measured window) and return what logins need."""
    client = VaultClient(url, pinned_key=key)
    secrets = {f"bench{i}": os.urandom(32) for i in range(n)}
    for account, secret in secrets.items():
        client.register(account, PW, secret, ksf=KSF)
    context = client.info().context
    client.close()
    return Target(key, context, KSF, PW, secrets, client_state)


def http_load(
    urls: list[str], target: Target, procs: int, threads: int, duration: float, lean: bool
) -> dict[str, float]:
    accounts = sorted(target.secrets)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    work = loadgen.worker if lean else _httpx_worker
    ps = [
        ctx.Process(target=work, args=(urls, target, accounts[i::procs], threads, duration, q))
        for i in range(procs)
    ]
    t0 = time.monotonic()
    for p in ps:
        p.start()
    results = [q.get() for _ in ps]
    for p in ps:
        p.join()
    wall = time.monotonic() - t0
    lat = [x for r in results for x in r[0]]
    return {
        "logins": len(lat),
        "errors": sum(r[1] for r in results),
        "logins_per_s": len(lat) / duration,
        "p50_ms": pct(lat, 0.5) * 1000,
        "p99_ms": pct(lat, 0.99) * 1000,
        "mean_ms": statistics.fmean(lat) * 1000,
        "wall_s": wall,
        "client_cpu_ms_per_login": 1000 * sum(r[2] for r in results) / max(1, len(lat)),
    }


def proc_cpu_s(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def tree_cpu_s(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a node and its worker processes (``--workers``)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    times = [proc_cpu_s(pid), *(proc_cpu_s(int(c)) for c in children)]
    return sum(t[0] for t in times), sum(t[1] for t in times)


def postgres_cpu_s() -> dict[int, float]:
    """CPU seconds (user + system) of every PostgreSQL process on this machine, by PID: the
    database server is local here, and its share of each login bounds the throughput too."""
    out: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            out[int(entry.name)] = sum(proc_cpu_s(int(entry.name)))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return out


def postgres_cpu_delta_s(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two :func:`postgres_cpu_s` readings (a process that started meanwhile
    counts whole; one that ended meanwhile is lost, so this is a lower bound)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def nodes_cpu_s(nodes: list[Node]) -> tuple[float, float]:
    times = [tree_cpu_s(x.proc.pid) for x in nodes]
    return sum(t[0] for t in times), sum(t[1] for t in times)


def run_nodes(store: SqlStore, db: str, schema: str, n: int, tmp: Path, args: Any) -> dict:
    key_file = tmp / f"seal-{schema}.key"
    # rate limits on (every request checks the shared buckets in the store), set high enough
    # that they never refuse: the bench pays their cost without being throttled by them
    rate = 0.0 if args.no_rate_limits else 1e6
    open_settings = VaultSettings(
        default_ksf=wire.ksf_to_json(KSF),
        rate_per_address=rate,
        burst_per_address=1_000_000,
        rate_per_account=rate,
        burst_per_account=1_000_000,
    )
    setup = init_vault(store, KeyFileSealer.create(key_file), settings=open_settings)
    extra = ["--workers", str(args.workers)]
    nodes = [
        Node(db, key_file, schema=schema, name=f"b{i}", log=tmp / f"{schema}{i}.log", extra=extra)
        for i in range(n)
    ]
    try:
        for node in nodes:
            node.wait_ready()
        urls = [x.url for x in nodes]
        target = register_accounts(urls[0], setup.public_key, args.accounts, not args.stored_state)
        load0 = os.getloadavg()[0]
        user0, sys0 = nodes_cpu_s(nodes)
        pg0 = postgres_cpu_s()
        result = http_load(
            urls, target, args.procs, args.threads, args.duration, args.client == "lean"
        )
        user1, sys1 = nodes_cpu_s(nodes)
        pg1 = postgres_cpu_s()
        logins = max(1, result["logins"])
        result["node_cpu_ms_per_login"] = 1000 * (user1 - user0 + sys1 - sys0) / logins
        result["node_sys_ms_per_login"] = 1000 * (sys1 - sys0) / logins
        result["node_capacity_logins_per_core_s"] = 1000 / result["node_cpu_ms_per_login"]
        if pg0:  # a local database (SQLite runs inside the node)
            result["postgres_cpu_ms_per_login"] = 1000 * postgres_cpu_delta_s(pg0, pg1) / logins
        # every CPU a login costs on this machine: the node, the database, the load generator
        machine = (
            result["node_cpu_ms_per_login"]
            + result.get("postgres_cpu_ms_per_login", 0.0)
            + result["client_cpu_ms_per_login"]
        )
        result["machine_cpu_ms_per_login"] = machine
        result["machine_bound_logins_per_s"] = 1000 * (os.cpu_count() or 1) / machine
        result["loadavg_1min_before_after"] = [load0, os.getloadavg()[0]]
        return result
    finally:
        for node in nodes:
            node.stop()


def in_process_sqlite(tmp: Path) -> dict[str, Any]:
    sq = SqliteStore(tmp / "store-only.db")
    sq.create_schema()
    return {
        "store_sqlite": store_cost(sq),
        "core_sqlite": core_cpu_cost(SqliteStore(tmp / "core-only.db")),
    }


def in_process_postgres(dsn: str, schema: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pg = PostgresStore(dsn, schema + "_s")
    pg.create_schema()
    try:
        out["store_postgres"] = store_cost(pg)
    finally:
        pg.drop_schema()
    pgc = PostgresStore(dsn, schema + "_c")
    try:
        out["core_postgres"] = core_cpu_cost(pgc)
    finally:
        pgc.drop_schema()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--procs", type=int, default=2, help="load-generator processes")
    ap.add_argument("--threads", type=int, default=8, help="client threads per process")
    ap.add_argument("--accounts", type=int, default=32)
    ap.add_argument("--pg-dsn", default=PG_DSN)
    ap.add_argument("--workers", type=int, default=1, help="--workers of each node")
    ap.add_argument("--pg-nodes", type=int, default=2)
    ap.add_argument("--no-rate-limits", action="store_true", help="switch the shared buckets off")
    ap.add_argument(
        "--stored-state",
        action="store_true",
        help="logins without client_state: the vault stores the login state (4 statements)",
    )
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-postgres-floor", action="store_true", help="no database floor")
    ap.add_argument("--skip-in-process", action="store_true", help="only the HTTP runs")
    ap.add_argument(
        "--client",
        choices=["lean", "httpx"],
        default="lean",
        help="load generator: bench/vault_loadgen.py (default) or the CLI's VaultClient",
    )
    args = ap.parse_args()
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
        "args": vars(args),
    }
    report["server_crypto"] = server_crypto_cost()
    report["floors"] = vault_floors.floors(None if args.skip_postgres_floor else args.pg_dsn)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_in_process:
            report.update(in_process_sqlite(tmp))
        db = tmp / "vault.db"
        if not args.skip_sqlite:
            report["http_sqlite_1_node"] = run_nodes(SqliteStore(db), str(db), "x", 1, tmp, args)
        try:
            psycopg.connect(args.pg_dsn, connect_timeout=2).close()
        except psycopg.Error as exc:
            report["postgres"] = f"skipped: {exc}"
        else:
            schema = f"bench_{os.getpid()}"
            if not args.skip_in_process:
                report.update(in_process_postgres(args.pg_dsn, schema))
            pg2 = PostgresStore(args.pg_dsn, schema)
            try:
                report[f"http_postgres_{args.pg_nodes}_nodes"] = run_nodes(
                    pg2, args.pg_dsn, schema, args.pg_nodes, tmp, args
                )
            finally:
                pg2.drop_schema()
    report["server_crypto_after"] = server_crypto_cost()
    report["loadavg_after"] = os.getloadavg()
    crypto = statistics.fmean(
        report[k]["server_crypto_ms_per_login"] for k in ("server_crypto", "server_crypto_after")
    )
    floor = report["floors"]["node_floor_ms_per_login"]
    for name, value in list(report.items()):
        if isinstance(value, dict) and "node_cpu_ms_per_login" in value:
            value["node_cpu_over_crypto_cpu"] = value["node_cpu_ms_per_login"] / crypto
            value["node_cpu_over_floor"] = value["node_cpu_ms_per_login"] / floor
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
