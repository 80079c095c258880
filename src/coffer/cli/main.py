"""Entry point of the ``coffer`` command and its error handling.

Every :class:`~coffer.errors.CofferError` ends as one line on stderr and its ``exit_code``;
click's usage errors exit 2; Ctrl-C exits 130. Anything else is a bug: one line naming the
exception type, and the traceback only with ``COFFER_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from coffer import __version__
from coffer.errors import EXIT_INTERRUPTED, CofferError
from coffer.system_check import require_libsodium


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coffer")
def cli() -> None:
    """End-to-end encrypted backups of chat histories."""


def _register() -> None:
    from coffer.cli import (
        backup_cmd,
        check_cmd,
        demo_cmd,
        init_cmd,
        ls_cmd,
        restore_cmd,
        snapshots_cmd,
    )

    for module in (init_cmd, backup_cmd, snapshots_cmd, ls_cmd, restore_cmd, check_cmd, demo_cmd):
        cli.add_command(module.command)
    _register_optional()


def _register_optional() -> None:
    """Commands owned by other packages; each is added when its module exists."""
    import importlib

    for module_name, attr in (
        ("coffer.cli.vault_cmd", "vault"),
        ("coffer.cli.key_cmd", "key"),
        ("coffer.cli.password_cmd", "password"),
        ("coffer.cli.lifecycle_cmds", "COMMANDS"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        obj = getattr(module, attr)
        for command in obj if isinstance(obj, list | tuple) else [obj]:
            cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    try:
        require_libsodium()
        _register()
        cli.main(args=argv, prog_name="coffer", standalone_mode=False)
    except CofferError as exc:
        click.echo(f"coffer: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("coffer: aborted", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("coffer: interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1
    except Exception as exc:
        if os.environ.get("COFFER_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"coffer: internal error: {type(exc).__name__}: {exc} "
            "(this is a bug; rerun with COFFER_DEBUG=1 for details)",
            err=True,
        )
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
