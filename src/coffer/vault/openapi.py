"""The OpenAPI 3.1 description of the vault's HTTP API (served at ``/v1/openapi.json``).

Rules: this module is the single source; ``docs/vault-openapi.json`` is generated from it
(``python -m coffer.vault.openapi > docs/vault-openapi.json``) and a test checks the two agree.
Binary fields are unpadded base64url strings whose length follows from the decoded size.
"""

from __future__ import annotations

import json
import math
from typing import Any

from coffer.freshness import witness_proto as wp
from coffer.opaque import KE1_LEN, KE2_LEN, KE3_LEN, RECORD_LEN
from coffer.vault import wire

JSON = "application/json"


def _b64(n: int | None = None, lo: int = 0, hi: int = 0, desc: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}
    if n is not None:
        schema["minLength"] = schema["maxLength"] = math.ceil(4 * n / 3)
    else:
        schema["minLength"], schema["maxLength"] = math.ceil(4 * lo / 3), math.ceil(4 * hi / 3)
    if desc:
        schema["description"] = desc
    return schema


ACCOUNT = {"type": "string", "pattern": wire.ACCOUNT_RE.pattern, "minLength": 1, "maxLength": 128}
ID = _b64(wire.ID_LEN)
KSF_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "required": ["alg", "memory_kib", "iterations", "parallelism"],
            "additionalProperties": False,
            "properties": {
                "alg": {"const": "argon2id"},
                "memory_kib": {"type": "integer", "minimum": 8, "maximum": wire.MAX_KSF_MEMORY_KIB},
                "iterations": {"type": "integer", "minimum": 1, "maximum": wire.MAX_KSF_ITERATIONS},
                "parallelism": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": wire.MAX_KSF_PARALLELISM,
                },
            },
        },
        {
            "type": "object",
            "required": ["alg"],
            "additionalProperties": False,
            "properties": {"alg": {"const": "identity"}},
        },
    ]
}


KSF = {"$ref": "#/components/schemas/Ksf"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }


CLIENT_STATE = {
    "type": "boolean",
    "description": "true: the vault hands the sealed login state to the client (login_state) "
    "instead of storing it; the login's end must send it back",
}
LOGIN_STATE = _b64(
    None,
    1,
    wire.MAX_HELD_STATE,
    "the vault's sealed login state (only with client_state): send it back unchanged",
)


ERROR_SCHEMA = _obj(
    {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "attempts_left": {"type": "integer"},
        "retry_after": {"type": "integer"},
        "stored_seq": {"type": "integer"},
        "max_writers": {"type": "integer"},
    },
    ["error", "message"],
)
ERROR = {"$ref": "#/components/schemas/Error"}
ERRORS = {
    "400": "malformed request (bad JSON, field, length or encoding)",
    "401": "login failed (KE3 or authorisation MAC did not verify); attempts_left",
    "403": "bad_signature (the row is not signed by public_key) or key_mismatch (the witness "
    "is registered with another public key)",
    "409": "account exists, or the account changed during the login",
    "410": "unknown, used or expired attempt or grant",
    "413": "request body larger than the cap",
    "415": "the body was not sent as Content-Type: application/json",
    "423": "the account's password route is locked (allowance used up, secret destroyed)",
    "429": "rate limited; see Retry-After",
    "503": "the vault's database is unavailable (or, for /v1/ready, the node is not ready)",
}


def _responses(
    ok: dict[str, Any], codes: list[str], notes: dict[str, str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"200": {"description": "OK", "content": {JSON: {"schema": ok}}}}
    for code in codes:
        text = (notes or {}).get(code, ERRORS[code])
        out[code] = {"description": text, "content": {JSON: {"schema": ERROR}}}
    return out


def _post(
    summary: str,
    req: dict[str, Any],
    ok: dict[str, Any],
    codes: list[str],
    notes: dict[str, str] | None = None,
) -> Any:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {JSON: {"schema": req}}},
            "responses": _responses(ok, ["400", "413", "415", "429", "503", *codes], notes),
        }
    }


