"""The people and conversations of a generated chat store, derived from the spec alone.

Rules: the world (contacts, chats, group members, chat activity weights) is a pure function of
the spec, so ``apply_next_day`` rebuilds it without reading the database and picks chats with the
same skew the history had.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from coffer.sample.errors import BadSpec
from coffer.sample.spec import DAY_MS, ChatStoreSpec
from coffer.sample.text import display_name, group_subject, message_text


@dataclass(frozen=True)
class Chat:
    id: int
    is_group: bool
    members: tuple[int, ...]
    jid: str
    subject: str | None
    created_ms: int


class World:
    """Contacts, chats and how active each chat is."""

    def __init__(self, spec: ChatStoreSpec) -> None:
        groups = round(spec.chats * spec.group_share)
        if spec.chats - groups > spec.contacts:
            raise BadSpec("one-to-one chats (chats minus groups) exceed contacts")
        rng = random.Random(f"coffer-sample/{spec.seed}/world")
        self.spec = spec
        phones = rng.sample(range(10**10, 10**11), spec.contacts)
        self.contact_jids = [f"{p}@s.whatsapp.net" for p in phones]
        self._contact_rng_seed = rng.getrandbits(64)
        partners = rng.sample(range(1, spec.contacts + 1), spec.chats - groups)
        self.chats = [self._one_to_one(i + 1, c, rng) for i, c in enumerate(partners)]
        for gid in range(spec.chats - groups + 1, spec.chats + 1):
            self.chats.append(self._group(gid, rng))
        self.weights = [rng.paretovariate(1.2) for _ in self.chats]

    def _one_to_one(self, chat_id: int, contact: int, rng: random.Random) -> Chat:
        created = self.spec.history_start_ms - rng.randrange(400 * DAY_MS)
        return Chat(chat_id, False, (contact,), self.contact_jids[contact - 1], None, created)

    def _group(self, chat_id: int, rng: random.Random) -> Chat:
        size = min(self.spec.contacts, rng.randint(3, 40))
        members = tuple(sorted(rng.sample(range(1, self.spec.contacts + 1), size)))
        created = self.spec.history_start_ms - rng.randrange(400 * DAY_MS)
        jid = f"120363{chat_id:012d}@g.us"
        return Chat(chat_id, True, members, jid, group_subject(rng), created)

    def contact_rows(self) -> Iterator[tuple[object, ...]]:
        rng = random.Random(self._contact_rng_seed)
        for i, jid in enumerate(self.contact_jids, start=1):
            status = message_text(rng) if rng.random() < 0.6 else None
            photo = self.spec.history_start_ms - rng.randrange(900 * DAY_MS)
            yield (i, jid, display_name(rng), status, photo if rng.random() < 0.7 else None)

    def chat_rows(self) -> Iterator[tuple[object, ...]]:
        for c in self.chats:
            yield (c.id, c.jid, c.subject, int(c.is_group), c.created_ms, None, 0)

    def participant_rows(self) -> Iterator[tuple[int, int, int]]:
        for c in self.chats:
            if c.is_group:
                for position, member in enumerate(c.members):
                    yield (c.id, member, int(position == 0))

    def pick_chats(self, rng: random.Random, count: int) -> list[Chat]:
        return rng.choices(self.chats, weights=self.weights, k=count)
