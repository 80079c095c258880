"""Which witness a repository uses, and the link :func:`coffer.freshness.guard.guard` talks to.

Rules (the witness of a repository, first that applies):
1. The repository's own setting (``coffer init --witness URL``, ``coffer witness set URL``,
   ``coffer witness remove``): stored in the config's sealed parameters, so the provider can
   neither forge nor alter it — only put back an older config (docs/threat-model.md says what
   that buys it).
2. A repository with a password slot: the key vault that slot names (``--vault`` overrides it,
   as for unlocking) — the vault is already trusted with the guess limit and already contacted
   during a password restore.
3. The witness this device's record remembers (a config put back to before ``witness set``
   does not make a device that knew the witness forget it).
Otherwise there is no witness: same-device protection only.

The witness is a Coffer key vault; its key is pinned as the vault client pins it (the slot's
fingerprint, else trust on first use in known-vaults.json), through the same client
(:func:`coffer.unlock.vault_route.vault_client`), so tests' in-process vaults and real ones are
reached the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coffer.crypto.slots import SlotInfo, SlotKind
from coffer.engine.repository import Repository
from coffer.engine.snapshot import ForgetRecord, Snapshot
from coffer.errors import CofferError
from coffer.freshness.check import Known
from coffer.freshness.witness_proto import WitnessKeys, WitnessRow
from coffer.unlock.settings import VaultTarget

if TYPE_CHECKING:
    from coffer.freshness.witness_client import WitnessClient

NO_WITNESS = "none"  # the repository setting of ``coffer witness remove``


class WitnessLink:
    """A witness as the guard uses it: rows as :class:`~coffer.freshness.check.Known`, updates
    by object ID. The link is lazy: nothing is sent before the first read or update."""

    def __init__(self, url: str, keys: WitnessKeys, key: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._keys = keys
        self._key = key
        self._client: WitnessClient | None = None

    def __repr__(self) -> str:
        return f"WitnessLink({self.url!r})"

    def _connect(self) -> WitnessClient:
        if self._client is None:  # httpx and the vault client only when a witness is used
            from coffer.freshness.witness_client import WitnessClient
            from coffer.unlock import vault_route

            self._client = WitnessClient.over(vault_route.vault_client(self.url, self._key))
        return self._client

    def read(self) -> list[tuple[str, Known]]:
        rows = self._connect().read_signed(self._keys)
        return [
            (r.row.writer, Known(r.row.seq, "witness", digest=r.row.digest, since=r.updated))
            for r in rows
        ]

    def update(self, writer: str, seq: int, object_id: str) -> None:
        row = WitnessRow(writer, seq, self._keys.digest(object_id))
        self._connect().update(self._keys, row)

    def digest(self, object_id: str) -> bytes:
        return self._keys.digest(object_id)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def witness_url(
    repo: Repository, slots: list[SlotInfo], target: VaultTarget, remembered: str | None
) -> tuple[str | None, str | None]:
    """The witness URL (module rules) and the vault key pin to use for it (or None)."""
    setting = repo.params.witness
    if setting == NO_WITNESS:
        return None, None
    vault = _vault_of(slots, target)
    if setting:
        pin = vault[1] if vault is not None and vault[0] == setting.rstrip("/") else None
        return setting, pin
    if vault is not None:
        return vault
    return remembered, None


def _vault_of(slots: list[SlotInfo], target: VaultTarget) -> tuple[str, str | None] | None:
    from coffer.unlock import vault_route

    if not any(s.kind == SlotKind.VAULT for s in slots):
        return None
    routes = vault_route.routes_for(slots, target)
    if not routes:
        return None
    route = sorted(routes, key=lambda r: (r.url, r.account))[0]
    return route.url.rstrip("/"), route.key


def link_for(
    repo: Repository, slots: list[SlotInfo], target: VaultTarget, remembered: str | None
) -> WitnessLink | None:
    """The repository's witness link, or None (module rules)."""
    url, key = witness_url(repo, slots, target, remembered)
    if not url:
        return None
    return WitnessLink(url, repo.derive(WitnessKeys.derive), key)


def catch_up(repo: Repository, link: WitnessLink) -> tuple[int, list[str]]:
    """Report every writer's newest object storage shows to ``link`` (``witness set``: a new
    witness learns the current state at once); return how many rows went, and the failures."""
    newest: dict[str, tuple[int, str]] = {}
    listing = repo.list_manifests()
    objects: list[Snapshot | ForgetRecord] = [*listing.snapshots.values()]
    objects += listing.forgets.values()
    for obj in objects:
        if obj.writer and obj.seq > newest.get(obj.writer, (0, ""))[0]:
            newest[obj.writer] = (obj.seq, obj.id)
    failed = []
    for writer, (seq, oid) in sorted(newest.items()):
        try:
            link.update(writer, seq, oid)
        except CofferError as exc:
            failed.append(f"writer {writer[:8]}: {exc}")
    return len(newest) - len(failed), failed
