"""The generator's parameters and its result record.

Rules: a spec is immutable and validated on construction; every size it implies is a function of
the spec alone, so the same spec always yields the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from coffer.sample.errors import BadSpec

DAY_MS = 86_400_000
"""One day in milliseconds (message timestamps are Unix milliseconds, as in chat apps)."""

EPOCH_MS = 1_700_000_000_000
"""Base of the history's end time; the seed shifts it by whole days (never the clock)."""


@dataclass(frozen=True)
class ChatStoreSpec:
    """Shape of a generated chat store; defaults are the demo size (~100k messages, ~80 MB media).

    ``bench()`` gives issue 7's benchmark size (~500k messages, ~140 MB database, ~550 MB media).
    """

    seed: int = 1
    messages: int = 100_000
    contacts: int = 600
    chats: int = 250
    media_bytes: int = 80_000_000
    voice_range: tuple[int, int] = (20_000, 200_000)
    photo_range: tuple[int, int] = (100_000, 3_000_000)
    photo_share: float = 0.3
    """Fraction of media files that are photos (the rest are voice notes)."""
    group_share: float = 0.15
    """Fraction of chats that are groups."""
    history_days: int = 365
    next_day_share: float = 0.01
    """New messages per next day, as a fraction of ``messages``."""
    next_day_status_updates: int = 300
    next_day_media: int = 20

    def __post_init__(self) -> None:
        checks = [
            (self.messages >= 1, "messages must be >= 1"),
            (self.contacts >= 2, "contacts must be >= 2"),
            (self.chats >= 1, "chats must be >= 1"),
            (self.media_bytes >= 0, "media_bytes must be >= 0"),
            (_valid_range(self.voice_range), "voice_range must be 64 <= low <= high"),
            (_valid_range(self.photo_range), "photo_range must be 64 <= low <= high"),
            (0.0 <= self.photo_share <= 1.0, "photo_share must be in [0, 1]"),
            (0.0 <= self.group_share <= 1.0, "group_share must be in [0, 1]"),
            (self.history_days >= 1, "history_days must be >= 1"),
            (0.0 <= self.next_day_share <= 1.0, "next_day_share must be in [0, 1]"),
            (self.next_day_status_updates >= 0, "next_day_status_updates must be >= 0"),
            (self.next_day_media >= 0, "next_day_media must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadSpec(message)

    @classmethod
    def bench(cls, seed: int = 1) -> ChatStoreSpec:
        """Issue 7's benchmark size: ~500k messages (~140 MB database) and ~550 MB of media."""
        return cls(seed=seed, messages=500_000, contacts=2_000, chats=800, media_bytes=550_000_000)

    @property
    def history_end_ms(self) -> int:
        """End of the history; next day ``d`` covers ``[end + (d-1) day, end + d day)``."""
        return EPOCH_MS + (self.seed % 997) * DAY_MS

    @property
    def history_start_ms(self) -> int:
        return self.history_end_ms - self.history_days * DAY_MS

    @property
    def next_day_messages(self) -> int:
        return max(1, round(self.messages * self.next_day_share))


def _valid_range(pair: tuple[int, int]) -> bool:
    low, high = pair
    return 64 <= low <= high


@dataclass(frozen=True)
class GenerateStats:
    """What one generator call added (counts are additions, sizes are totals after the call)."""

    messages: int
    receipts: int
    status_updates: int
    media_files: int
    media_bytes: int
    db_bytes: int
    seconds: float
    reactions: int = 0
