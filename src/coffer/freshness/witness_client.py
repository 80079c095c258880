"""The witness client: reads and advances a repository's rows on a witness (a Coffer key vault).

Rules:

- The witness is a vault, and its key is pinned exactly as :class:`coffer.vault.client.
  VaultClient` pins it (a given key, an expected fingerprint, or trust on first use in the
  known-vaults file) before any witness request is sent.
- Every row read is verified with the public key derived from the master key — never with the
  key the witness returns. A row that does not verify, a witness registered under another key,
  or a malformed answer is :class:`WitnessProtocolError`: the witness cannot make a client
  believe in a state the owner never signed.
- ``update`` succeeds when the witness now holds the row's ``seq`` or a newer one for that
  writer (a 409 ``stale`` whose ``stored_seq`` ≥ the row's: a retried update, or another
  process of this writer got there first).
- Errors: :class:`WitnessUnavailable` (transport failure, timeout, 5xx, 429),
  :class:`WitnessRefused` (a 4xx the witness means: ``reason`` is its code),
  :class:`WitnessProtocolError`. Nothing else escapes; callers turn them into warnings.
- Nothing secret is logged or shown: the witness ID and keys stay inside
  :class:`~coffer.freshness.witness_proto.WitnessKeys`; messages name the URL only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from coffer.freshness import witness_proto as wp
from coffer.freshness.errors import WitnessProtocolError, WitnessRefused, WitnessUnavailable
from coffer.freshness.witness_proto import SignedRow, WitnessKeys, WitnessRow
from coffer.vault.client import VaultClient
from coffer.vault.errors import VaultKeyMismatch, VaultProtocolError, VaultUnavailable


class WitnessClient:
    """A client of one witness. ``transport`` may be an ``httpx.BaseTransport`` or a whole
    ``httpx.Client`` (e.g. Starlette's ``TestClient``) for in-process tests."""

    def __init__(
        self,
        url: str,
        *,
        pinned_key: bytes | None = None,
        known_vaults_path: Path | None = None,
        expected_fingerprint: str | None = None,
        transport: httpx.BaseTransport | httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        if isinstance(transport, httpx.Client):
            self._http = transport
        else:
            self._http = httpx.Client(transport=transport, timeout=timeout)
        self._vault = VaultClient(
            self.url,
            pinned_key=pinned_key,
            known_vaults_path=known_vaults_path,
            expected_fingerprint=expected_fingerprint,
            transport=self._http,
        )
        self._checked = False
        self._owns_http = True

    @classmethod
    def over(cls, vault: VaultClient) -> WitnessClient:
        """The witness of the vault ``vault`` talks to, sharing its connection and its key pin
        (so the CLI's pinning — known-vaults file, fingerprints, test transports — applies
        unchanged). Closing the witness client leaves ``vault`` open."""
        client = cls.__new__(cls)
        client.url = vault.url
        client._http = vault.http
        client._vault = vault
        client._checked = False
        client._owns_http = False
        return client

    def __repr__(self) -> str:
        return f"WitnessClient({self.url!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WitnessClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API ------------------------------------------------------------------------
    def read(self, keys: WitnessKeys) -> list[WitnessRow]:
        """Every writer's newest row the witness holds for ``keys`` (verified; [] if none)."""
        return [r.row for r in self.read_signed(keys)]

    def read_signed(self, keys: WitnessKeys) -> list[SignedRow]:
        """As :meth:`read`, with each row's signature and the witness's time of its update."""
        body = self._post("/v1/witness/read", wp.read_request(keys))
        try:
            key, rows = wp.parse_read_response(body)
        except ValueError as exc:
            raise WitnessProtocolError(f"witness {self.url} answered: {exc}") from None
        if key is not None and not keys.owns(key):
            raise WitnessProtocolError(
                f"witness {self.url} holds this repository's record under another public key "
                "(someone registered it first, or the witness misbehaves)"
            )
        for r in rows:
            if not wp.verify_row(keys.public_key, keys.witness_id, r.row, r.signature):
                raise WitnessProtocolError(
                    f"witness {self.url} returned a row for writer {r.row.writer} that this "
                    "repository's key did not sign"
                )
        return rows

    def update(self, keys: WitnessKeys, row: WitnessRow) -> int:
        """Advance ``row.writer`` to ``row``; the seq the witness holds now (≥ ``row.seq``)."""
        try:
            body = self._post("/v1/witness/update", wp.update_request(keys, row))
        except WitnessRefused as exc:
            if exc.reason != "stale":
                raise
            stored = _int_or_none(exc.body.get("stored_seq"))
            if stored is None or stored < row.seq:
                raise WitnessProtocolError(
                    f"witness {self.url} called seq {row.seq} stale without a stored seq "
                    "at least as high"
                ) from None
            return self._proven(keys, row)
        try:
            held = wp.parse_seq_answer(body, "seq")
        except ValueError as exc:
            raise WitnessProtocolError(f"witness {self.url} answered: {exc}") from None
        if held != row.seq or body.get("writer") != row.writer:
            raise WitnessProtocolError(f"witness {self.url} confirmed another row than sent")
        return held

    def _proven(self, keys: WitnessKeys, row: WitnessRow) -> int:
        """A "stale" answer counts only if the witness shows a row of ``row.writer`` at least
        as new that this repository's key signed: an operator's unsigned edit of the stored
        seq must not make an update look delivered (review Q5)."""
        held = [r.row.seq for r in self.read_signed(keys) if r.row.writer == row.writer]
        if not held or max(held) < row.seq:
            raise WitnessProtocolError(
                f"witness {self.url} refused seq {row.seq} of writer {row.writer[:8]} as stale "
                "but shows no signed row that new"
            )
        return max(held)

    # -- HTTP ------------------------------------------------------------------------------
    def _pin(self) -> None:
        if self._checked:
            return
        try:
            self._vault.info()
        except VaultUnavailable as exc:
            raise WitnessUnavailable(str(exc)) from None
        except (VaultKeyMismatch, VaultProtocolError) as exc:
            raise WitnessProtocolError(str(exc)) from None
        self._checked = True

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self._pin()
        try:
            resp = self._http.post(self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise WitnessUnavailable(
                f"witness {self.url} unreachable: {type(exc).__name__}"
            ) from None
        if resp.status_code >= 500:
            raise WitnessUnavailable(f"witness {self.url} failed (HTTP {resp.status_code})")
        try:
            answer = resp.json()
        except ValueError:
            raise WitnessProtocolError(
                f"witness {self.url} answered HTTP {resp.status_code} without JSON"
            ) from None
        if not isinstance(answer, dict):
            raise WitnessProtocolError(f"witness {self.url} answer is not a JSON object")
        if resp.status_code == 429:
            wait = _int_or_none(answer.get("retry_after"))
            raise WitnessUnavailable(
                f"witness {self.url} is rate limiting this device", retry_after=wait
            )
        if resp.status_code >= 400:
            raise _refusal(self.url, resp.status_code, answer)
        return answer


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _refusal(url: str, status: int, body: dict[str, Any]) -> WitnessRefused:
    reason = body.get("error")
    reason = reason if isinstance(reason, str) and len(reason) <= 40 else f"http_{status}"
    if status in (404, 405):
        reason = "no_witness"
        message = f"{url} does not offer a witness (HTTP {status}: an older vault?)"
    else:
        text = body.get("message")
        shown = text[:200] if isinstance(text, str) else f"HTTP {status}"
        message = f"witness {url} refused the request: {reason}: {shown}"
    return WitnessRefused(message, reason=reason, status=status, body=body)
