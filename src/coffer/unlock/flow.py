"""Choosing the route that opens a repository: a given recovery key, a given password (through
the key vault), a remembered key, or a person asked through a :class:`Prompter`.

Rules (the order is the contract; the CLI and the Python API both come through here):

1. A recovery key from the :class:`SecretSource` is parsed first, so a typo is reported (by its
   checksum) before the repository's key slots are read.
2. Otherwise a password from the source goes to the vault route; without one, a key kept by
   ``--remember`` is tried; without that, the prompter is asked for the password (an empty
   answer means "the recovery key instead" when the repository has that slot), and last for
   the recovery key. Nobody to ask is :class:`NoSecret`. The password route's guesses — what
   is refused before one is spent, when to ask again, the stale-password guard — are
   :class:`~coffer.unlock.password_route.PasswordRoute`'s.
3. With ``remember=True`` the secret that opened the repository (R or V, never M) is kept by
   :mod:`coffer.unlock.remember`; :attr:`Unlocked.remembered_in` says where, for a notice.
4. Every opened repository then goes through the freshness check
   (:func:`coffer.freshness.guard.guard`; :attr:`Unlocked.freshness` is its report): storage
   that shows an older state than this device or the witness has seen is
   :class:`~coffer.errors.FreshnessError` unless the caller accepts the rollback.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from coffer.backends.base import Backend
from coffer.crypto.recovery import RecoveryKey
from coffer.crypto.slots import SlotInfo, SlotKind
from coffer.engine.repository import Repository, list_slots, read_config_header
from coffer.errors import WrongKey
from coffer.freshness.guard import FreshnessOptions, FreshnessReport, guard
from coffer.freshness.record import RecordStore
from coffer.freshness.witness_link import WitnessLink, link_for
from coffer.unlock import remember
from coffer.unlock.errors import NoSecret
from coffer.unlock.secrets import Prompter, SecretSource
from coffer.unlock.settings import VaultTarget


@dataclass(frozen=True)
class Unlocked:
    """An opened repository, the kind of slot that opened it, and where ``remember`` kept it."""

    repository: Repository
    kind: SlotKind
    remembered_in: str | None = None
    freshness: FreshnessReport | None = None


@dataclass(frozen=True)
class _Slots:
    backend: Backend
    repo_id: bytes
    slots: list[SlotInfo]

    @property
    def has_vault(self) -> bool:
        return any(s.kind == SlotKind.VAULT for s in self.slots)

    @property
    def has_recovery(self) -> bool:
        return any(s.kind == SlotKind.RECOVERY for s in self.slots)


def open_repository(
    backend: Backend,
    secrets: SecretSource,
    prompter: Prompter,
    target: VaultTarget,
    remember_key: bool = False,
    freshness: FreshnessOptions | None = None,
) -> Unlocked:
    """Open the repository at ``backend`` by the first route that applies (module rules), then
    check its freshness (``freshness``: how; by default warnings go to :mod:`warnings`)."""
    opened = _open(backend, secrets, prompter, target, remember_key)
    options = freshness or FreshnessOptions()
    repo = opened.repository
    if options.witness is None and repo.format_version >= 2:
        options = replace(options, witness=_witness(repo, target))
    report = guard(repo, options)
    return replace(opened, freshness=report)


def _witness(repo: Repository, target: VaultTarget) -> WitnessLink | None:
    """The repository's witness (:mod:`coffer.freshness.witness_link`: its own setting, else
    its password slot's vault, else the one this device remembers)."""
    remembered = RecordStore(repo.repo_id).load()
    url = remembered.witness if remembered is not None else None
    return link_for(repo, list_slots(repo.backend), target, url)


def _open(
    backend: Backend,
    secrets: SecretSource,
    prompter: Prompter,
    target: VaultTarget,
    remember_key: bool,
) -> Unlocked:
    given = secrets.recovery_key()
    key = RecoveryKey.parse(given.value.decode("utf-8")) if given is not None else None
    header, _sealed = read_config_header(backend)
    if key is None:
        found = _Slots(backend, header[5:], list_slots(backend))
        opened = _other_routes(found, secrets, prompter, target)
        if opened is not None:
            return _keep(*opened, asked=remember_key)
        key = _ask_recovery_key(found, prompter)
    repo = Repository.open(backend, SlotKind.RECOVERY, key.secret)
    return _keep(repo, SlotKind.RECOVERY, key.secret, asked=remember_key)


def _keep(repo: Repository, kind: SlotKind, secret: bytes | None, asked: bool) -> Unlocked:
    """``remember``: store the slot secret (never by default; a remembered one is not rewritten)."""
    if not asked or secret is None:
        return Unlocked(repo, kind)
    return Unlocked(repo, kind, remember.keep(repo.repo_id, kind, secret))


def _other_routes(
    found: _Slots, secrets: SecretSource, prompter: Prompter, target: VaultTarget
) -> tuple[Repository, SlotKind, bytes | None] | None:
    """Open without a recovery key if possible; None means "use the recovery-key route"."""
    if not secrets.offers_password():
        if (kept := _try_remembered(found)) is not None:
            return kept[0], kept[1], None
        if not found.has_vault:
            return None
        if not prompter.can_ask():
            raise NoSecret(_no_secret_message(found.has_recovery))
    from coffer.unlock.password_route import PasswordRoute  # the vault client only when needed

    route = PasswordRoute(found.repo_id, found.slots, target)
    secret = route.recover(secrets, prompter, recovery_fallback=True)
    if secret is None:
        return None
    return Repository.open(found.backend, SlotKind.VAULT, secret), SlotKind.VAULT, secret


def _no_secret_message(has_recovery: bool) -> str:
    if has_recovery:
        return (
            "no key given: use --password-file, --password-command or COFFER_PASSWORD for "
            "the password, or --recovery-key-file, --recovery-key-command or "
            "COFFER_RECOVERY_KEY for the recovery key"
        )
    return (
        "no password given: use --password-file, --password-command, COFFER_PASSWORD or "
        "run in a terminal"
    )


def open_with_password(
    backend: Backend, slots: list[SlotInfo], target: VaultTarget, password: bytes
) -> tuple[Repository, bytes]:
    """Open the repository through the vault with one guess (no prompt, no failure record);
    return it and V."""
    from coffer.unlock import vault_route  # the vault client (httpx) only when it is needed

    route = vault_route.choose_route(slots, target)
    has_recovery = any(s.kind == SlotKind.RECOVERY for s in slots)
    secret = vault_route.recover_secret(route, password, has_recovery)
    return Repository.open(backend, SlotKind.VAULT, secret), secret


def _try_remembered(found: _Slots) -> tuple[Repository, SlotKind] | None:
    kept = remember.recall(found.repo_id)
    if kept is None:
        return None
    try:
        return Repository.open(found.backend, kept[0], kept[1]), kept[0]
    except WrongKey:
        return None


def _ask_recovery_key(found: _Slots, prompter: Prompter) -> RecoveryKey:
    if found.slots and not found.has_recovery:
        raise WrongKey("this repository has no recovery-key slot; use the password route")
    if not prompter.can_ask():
        raise NoSecret(
            "no recovery key given: use --recovery-key-file, --recovery-key-command, "
            "COFFER_RECOVERY_KEY or a terminal"
        )
    return RecoveryKey.parse(prompter.ask_recovery_key())
