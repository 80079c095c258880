"""The one table of app adapters, tried in order; the generic table browser comes last.

Adding an app: write ``adapters/<app>.py`` with a subclass of
:class:`~coffer.browse.adapters.base.ChatAdapter` (its ``recognise`` looks at table and column
names) and add one line to :data:`REGISTRY`.
"""

from __future__ import annotations

from coffer.browse.adapters.base import Adapter, ChatAdapter
from coffer.browse.adapters.generic import GenericAdapter
from coffer.browse.adapters.imessage import IMessageAdapter
from coffer.browse.adapters.sample import SampleAdapter
from coffer.browse.adapters.telegram import TelegramAdapter
from coffer.browse.adapters.whatsapp import WhatsAppAdapter
from coffer.browse.db import Database, Probe

REGISTRY: tuple[type[Adapter], ...] = (
    SampleAdapter,
    WhatsAppAdapter,
    IMessageAdapter,
    TelegramAdapter,
    GenericAdapter,  # recognises every SQLite database: keep it last
)


def adapter_for(db: Database) -> Adapter:
    """The first adapter in :data:`REGISTRY` that recognises ``db``'s schema."""
    probe = Probe.of(db)
    for cls in REGISTRY:
        if cls.recognise(probe):
            return cls(db)
    return GenericAdapter(db)


__all__ = ["REGISTRY", "Adapter", "ChatAdapter", "adapter_for"]
