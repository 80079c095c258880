"""Entry point of the ``coffer`` command and its error handling.

Every :class:`~coffer.errors.CofferError` ends as one line on stderr and its ``exit_code``;
click's usage errors exit 2; Ctrl-C exits 130. Anything else is a bug: one line naming the
exception type, and the traceback only with ``COFFER_DEBUG=1``.

libsodium is checked when a command is looked up, not at start-up, so ``--version`` and
``--help`` work on a system without it; a command then exits 18 with the package to install.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from coffer import __version__
from coffer.cli.help import _Polished, polish
from coffer.errors import EXIT_INTERRUPTED, CofferError
from coffer.system_check import MissingSystemLibrary, require_libsodium

# command name → (module, attribute); a module is imported only when its command runs (or when
# help lists it), so `coffer backup` does not pay for the vault server's or PostgreSQL's imports.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("coffer.cli.init_cmd", "command"),
    "backup": ("coffer.cli.backup_cmd", "command"),
    "snapshots": ("coffer.cli.snapshots_cmd", "command"),
    "ls": ("coffer.cli.ls_cmd", "command"),
    "restore": ("coffer.cli.restore_cmd", "command"),
    "check": ("coffer.cli.check_cmd", "command"),
    "migrate": ("coffer.cli.migrate_cmd", "command"),
    "demo": ("coffer.cli.demo_cmd", "command"),
    "key": ("coffer.cli.key_cmd", "key"),
    "password": ("coffer.cli.password_cmd", "password"),
    "vault": ("coffer.cli.vault_cmd", "vault"),
    "forget": ("coffer.cli.lifecycle_cmds", "COMMANDS"),
    "prune": ("coffer.cli.lifecycle_cmds", "COMMANDS"),
    "unlock": ("coffer.cli.lifecycle_cmds", "COMMANDS"),
    "repair": ("coffer.cli.lifecycle_cmds", "COMMANDS"),
    "diff": ("coffer.cli.lifecycle_cmds", "COMMANDS"),
    "stats": ("coffer.cli.lifecycle_cmds", "COMMANDS"),
    "schedule": ("coffer.cli.schedule_cmd", "schedule"),
    "status": ("coffer.cli.status_cmd", "command"),
    "browse": ("coffer.cli.browse_cmd", "command"),
    "export": ("coffer.cli.export_cmd", "export"),
    "dump": ("coffer.cli.dump_cmd", "command"),
    "generate": ("coffer.cli.generate_cmd", "command"),
    "find": ("coffer.cli.find_cmd", "command"),
    "witness": ("coffer.cli.witness_cmd", "witness"),
}


class LazyGroup(_Polished, click.Group):
    """A click group that imports each command's module on first use (help: coffer.cli.help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        require_libsodium()  # every command module imports the crypto layer (pysodium)
        obj = getattr(importlib.import_module(spec[0]), spec[1])
        candidates = obj if isinstance(obj, list | tuple) else [obj]
        found = next((c for c in candidates if c.name == cmd_name), None)
        return polish(found) if found is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        try:
            super().format_commands(ctx, formatter)
        except MissingSystemLibrary as exc:  # names only: the modules cannot be imported
            with formatter.section("Commands"):
                formatter.write_dl([(name, "") for name in self.list_commands(ctx)])
            formatter.write_paragraph()
            formatter.write_text(str(exc))


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="coffer")
@click.option(
    "--accept-rollback",
    is_flag=True,
    help="for the command that follows: go on when storage shows an older state than this "
    "device or the witness has seen (see the command's own --accept-rollback)",
)
def cli(accept_rollback: bool) -> None:
    """End-to-end encrypted backups of chat histories."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (with ``--json``, errors are JSON lines too)."""
    as_json = "--json" in (sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=argv, prog_name="coffer", standalone_mode=False)
    except CofferError as exc:
        from coffer.cli.output import safe_text  # rich loads only when a message is shown

        return _fail(as_json, exc, exc.exit_code, f"coffer: error: {safe_text(str(exc))}")
    except click.exceptions.Abort as exc:
        return _fail(as_json, exc, EXIT_INTERRUPTED, "coffer: aborted")
    except click.ClickException as exc:
        if as_json:
            return _fail(True, exc, exc.exit_code, exc.format_message())
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _fail(as_json, exc, EXIT_INTERRUPTED, "coffer: interrupted")
    except BrokenPipeError:
        return 1
    except Exception as exc:
        if os.environ.get("COFFER_DEBUG"):
            traceback.print_exc()
        text = (
            f"coffer: internal error: {type(exc).__name__}: {exc} "
            "(this is a bug; rerun with COFFER_DEBUG=1 for details)"
        )
        return _fail(as_json, exc, 1, text)
    return 0


def _fail(as_json: bool, exc: BaseException, code: int, text: str) -> int:
    """Report the error that ends the command: one line of text, or one JSON line."""
    if as_json:
        from coffer.cli.jsonstream import fatal

        fatal(exc, code, text.removeprefix("coffer: "))
    else:
        click.echo(text, err=True)
    return code


def entry() -> None:
    sys.exit(main())
