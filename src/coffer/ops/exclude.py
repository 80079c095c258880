"""What a backup leaves out: restic's ``--exclude``, ``--iexclude``, ``--exclude-file``,
``--exclude-caches`` and ``--one-file-system``, with restic's meaning.

Rules:
- A pattern is matched against the absolute path of every entry the walk meets, component by
  component (``/`` separates components). Within a component ``*`` matches any run of
  characters, ``?`` one character, ``[a-z]`` / ``[^a-z]`` a class, and ``\\`` escapes the next
  character (Go's ``filepath.Match``, which restic uses). ``**`` as a whole component matches
  any number of components, none included.
- A pattern that starts with ``/`` is anchored at the root; any other pattern matches anywhere
  in the path: ``*.tmp`` excludes every ``.tmp`` entry, ``cache/thumbs`` every ``thumbs`` in a
  ``cache`` folder. An excluded folder is not entered, so nothing below it is stored.
- ``--iexclude`` patterns ignore case (both sides are case-folded).
- An exclude file holds one pattern per line; surrounding blanks are dropped, empty lines and
  lines starting with ``#`` are ignored, ``$VAR`` and ``${VAR}`` are expanded from the
  environment.
- ``--exclude-caches``: a folder holding a ``CACHEDIR.TAG`` file that starts with the standard
  signature (https://bford.info/cachedir/) keeps only that tag file.
- ``--one-file-system``: a folder on another file system than the folder that holds it (a mount
  point) is stored as an empty folder; a file on another file system (a bind mount) is left out.
  The sources themselves are always stored.
- Negated patterns (``!pattern``, restic 0.16) are not supported: they are refused, not
  silently treated as plain patterns.

Theory of operation: patterns compile once to per-component regular expressions (pure); the
walk in :mod:`coffer.ops.backup` asks :meth:`ExcludeRules.children` which names of a folder to
visit and :meth:`ExcludeRules.crosses_device` whether a folder is a mount point. The only I/O
here is reading a candidate ``CACHEDIR.TAG`` and ``lstat`` of a parent folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from coffer.errors import UsageError

CACHEDIR_TAG = "CACHEDIR.TAG"
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
_DOUBLESTAR = None  # a ``**`` component in a compiled pattern


def _translate(component: str) -> str:
    """One pattern component (Go ``filepath.Match`` syntax) as a regular expression."""
    out, i, n = [], 0, len(component)
    while i < n:
        ch = component[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i == n:
                raise UsageError(f"exclude pattern component {component!r} ends with '\\'")
            out.append(re.escape(component[i]))
            i += 1
        elif ch == "[":
            body, i = _class_body(component, i)
            out.append(body)
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _class_body(component: str, i: int) -> tuple[str, int]:
    """The character class starting after ``[`` at ``i``: its regex and the index after ``]``."""
    out = ["["]
    if component[i : i + 1] == "^":
        out.append("^")
        i += 1
    start = i
    while i < len(component) and component[i] != "]":
        ch = component[i]
        if ch == "\\":
            i += 1
            if i == len(component):
                break
            out.append(re.escape(component[i]))
        else:
            out.append(ch if ch == "-" else re.escape(ch))
        i += 1
    if i >= len(component) or i == start:
        raise UsageError(f"exclude pattern component {component!r} has a bad '[…]' class")
    out.append("]")
    return "".join(out), i + 1


@dataclass(frozen=True)
class Pattern:
    """A compiled exclude pattern."""

    text: str
    anchored: bool
    parts: tuple[re.Pattern[str] | None, ...]
    fold_case: bool = False

    @classmethod
    def compile(cls, text: str, *, fold_case: bool = False) -> Pattern:
        if not text.strip():
            raise UsageError("an exclude pattern is empty")
        if text.startswith("!"):
            raise UsageError(f"negated exclude patterns are not supported: {text!r}")
        source = text.casefold() if fold_case else text
        anchored = source.startswith("/")
        pieces = [p for p in source.strip("/").split("/") if p not in ("", ".")]
        parts = tuple(
            _DOUBLESTAR if p == "**" else re.compile(_translate(p), re.DOTALL) for p in pieces
        )
        return cls(text, anchored, parts, fold_case)

    def matches(self, components: list[str]) -> bool:
        """Whether the pattern matches a run of ``components`` (anchored: from the first)."""
        starts = [0] if self.anchored else range(len(components))
        return any(_match_from(self.parts, components, s) for s in starts)


def _match_from(parts: tuple[re.Pattern[str] | None, ...], comps: list[str], at: int) -> bool:
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    if head is _DOUBLESTAR:
        return any(_match_from(rest, comps, j) for j in range(at, len(comps) + 1))
    return (
        at < len(comps)
        and head.fullmatch(comps[at]) is not None
        and _match_from(rest, comps, at + 1)
    )


def read_pattern_file(path: Path) -> list[str]:
    """The patterns of an exclude file (module rules: comments, blanks, ``$VAR``)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read exclude file {path}: {exc.strerror}") from None
    text = raw.decode("utf-8", "surrogateescape")
    lines = (line.strip() for line in text.splitlines())
    return [os.path.expandvars(line) for line in lines if line and not line.startswith("#")]


