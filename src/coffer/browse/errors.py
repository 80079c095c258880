"""Errors of the chat browser (tree drawn in :mod:`coffer.browse`)."""

from __future__ import annotations

from coffer.errors import CofferError, UsageError


class BrowseError(CofferError):
    """The browser or the exporter could not do what was asked."""


class NothingToBrowse(BrowseError, UsageError):
    """The snapshot holds no database to show, or the export target is not usable."""


class NotFound(BrowseError):
    """A snapshot, source, chat or file named by a URL does not exist (HTTP 404)."""


class BadRequest(BrowseError, UsageError):
    """A query parameter is malformed (HTTP 400)."""
