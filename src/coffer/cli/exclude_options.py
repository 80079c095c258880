"""The backup flags restic users know for leaving things out, as one decorator.

``--exclude``, ``--iexclude``, ``--exclude-file``, ``--iexclude-file``, ``--exclude-caches`` and
``--one-file-system`` become one :class:`~coffer.ops.exclude.ExcludeRules` keyword argument
``exclude`` of the decorated command; the matching rules are in :mod:`coffer.ops.exclude`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from coffer.ops.exclude import ExcludeRules

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(exists=False, dir_okay=False, path_type=Path)


def exclude_options(func: F) -> F:
    """Add the exclude flags; the command receives ``exclude: ExcludeRules``."""

    @click.option(
        "-e",
        "--exclude",
        "patterns",
        multiple=True,
        metavar="PATTERN",
        help="leave out paths matching PATTERN (repeatable; e.g. '*.tmp', '/abs/dir', '**/cache')",
    )
    @click.option(
        "--iexclude",
        "ipatterns",
        multiple=True,
        metavar="PATTERN",
        help="like --exclude, ignoring case",
    )
    @click.option(
        "--exclude-file",
        "pattern_files",
        multiple=True,
        type=_FILE,
        metavar="FILE",
        help="read exclude patterns from FILE, one per line ('#' starts a comment)",
    )
    @click.option(
        "--iexclude-file",
        "ipattern_files",
        multiple=True,
        type=_FILE,
        metavar="FILE",
        help="like --exclude-file, ignoring case",
    )
    @click.option(
        "--exclude-caches",
        is_flag=True,
        help="leave out the contents of folders holding a CACHEDIR.TAG (the tag file stays)",
    )
    @click.option(
        "-x",
        "--one-file-system",
        is_flag=True,
        help="do not cross into other file systems (mount points are kept, empty)",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        patterns: tuple[str, ...],
        ipatterns: tuple[str, ...],
        pattern_files: tuple[Path, ...],
        ipattern_files: tuple[Path, ...],
        exclude_caches: bool,
        one_file_system: bool,
        **kw: Any,
    ) -> Any:
        rules = ExcludeRules.build(
            patterns, ipatterns, pattern_files, ipattern_files,
            exclude_caches=exclude_caches, one_file_system=one_file_system,
        )  # fmt: skip
        return func(*args, exclude=rules, **kw)

    return wrapper  # type: ignore[return-value]