def is_cachedir_tag(head: bytes) -> bool:
    """Whether the first bytes of a ``CACHEDIR.TAG`` file carry the standard signature."""
    return head.startswith(CACHEDIR_SIGNATURE)


@dataclass
class ExcludeRules:
    """Everything a backup is told to leave out; the empty rules exclude nothing."""

    patterns: list[Pattern] = field(default_factory=list)
    exclude_caches: bool = False
    one_file_system: bool = False
    _devices: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        exclude: Iterable[str] = (),
        iexclude: Iterable[str] = (),
        exclude_files: Iterable[Path] = (),
        iexclude_files: Iterable[Path] = (),
        *,
        exclude_caches: bool = False,
        one_file_system: bool = False,
    ) -> ExcludeRules:
        plain = [*exclude, *(p for f in exclude_files for p in read_pattern_file(f))]
        folded = [*iexclude, *(p for f in iexclude_files for p in read_pattern_file(f))]
        patterns = [Pattern.compile(p) for p in plain]
        patterns += [Pattern.compile(p, fold_case=True) for p in folded]
        return cls(patterns, exclude_caches, one_file_system)

    @property
    def empty(self) -> bool:
        return not (self.patterns or self.exclude_caches or self.one_file_system)

    def excludes(self, path: str) -> bool:
        """Whether an absolute ``path`` matches an exclude pattern (pure)."""
        if not self.patterns:
            return False
        comps = [c for c in path.split("/") if c]
        folded = [c.casefold() for c in comps]
        return any(p.matches(folded if p.fold_case else comps) for p in self.patterns)

    def children(self, folder: str, names: Iterable[str]) -> list[str]:
        """The names in ``folder`` the walk should visit, in the given order."""
        names = list(names)
        if self.exclude_caches and CACHEDIR_TAG in names and _tagged(folder):
            names = [CACHEDIR_TAG]
        return [n for n in names if not self.excludes(os.path.join(folder, n))]

    def subfolders(self, folder: str, names: Iterable[str]) -> list[str]:
        """:meth:`children` for folders, without mount points (the pre-walk that sizes work)."""
        kept = self.children(folder, names)
        if not self.one_file_system:
            return kept
        return [n for n in kept if not self._mount_point(os.path.join(folder, n))]

    def _mount_point(self, path: str) -> bool:
        try:
            return self.crosses_device(path, os.lstat(path).st_dev)
        except OSError:
            return False

    def crosses_device(self, path: str, st_dev: int) -> bool:
        """``--one-file-system``: whether ``path`` lies on another device than its folder."""
        if not self.one_file_system:
            return False
        parent = os.path.dirname(path)
        dev = self._devices.get(parent)
        if dev is None:
            try:
                dev = os.lstat(parent).st_dev
            except OSError:
                return False
            self._devices[parent] = dev
        return dev != st_dev


def _tagged(folder: str) -> bool:
    try:
        with open(os.path.join(folder, CACHEDIR_TAG), "rb") as fh:
            return is_cachedir_tag(fh.read(len(CACHEDIR_SIGNATURE)))
    except OSError:
        return False