WRITER = {"type": "string", "pattern": "^[0-9a-f]{32}$", "minLength": 32, "maxLength": 32}
SEQ = {"type": "integer", "minimum": 1, "maximum": wp.MAX_SEQ}
WITNESS_ID = _b64(wp.WITNESS_ID_LEN, desc="HKDF(M, repository ID, coffer/v1/witness/id)")
WITNESS_ROW = _obj(
    {
        "writer": WRITER,
        "seq": SEQ,
        "digest": _b64(wp.DIGEST_LEN),
        "signature": _b64(wp.SIGNATURE_LEN),
        "updated": {"type": "string", "format": "date-time"},
    }
)


LOGIN_END = ["401", "409", "410", "423"]

PATHS: dict[str, Any] = {
    "/v1/info": {
        "get": {
            "summary": "Suite, public key and fingerprint, limits, version",
            "responses": _responses(
                _obj(
                    {
                        "version": {"type": "string"},
                        "suite": {"type": "string"},
                        "context": {"type": "string", "maxLength": 200},
                        "identities": {"const": "public-keys"},
                        "public_key": _b64(32),
                        "fingerprint": {"type": "string"},
                        "max_attempts": {"type": "integer"},
                        "attempt_ttl": {"type": "number"},
                        "default_ksf": KSF,
                        "accepted_ksf": {"type": "array", "items": KSF},
                        "witness": {"type": "boolean"},
                        "client_state": {"type": "boolean"},
                    }
                ),
                ["429", "503"],
            ),
        }
    },
    "/v1/health": {
        "get": {
            "summary": "Liveness: the process answers (no database access, no rate limit)",
            "responses": _responses(
                _obj(
                    {
                        "status": {"const": "alive"},
                        "node": {"type": "string"},
                        "pid": {"type": "integer"},
                    }
                ),
                [],
            ),
        }
    },
    "/v1/ready": {
        "get": {
            "summary": "Readiness: the database answers and holds this node's public key",
            "responses": _responses(
                _obj({"status": {"const": "ready"}, "node": {"type": "string"}}), ["503"]
            ),
        }
    },
    "/v1/attempts": {
        "get": {
            "summary": "Attempts left for an account (public; see docs/vault-api.md)",
            "parameters": [{"name": "account", "in": "query", "required": True, "schema": ACCOUNT}],
            "responses": _responses(
                _obj(
                    {
                        "account": ACCOUNT,
                        "attempts_left": {"type": "integer"},
                        "locked": {"type": "boolean"},
                    }
                ),
                ["400", "429", "503"],
            ),
        }
    },
    "/v1/register/start": _post(
        "OPAQUE registration, first message (only for an account without a record)",
        _obj({"account": ACCOUNT, "registration_request": _b64(32)}),
        _obj({"registration_response": _b64(64), "registration_id": ID}),
        ["409", "423"],
    ),
    "/v1/register/finish": _post(
        "Store the OPAQUE record and the client-sealed secret",
        _obj(
            {
                "account": ACCOUNT,
                "registration_id": ID,
                "record": _b64(RECORD_LEN),
                "sealed_secret": _b64(None, wire.MIN_SECRET, wire.MAX_SECRET),
                "ksf": KSF,
            }
        ),
        _obj({"account": ACCOUNT, "attempts_left": {"type": "integer"}}),
        ["409", "423"],
    ),
    "/v1/recover/start": _post(
        "KE1 → KE2; spends one attempt, committed before the answer is sent",
        _obj(
            {"account": ACCOUNT, "ke1": _b64(KE1_LEN), "client_state": CLIENT_STATE},
            ["account", "ke1"],
        ),
        _obj(
            {
                "attempt_id": ID,
                "ke2": _b64(KE2_LEN),
                "attempts_left": {"type": "integer"},
                "ksf": KSF,
                "expires_in": {"type": "number"},
                "login_state": LOGIN_STATE,
            },
            ["attempt_id", "ke2", "attempts_left", "ksf", "expires_in"],
        ),
        ["423"],
    ),
    "/v1/recover/finish": _post(
        "KE3 → the escrowed secret, sealed again under the session key; restores the allowance",
        _obj(
            {"attempt_id": ID, "ke3": _b64(KE3_LEN), "login_state": LOGIN_STATE},
            ["attempt_id", "ke3"],
        ),
        _obj({"sealed_secret": _b64(None, 56, 600), "attempts_left": {"type": "integer"}}),
        LOGIN_END,
    ),
    "/v1/recover/abort": _post(
        "The client saw a wrong password: end the attempt now (it stays counted)",
        _obj({"attempt_id": ID}),
        _obj({"attempts_left": {"type": "integer"}, "locked": {"type": "boolean"}}),
        ["410"],
    ),
    "/v1/password/change": _post(
        "KE3 + MAC + new registration request → OPRF answer and a single-use grant",
        _obj(
            {
                "attempt_id": ID,
                "ke3": _b64(KE3_LEN),
                "registration_request": _b64(32),
                "auth": _b64(32),
                "login_state": LOGIN_STATE,
            },
            ["attempt_id", "ke3", "registration_request", "auth"],
        ),
        _obj(
            {
                "grant_id": ID,
                "registration_id": ID,
                "registration_response": _b64(64),
                "sealed_secret": _b64(None, 56, 600),
                "expires_in": {"type": "number"},
            }
        ),
        LOGIN_END,
    ),
    "/v1/password/commit": _post(
        "Replace record and secret atomically under a grant",
        _obj(
            {
                "grant_id": ID,
                "account": ACCOUNT,
                "record": _b64(RECORD_LEN),
                "sealed_secret": _b64(None, wire.MIN_SECRET, wire.MAX_SECRET),
                "ksf": KSF,
                "auth": _b64(32),
            }
        ),
        _obj({"account": ACCOUNT, "attempts_left": {"type": "integer"}}),
        ["401", "409", "410"],
    ),
    "/v1/account/delete": _post(
        "KE3 + MAC → delete the account's record and secret",
        _obj(
            {"attempt_id": ID, "ke3": _b64(KE3_LEN), "auth": _b64(32), "login_state": LOGIN_STATE},
            ["attempt_id", "ke3", "auth"],
        ),
        _obj({"deleted": {"type": "boolean"}}),
        LOGIN_END,
    ),
    "/v1/witness/update": _post(
        "Freshness witness: store a writer's signed row if its seq moves strictly forward "
        "(the first update of a witness ID registers its public key)",
        _obj(
            {
                "witness_id": WITNESS_ID,
                "public_key": _b64(wp.PUBLIC_KEY_LEN, desc="raw Ed25519 public key"),
                "writer": WRITER,
                "seq": SEQ,
                "digest": _b64(wp.DIGEST_LEN),
                "signature": _b64(wp.SIGNATURE_LEN, desc="Ed25519 over the row message"),
            }
        ),
        _obj({"writer": WRITER, "seq": SEQ}),
        ["403", "409"],
        {
            "409": "stale (seq not above the stored one: also every replay; stored_seq) or "
            f"too_many_writers (the witness holds {wp.MAX_WRITERS} writers; max_writers)"
        },
    ),
    "/v1/witness/read": _post(
        "Freshness witness: the registered public key and every writer's signed row "
        "(unknown witness: null and no rows)",
        _obj({"witness_id": WITNESS_ID}),
        _obj(
            {
                "public_key": {"oneOf": [_b64(wp.PUBLIC_KEY_LEN), {"type": "null"}]},
                "rows": {"type": "array", "items": WITNESS_ROW, "maxItems": wp.MAX_WRITERS},
            }
        ),
        [],
    ),
}


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Coffer key vault",
            "version": "1",
            "description": "Guess-limited escrow of backup keys over OPAQUE (RFC 9807). "
            "Binary fields are unpadded base64url. See docs/vault-api.md.",
        },
        "paths": PATHS,
        "components": {"schemas": {"Error": ERROR_SCHEMA, "Ksf": KSF_SCHEMA}},
    }


def render() -> str:
    """The committed form of the document."""
    return json.dumps(spec(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
