"""How ``--help`` reads: a command's own options first, the shared ones after, nothing cut off.

Rules:
- Every command's help lists its own options under "Options" and the options every repository
  command shares (:func:`coffer.cli.context.common_options`: the repository address, keys,
  vault, bandwidth, output) under "Common options", after them.
- A group's list of subcommands shows each one's whole first sentence, wrapped — never cut
  with "…" as click does by default.
- Nothing here changes what a command accepts: only the order of ``params`` (options are parsed
  by name; the arguments keep their relative order) and how help is written.

Theory of operation: :func:`polish` gives each command object (and, recursively, a group's
subcommands) a subclass of its own class that overrides click's two formatting methods; the
command modules stay plain click.
"""

from __future__ import annotations

import functools

import click

COMMON_HEADING = "Common options"


@functools.cache
def shared_names() -> frozenset[str]:
    """The parameter names :func:`~coffer.cli.context.common_options` adds."""
    from coffer.cli.context import common_options

    def probe(opts: object) -> None:
        return None

    return frozenset(str(p.name) for p in click.command()(common_options(probe)).params)


def shared_of(cmd: click.Command) -> frozenset[str]:
    """The common options ``cmd`` has: all of them if it uses ``common_options``, else none
    (a command with a ``--json`` of its own keeps it among its own options)."""
    shared = shared_names()
    return shared if shared <= {p.name for p in cmd.params} else frozenset()


class _Polished:
    """Mixed in before the command's own class (see :func:`polish`)."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        own: list[tuple[str, str]] = []
        common: list[tuple[str, str]] = []
        assert isinstance(self, click.Command)
        shared = shared_of(self)
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None or isinstance(param, click.Argument):
                continue
            (common if param.name in shared else own).append(record)
        for heading, rows in (("Options", own), (COMMON_HEADING, common)):
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)
        if isinstance(self, click.Group):
            self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        assert isinstance(self, click.Group)
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1 << 16)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


_SUBCLASSES: dict[type[click.Command], type[click.Command]] = {}


def _subclass(base: type[click.Command]) -> type[click.Command]:
    if base not in _SUBCLASSES:
        _SUBCLASSES[base] = type(base.__name__, (_Polished, base), {"__module__": base.__module__})
    return _SUBCLASSES[base]


def polish(cmd: click.Command) -> click.Command:
    """Give ``cmd`` (and its subcommands) the help layout of the module rules; return it."""
    if not isinstance(cmd, _Polished):
        cmd.__class__ = _subclass(type(cmd))
        shared = shared_of(cmd)
        cmd.params.sort(key=lambda p: p.name in shared)  # stable: each part keeps its order
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            polish(sub)
    return cmd
