"""Sealing the vault's server secrets (OPRF seed, AKE key pair) at rest.

Rules:

- The server setup is never stored in clear. It is sealed by a :class:`Sealer` and the sealed blob
  lives in the vault database (so every node behind one database shares it).
- :class:`KeyFileSealer` (the embedded default): a 32-byte key in a file of mode 0600, created
  exclusively; a missing file, a file readable by group or others, or a key that does not open the
  blob is a :class:`SealError` at start-up — never a vault that answers with different keys.
- :class:`Pkcs11Sealer`: an AES-256 key generated *inside* a PKCS#11 token as sensitive and
  non-extractable; the blob is sealed with CKM_AES_GCM by the token. The user PIN is never a
  command-line value: it comes (first found wins) from a PIN file (``--pkcs11-pin-file``, which
  must not be readable by group or others), from a systemd credential (``LoadCredential=`` or
  ``LoadCredentialEncrypted=`` named :data:`PIN_CREDENTIAL`, read from
  ``$CREDENTIALS_DIRECTORY``), or from the environment (``COFFER_VAULT_PKCS11_PIN``).
- A sealed blob starts with a 4-byte magic naming the sealer kind, so a blob sealed by one kind is
  refused clearly by the other.

Theory of operation: ``vault init`` generates the OPAQUE server setup, seals it with the chosen
sealer and stores the blob together with the public key; ``vault serve`` unseals it once at
start-up, checks the public key and keeps the setup in memory for the life of the process.
"""

from __future__ import annotations

import abc
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coffer.vault import _crypto
from coffer.vault.errors import SealError

SETUP_AD = b"coffer-vault/v1/server-setup"
MAGIC_KEYFILE = b"CVK1"
MAGIC_PKCS11 = b"CVP1"
PIN_ENV = "COFFER_VAULT_PKCS11_PIN"
PIN_CREDENTIAL = "coffer-vault-pkcs11-pin"


