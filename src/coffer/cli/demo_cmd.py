"""``coffer demo``: the whole story on a generated chat store, in under a minute.

Generate a messaging app's chat store → back it up → one "next day" of messages and media →
back up again → back up unchanged data once more → restore the latest snapshot into a fresh
folder → verify it → print sizes and times.

The repository is protected by a password (V escrowed in an embedded key vault on loopback,
:mod:`coffer.cli.demo_password`) and a recovery key: the restore happens on a "new phone" with
only the password; then ten wrong passwords lock the password route and the recovery key still
opens the repository. Last, the storage provider puts back an older copy of ``snapshots/`` and
Coffer refuses it (exit code 20) on the old phone and on a phone that never saw the repository
(:mod:`coffer.cli.demo_freshness`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click

from coffer.cli.output import emit_json, human_bytes
from coffer.cli.verify import compare_trees
from coffer.errors import IntegrityError, UsageError
from coffer.ops.backup import BackupOptions, backup
from coffer.ops.restore import restore
from coffer.sample import ChatStoreSpec, apply_next_day, generate_chat_store


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _prepare(workdir: Path) -> tuple[Path, Path, Path]:
    store, repo_dir, target = workdir / "chatstore", workdir / "repo", workdir / "restored"
    if workdir.exists():
        known = {"chatstore", "repo", "restored", "recovery-key.txt", "vault"}
        known |= {"old-phone", "new-phone", "thief-phone", "another-phone", "provider-copy"}
        strangers = [p.name for p in workdir.iterdir() if p.name not in known]
        if strangers:
            raise UsageError(f"{workdir} holds files the demo did not make: {strangers[:3]}")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return store, repo_dir, target


@click.command("demo")
@click.option(
    "--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out")
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--messages", type=int, default=100_000, show_default=True)
@click.option("--media-mb", type=int, default=80, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def command(workdir: Path, seed: int, messages: int, media_mb: int, as_json: bool) -> None:
    """Back up, change, back up and restore a generated chat store, and verify the result."""
    from coffer._extras import require

    require("vault", "coffer demo (its embedded key vault)")
    from coffer.cli import demo_freshness, demo_password  # the vault: only when the demo runs

    store, repo_dir, target = _prepare(workdir)
    say = (lambda _m: None) if as_json else click.echo
    spec = ChatStoreSpec(seed=seed, messages=messages, media_bytes=media_mb * 1_000_000)
    t = time.monotonic()
    gen = generate_chat_store(store, spec)
    source_size = _dir_size(store)
    say(
        f"1. generated a chat store: {gen.messages} messages, {gen.media_files} media files, "
        f"{human_bytes(source_size)} ({time.monotonic() - t:.1f} s)"
    )

    vault = demo_password.start_vault(workdir)
    click.get_current_context().call_on_close(vault.stop)
    repo = demo_password.create_repository(workdir, repo_dir, vault)
    say(
        f"2. started a key vault on {vault.url} (light KSF for the demo: "
        f"{demo_password.DEMO_KSF.describe()}) and created an encrypted repository with two "
        f"slots: the password {demo_password.PASSWORD!r} (key escrowed in the vault) and a "
        f"recovery key saved in {workdir}/recovery-key.txt"
    )

    demo_freshness.watch(workdir, repo, vault)
    opts = BackupOptions(hostname="demo-phone")
    t = time.monotonic()
    first = backup(repo, [store], opts)
    t_first = time.monotonic() - t
    say(f"3. first backup: {human_bytes(first.bytes_stored)} stored in {t_first:.1f} s")

    day = apply_next_day(store, spec)
    size0 = _dir_size(repo_dir)
    t = time.monotonic()
    second = backup(repo, [store], opts)
    t_second = time.monotonic() - t
    grew2 = _dir_size(repo_dir) - size0
    say(
        f"4. next day (+{day.messages} messages, +{day.media_files} media): second backup "
        f"added {human_bytes(grew2)} to the repository in {t_second:.1f} s"
    )

    demo_freshness.keep_copy(workdir, repo_dir)
    size1 = _dir_size(repo_dir)
    t = time.monotonic()
    third = backup(repo, [store], opts)
    t_third = time.monotonic() - t
    grew3 = _dir_size(repo_dir) - size1
    say(
        f"5. unchanged data: third backup added {human_bytes(grew3)} to the repository "
        f"({100 * grew3 / max(source_size, 1):.3f}% of the source) in {t_third:.1f} s"
    )

    reopened, t_unlock = demo_password.open_on_new_phone(workdir, repo_dir, vault)
    say(
        f"6. lost the phone: a new phone with only the vault address, the account and the "
        f"password unlocked the repository in {t_unlock:.2f} s"
    )
    reopened.load_index()
    t = time.monotonic()
    result = restore(reopened, reopened.load_snapshot(third.snapshot.id), target)
    t_restore = time.monotonic() - t
    problems = compare_trees(store, target / store.name)
    say(
        f"7. restored {result.files} files ({human_bytes(result.bytes)}) in {t_restore:.1f} s "
        f"into {target}"
    )
    say(
        "8. verified: "
        + (
            "every file identical, database intact with the same rows"
            if not problems
            else f"{len(problems)} PROBLEMS: {problems[:5]}"
        )
    )
    say("9. a thief tries 10 wrong passwords:")
    lockout = demo_password.lock_out(workdir, repo_dir, vault, say)
    snapshots = demo_password.recovery_still_opens(workdir, repo_dir)
    say(f"10. the recovery key still opens the repository ({snapshots} snapshots)")
    refusals = demo_freshness.provider_rolls_back(workdir, repo_dir, vault, say)
    summary = {
        "source_bytes": source_size,
        "repository_bytes": _dir_size(repo_dir),
        "first_backup": {"seconds": round(t_first, 2), "bytes_stored": first.bytes_stored},
        "second_backup": {
            "seconds": round(t_second, 2),
            "repository_growth": grew2,
            "bytes_new": second.bytes_new,
        },
        "unchanged_backup": {
            "seconds": round(t_third, 2),
            "repository_growth": grew3,
            "bytes_new": third.bytes_new,
        },
        "restore": {"seconds": round(t_restore, 2), "bytes": result.bytes},
        "password": {"unlock_seconds": round(t_unlock, 2), **lockout, "recovery": snapshots},
        "verified": not problems,
        "problems": problems,
        "rollback_refused": {name: bool(text) for name, text in refusals.items()},
    }
    if as_json:
        emit_json(summary)
    else:
        say(
            f"repository: {human_bytes(summary['repository_bytes'])} for "  # type: ignore[arg-type]
            f"{human_bytes(source_size)} of source"
        )
    if problems:
        raise IntegrityError("the restored chat store differs from the source")
    if not all(refusals.values()):
        raise IntegrityError("a rollback by the storage provider went unnoticed")
