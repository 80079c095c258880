"""Man pages from the CLI itself: one roff page per command, written by ``coffer generate``.

Rules:
- The pages say what ``--help`` says — the same text, the same split into a command's own
  options and the common ones (:mod:`coffer.cli.help`) — so they cannot drift from the code.
- ``coffer(1)`` lists the commands, the environment variables and the exit codes;
  ``coffer-<command>(1)`` (``coffer-vault-serve(1)`` for a subcommand) each command.
- The date is ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else today.
- Text is escaped for roff: backslashes, non-ASCII characters, and lines that would start
  with ``.`` or ``'``.

Sans-I/O: :func:`pages` returns ``{file name: roff text}``; the command writes them.
"""

from __future__ import annotations

import inspect
import os
import time
from collections import deque
from collections.abc import Iterator

import click

from coffer import __version__
from coffer.cli.help import shared_of

ENVIRONMENT = [
    ("COFFER_REPO", "the repository address (like --repo)"),
    ("COFFER_REPOSITORY_FILE", "a file holding the repository address"),
    ("COFFER_RECOVERY_KEY", "the recovery key"),
    ("COFFER_RECOVERY_KEY_COMMAND", "a command printing the recovery key"),
    ("COFFER_PASSWORD", "the password"),
    ("COFFER_PASSWORD_COMMAND", "a command printing the password"),
    ("COFFER_VAULT, COFFER_ACCOUNT, COFFER_VAULT_KEY", "the key vault, account and pinned key"),
    ("COFFER_DEBUG", "print a traceback for unexpected errors"),
]


def exit_codes() -> list[tuple[int, str]]:
    """Every exit code and what it means: the first line of the topmost error class that
    carries it (so the page follows the exception tree, wherever a code is added)."""
    import coffer.backends.base  # noqa: F401 - defines BackendError (exit code 14)
    from coffer.errors import EXIT_INTERRUPTED, CofferError

    rows = {0: "success", 1: "unexpected error (a bug: please report it)"}
    queue = deque(CofferError.__subclasses__())
    while queue:
        cls = queue.popleft()
        if cls.exit_code not in rows:
            first = inspect.cleandoc(cls.__doc__ or cls.__name__).split("\n\n")[0]
            rows[cls.exit_code] = " ".join(first.split())
        queue.extend(cls.__subclasses__())
    rows[EXIT_INTERRUPTED] = "interrupted (Ctrl-C)"
    return sorted(rows.items())


def escape(text: str) -> str:
    """``text`` safe as roff body text (no request or escape can be smuggled in); characters
    beyond ASCII become ``\\[uXXXX]``, which groff and mandoc read whatever the locale."""
    text = text.replace("\\", "\\e")
    text = "".join(ch if ord(ch) < 128 else f"\\[u{ord(ch):04X}]" for ch in text)
    out = []
    for line in text.splitlines():
        out.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(out)


def _paragraphs(help_text: str) -> str:
    """A docstring (click strips ``\\f`` and what follows) as roff paragraphs."""
    body = inspect.cleandoc(help_text).partition("\f")[0]
    return "\n.PP\n".join(escape(p) for p in body.split("\n\n") if p.strip())


def _option(flag: str) -> str:
    return escape(flag).replace("-", "\\-")


def _header(name: str) -> str:
    stamp = os.environ.get("SOURCE_DATE_EPOCH")
    when = time.gmtime(int(stamp)) if stamp and stamp.isdigit() else time.gmtime()
    date = time.strftime("%Y-%m-%d", when)
    return f'.TH "{name.upper()}" 1 "{date}" "coffer {__version__}" "Coffer Manual"\n'


def _records(ctx: click.Context) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    own: list[tuple[str, str]] = []
    common: list[tuple[str, str]] = []
    shared = shared_of(ctx.command)
    for param in ctx.command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is not None and not isinstance(param, click.Argument):
            (common if param.name in shared else own).append(record)
    return own, common


def _options_section(title: str, rows: list[tuple[str, str]]) -> str:
    if not rows:
        return ""
    body = "".join(f".TP\n.B {_option(flag)}\n{escape(text)}\n" for flag, text in rows)
    return f".SH {title}\n{body}"


def command_page(ctx: click.Context) -> str:
    cmd = ctx.command
    path = ctx.command_path  # "coffer vault serve"
    short = cmd.get_short_help_str(limit=1 << 16)
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    own, common = _records(ctx)
    text = _header(path.replace(" ", "-"))
    text += f".SH NAME\n{path.replace(' ', '-')} \\- {escape(short)}\n"
    text += f".SH SYNOPSIS\n.B {escape(path)}\n{escape(usage)}\n"
    text += f".SH DESCRIPTION\n{_paragraphs(cmd.help or short)}\n"
    if isinstance(cmd, click.Group):
        rows = [(n, c.get_short_help_str(limit=1 << 16)) for n, c in _subcommands(ctx)]
        text += _options_section("COMMANDS", rows)
    text += _options_section("OPTIONS", own)
    text += _options_section("COMMON OPTIONS", common)
    if ctx.parent is None:
        text += _options_section("ENVIRONMENT", ENVIRONMENT)
        text += _options_section("EXIT STATUS", [(str(c), m) for c, m in exit_codes()])
        text += ".SH SEE ALSO\nThe README and docs/ of the Coffer sources; docs/cli.md.\n"
    else:
        text += ".SH SEE ALSO\n.BR coffer (1)\n"
    return text


def _subcommands(ctx: click.Context) -> Iterator[tuple[str, click.Command]]:
    group = ctx.command
    assert isinstance(group, click.Group)
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            yield name, sub


def pages(root: click.Command, name: str = "coffer") -> dict[str, str]:
    """Every page: ``{"coffer.1": …, "coffer-backup.1": …, "coffer-vault-serve.1": …}``."""
    out: dict[str, str] = {}

    def visit(ctx: click.Context) -> None:
        out[ctx.command_path.replace(" ", "-") + ".1"] = command_page(ctx)
        if isinstance(ctx.command, click.Group):
            for sub_name, sub in _subcommands(ctx):
                visit(click.Context(sub, info_name=sub_name, parent=ctx))

    visit(click.Context(root, info_name=name))
    return out