def resolve_pin(pin_file: Path | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The PKCS#11 user PIN from a file, a systemd credential, or the environment."""
    env = os.environ if env is None else env
    creds = env.get("CREDENTIALS_DIRECTORY")
    candidates = [pin_file] if pin_file else []
    if creds:
        candidates.append(Path(creds) / PIN_CREDENTIAL)
    for path in candidates:
        if path is None or (path != pin_file and not path.exists()):
            continue
        return _read_pin(Path(path), strict=path == pin_file)
    return env.get(PIN_ENV) or None


def _read_pin(path: Path, strict: bool) -> str:
    try:
        st = path.stat()
        text = path.read_text("utf-8").strip()
    except (OSError, UnicodeError) as exc:
        raise SealError(f"cannot read the PKCS#11 PIN from {path}: {type(exc).__name__}") from None
    if strict and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SealError(f"PIN file {path} is readable by others; chmod 600 it")
    if not text:
        raise SealError(f"PIN file {path} is empty")
    return text


class Sealer(abc.ABC):
    """Seals and unseals the server-setup blob."""

    magic: bytes

    @abc.abstractmethod
    def seal(self, plaintext: bytes) -> bytes:
        """Seal ``plaintext``; the result starts with :attr:`magic`."""

    @abc.abstractmethod
    def unseal(self, sealed: bytes) -> bytes:
        """Open a blob made by :meth:`seal`; raise :class:`SealError` on any failure."""

    def _strip_magic(self, sealed: bytes) -> bytes:
        if sealed[:4] != self.magic:
            raise SealError(
                f"the server secrets were sealed by a different sealer "
                f"(blob kind {sealed[:4]!r}, this sealer {self.magic!r})"
            )
        return sealed[4:]


class KeyFileSealer(Sealer):
    """A 0600 key file holding 32 random bytes; XChaCha20-Poly1305 seals the setup."""

    magic = MAGIC_KEYFILE

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key = self._load(self.path)

    def __repr__(self) -> str:
        return f"KeyFileSealer(path={str(self.path)!r}, key=<redacted>)"

    @classmethod
    def create(cls, path: Path) -> KeyFileSealer:
        """Write a fresh key file (refusing to overwrite one) and return its sealer."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise SealError(f"seal key file {path} already exists; refusing to overwrite") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(_crypto.KEY_LEN))
            fh.flush()
            os.fsync(fh.fileno())
        return cls(path)

    @staticmethod
    def _load(path: Path) -> bytes:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise SealError(f"seal key file {path} is missing") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SealError(f"seal key file {path} is readable by others; chmod 600 it")
        key = path.read_bytes()
        if len(key) != _crypto.KEY_LEN:
            raise SealError(f"seal key file {path} does not hold a {_crypto.KEY_LEN}-byte key")
        return key

    def seal(self, plaintext: bytes) -> bytes:
        return self.magic + _crypto.seal(self._key, plaintext, SETUP_AD)

    def unseal(self, sealed: bytes) -> bytes:
        body = self._strip_magic(sealed)
        try:
            return _crypto.open_sealed(self._key, body, SETUP_AD)
        except _crypto.OpenFailed:
            raise SealError(
                f"the seal key in {self.path} does not open the vault's server secrets"
            ) from None


class Pkcs11Sealer(Sealer):
    """An AES-256 key that never leaves a PKCS#11 token; the token seals with AES-GCM."""

    magic = MAGIC_PKCS11
    IV_LEN = 12

    def __init__(self, library: str, token_label: str, key_label: str, pin: str | None = None):
        from coffer._extras import require

        require("hsm", "a PKCS#11 seal key")
        self.library = library
        self.token_label = token_label
        self.key_label = key_label
        self._pin = pin if pin is not None else resolve_pin()
        if not self._pin:
            raise SealError(
                f"no PKCS#11 user PIN: give --pkcs11-pin-file, a systemd credential "
                f"{PIN_CREDENTIAL!r}, or set {PIN_ENV}"
            )

    def __repr__(self) -> str:
        return (
            f"Pkcs11Sealer(library={self.library!r}, token={self.token_label!r}, "
            f"key={self.key_label!r}, pin=<redacted>)"
        )

    def _token(self) -> Any:
        try:
            import pkcs11

            return pkcs11.lib(self.library).get_token(token_label=self.token_label)
        except Exception as exc:
            raise SealError(
                f"PKCS#11 token {self.token_label!r} in {self.library} is not available: "
                f"{type(exc).__name__}"
            ) from None

    def create_key(self) -> None:
        """Generate the AES-256 seal key inside the token (sensitive, non-extractable)."""
        from pkcs11 import Attribute, KeyType, ObjectClass

        with self._token().open(user_pin=self._pin, rw=True) as session:
            existing = list(
                session.get_objects(
                    {Attribute.LABEL: self.key_label, Attribute.CLASS: ObjectClass.SECRET_KEY}
                )
            )
            if existing:
                raise SealError(f"the token already holds a key labelled {self.key_label!r}")
            session.generate_key(
                KeyType.AES,
                256,
                label=self.key_label,
                store=True,
                template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.TOKEN: True,
                },
            )

    def _crypt(self, data: bytes, iv: bytes, encrypt: bool) -> bytes:
        from pkcs11 import KeyType, Mechanism, ObjectClass
        from pkcs11.mechanisms import GCMParams

        try:
            with self._token().open(user_pin=self._pin) as session:
                key = session.get_key(
                    object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=self.key_label
                )
                param = GCMParams(iv, SETUP_AD, 128)
                op = key.encrypt if encrypt else key.decrypt
                out: bytes = op(data, mechanism=Mechanism.AES_GCM, mechanism_param=param)
                return out
        except SealError:
            raise
        except Exception as exc:
            raise SealError(
                f"PKCS#11 {'sealing' if encrypt else 'unsealing'} with key {self.key_label!r} "
                f"failed ({type(exc).__name__}): wrong token, key, or PIN"
            ) from None

    def seal(self, plaintext: bytes) -> bytes:
        iv = os.urandom(self.IV_LEN)
        return self.magic + iv + self._crypt(plaintext, iv, encrypt=True)

    def unseal(self, sealed: bytes) -> bytes:
        body = self._strip_magic(sealed)
        iv, ct = body[: self.IV_LEN], body[self.IV_LEN :]
        return self._crypt(ct, iv, encrypt=False)
