"""``coffer browse`` and ``coffer export html`` on the bench's chat store (not part of make test).

Usage: ``python bench/browse_bench.py [--size bench|demo|small] [--seed N]``. Backs the cached
store (bench/dataset.py; ``bench`` = 500k messages, 141 MB database, ~550 MB media) up once into
``bench/out/browse-<size>/repo``, then measures, each printed with what bounds it:

1. first chat list on screen, from the start of the ``coffer browse`` process to the list
   rendered in Chromium (Debian's, if installed; else the HTTP response), split into: URL
   printed (repository opened, index loaded), and the first page (database rebuilt into the
   private temp folder + chat list query);
2. a thread page of 50 messages in the largest chat: the newest page, and one from the middle
   (jump to a date), as HTTP time (one keep-alive connection, median of 7) and in the browser,
   measured after step 3's index build so that the build does not share the CPU with it;
3. the search index build (FTS5 over every message, in the background), and searches over all
   messages (median of 5) for a common and a rare word;
4. ``coffer export html`` of the snapshot: time, pages, largest page, and opening the largest
   chat's overview and its newest page in Chromium from file://.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import cached_store, spec_for

from coffer.backends.local import LocalBackend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotKind
from coffer.engine.repository import Repository
from coffer.ops.backup import BackupOptions, backup

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def prepared_repo(out: Path, store: Path) -> tuple[Path, str]:
    repo_dir, key_file = out / "repo", out / "recovery-key"
    if not key_file.exists():
        shutil.rmtree(repo_dir, ignore_errors=True)
        repo = Repository.init(LocalBackend(repo_dir))
        key = RecoveryKey.generate()
        repo.add_slot(SlotKind.RECOVERY, key.secret)
        for mode in ("logical", "pages"):  # the pages snapshot is the newer one
            started = time.perf_counter()
            backup(repo, [store], BackupOptions(db_mode=mode))
            print(f"backed up {store} ({mode} mode) in {time.perf_counter() - started:.1f} s")
        key_file.write_text(key.display())
    return repo_dir, key_file.read_text()


def median_ms(fn: object, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


class Browse:
    def __init__(self, repo_dir: Path, key: str, work: Path) -> None:
        env = dict(os.environ, COFFER_RECOVERY_KEY=key, TMPDIR=str(work))
        env.pop("DISPLAY", None)
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "coffer", "browse", "--repo", str(repo_dir), "--no-open"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.t_url = time.perf_counter() - self.t0
        match = re.search(r"http://127\.0\.0\.1:\d+/\S+", line)
        assert match, line
        self.url = match.group(0)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(120)


def run(size: str, seed: int) -> None:
    out = Path(__file__).resolve().parent / "out" / f"browse-{size}"
    out.mkdir(parents=True, exist_ok=True)
    store = cached_store(Path(__file__).resolve().parent / "out", spec_for(size, seed))
    db_mb = (store / "msgstore.db").stat().st_size / 1e6
    repo_dir, key = prepared_repo(out, store)
    work = out / "tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    use_browser = shutil.which(CHROMIUM) is not None
    pw = browser = None
    if use_browser:
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    print(f"store: {store} (database {db_mb:.0f} MB)")
    for row, mode in ((1, "logical"), (0, "pages")):
        b = Browse(repo_dir, key, work)
        try:
            page = browser.new_page() if browser else None
            chats_url = _first_list(b, page, row)
            t_list = time.perf_counter() - b.t0
            how = ("rebuilt from its logical stream (coffer.sqlite restore in a child process)"
                   if mode == "logical" else "written from its page blobs")  # fmt: skip
            print(f"1. [{mode} snapshot] first chat list on screen: {t_list:.2f} s from command "
                  f"start (URL printed after {b.t_url:.2f} s: interpreter, repository, index; "
                  f"then the {db_mb:.0f} MB database {how}, + the chat list query)")  # fmt: skip
            if mode == "pages":
                # the search index first: its build runs in the background and would otherwise
                # share the CPU with the thread-page timings
                _search(b, chats_url, t_list)
                _threads(b, chats_url, page)
        finally:
            b.stop()
    _export(repo_dir, key, out, browser)
    if pw is not None:
        browser.close()
        pw.stop()


def _first_list(b: Browse, page: object, row: int) -> str:
    if page is not None:
        page.set_default_timeout(900_000)  # type: ignore[attr-defined]
        page.goto(b.url, wait_until="load")  # type: ignore[attr-defined]
        page.locator("table.snapshots tbody tr a").nth(row).click()  # type: ignore[attr-defined]
        page.wait_for_selector("ul.chats li", timeout=900_000)  # type: ignore[attr-defined]
        return str(page.url)  # type: ignore[attr-defined]
    snaps = re.findall(r'href="[^"]*/s/([0-9a-f]+)/"', httpx.get(b.url).text)
    r = httpx.get(b.url + f"s/{snaps[row]}/", timeout=900, follow_redirects=True)
    return str(r.url)


def _threads(b: Browse, chats_url: str, page: object) -> None:
    listing = httpx.get(chats_url, timeout=60).text
    pattern = r'<a href="([^"]+/c/\d+)">.*?<span class="count">(\d+) messages'
    counts = [(int(n), href) for href, n in re.findall(pattern, listing, re.S)]
    n, href = max(counts)
    base = b.url.split("/", 3)
    origin = f"{base[0]}//{base[2]}"
    newest = origin + href
    with httpx.Client(timeout=60) as client:  # one keep-alive connection, as a browser has
        client.get(newest).raise_for_status()
        ms = median_ms(lambda: client.get(newest).raise_for_status(), 7)
        middle_page = client.get(newest + "/months").text
        months = re.findall(r'href="([^"]+\?after=[^"]+)"', middle_page)
        middle = origin + months[len(months) // 2].replace("&amp;", "&")
        ms_mid = median_ms(lambda: client.get(middle).raise_for_status(), 7)
    line = (
        f"2. thread page of 50 in the largest chat ({n} messages): newest {ms:.0f} ms, "
        f"middle of its history {ms_mid:.0f} ms (HTTP on one keep-alive connection, median "
        "of 7, after the search index is built)"
    )
    if page is not None:
        t = time.perf_counter()
        page.goto(middle, wait_until="load")  # type: ignore[attr-defined]
        line += f"; in Chromium {1000 * (time.perf_counter() - t):.0f} ms to load"
    print(
        line + " — bounded by one index range scan on (chat_id, timestamp) plus rendering 50 "
        "messages; depth in the history does not matter (keyset paging)"
    )


def _search(b: Browse, chats_url: str, t_list: float) -> None:
    search = chats_url.rstrip("/") + "/search?q="
    while "Building the search index" in httpx.get(search + "hello", timeout=60).text:
        time.sleep(0.5)
    t_ready = time.perf_counter() - b.t0
    print(
        f"3. search index ready {t_ready - t_list:.1f} s after the chat list "
        f"({t_ready:.1f} s from command start): FTS5 over every message's text, built in a "
        "background thread in the private temp folder"
    )
    client = httpx.Client(timeout=60)  # one keep-alive connection, as a browser has
    for word in ("the", "Lisbon", "pizza"):
        r = client.get(search + word)
        total = re.search(r"(\d+) messages match", r.text)
        ms = median_ms(lambda w=word: client.get(search + w).raise_for_status(), 5)
        print(
            f"   search {word!r}: {total.group(1) if total else 0} matches, first page of 50 "
            f"in {ms:.0f} ms (FTS5 match + count + fetching 50 messages)"
        )
    client.close()


def _export(repo_dir: Path, key: str, out: Path, browser: object) -> None:
    target = out / "export"
    shutil.rmtree(target, ignore_errors=True)
    env = dict(os.environ, COFFER_RECOVERY_KEY=key, TMPDIR=str(out / "tmp"))
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "coffer", "export", "html", "latest", "--repo",
                           str(repo_dir), "--out", str(target)], capture_output=True, text=True,
                          env=env)  # fmt: skip
    seconds = time.perf_counter() - t
    print(f"4. export html: {seconds:.1f} s — {done.stdout.strip() or done.stderr.strip()}")
    if browser is None or done.returncode:
        return
    overviews = sorted(target.glob("*/*/index.html"), key=lambda p: len(list(p.parent.glob("p*"))))
    biggest = overviews[-1]
    pages = sorted(biggest.parent.glob("p*.html"))
    page = browser.new_page()  # type: ignore[attr-defined]
    t = time.perf_counter()
    page.goto(biggest.as_uri(), wait_until="load")
    t_over = time.perf_counter() - t
    t = time.perf_counter()
    page.goto(pages[-1].as_uri(), wait_until="load")
    t_page = time.perf_counter() - t
    size = max(p.stat().st_size for p in pages)
    print(
        f"   largest chat exported as {len(pages)} pages (largest {size / 1e3:.0f} kB): overview "
        f"opens in {1000 * t_over:.0f} ms, its newest page in {1000 * t_page:.0f} ms (file://)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=["bench", "demo", "small"], default="bench")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    run(args.size, args.seed)


if __name__ == "__main__":
    main()
