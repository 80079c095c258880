"""Errors of the sample chat-store generator (tree drawn in :mod:`coffer.sample`)."""

from __future__ import annotations

from coffer.errors import CofferError, UsageError


class SampleError(CofferError):
    """The sample generator could not do what was asked."""


class BadSpec(SampleError, UsageError):
    """A :class:`~coffer.sample.ChatStoreSpec` field is out of range."""


class StoreExists(SampleError, UsageError):
    """``generate_chat_store`` refuses to overwrite an existing ``msgstore.db``."""


class NotAChatStore(SampleError, UsageError):
    """``apply_next_day`` found no generated chat store (or one made by another format)."""
