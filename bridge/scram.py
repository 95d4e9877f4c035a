"""SCRAM-SHA-256 verifiers as PostgreSQL stores them: does a password match one (pure, no server).

A verifier (RFC 5803's form, RFC 5802/7677's keys) is
``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``, salt and keys in base64:
SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations), ClientKey = HMAC(SaltedPassword,
"Client Key"), StoredKey = SHA-256(ClientKey), ServerKey = HMAC(SaltedPassword, "Server Key").

The password is first prepared as PostgreSQL and libpq prepare it (src/common/saslprep.c): ASCII
as it is; other UTF-8 through RFC 4013 SASLprep (its checks on the mapped text, before NFKC, as
PostgreSQL does them); the raw bytes when SASLprep prohibits the text or it is not UTF-8.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import stringprep
import unicodedata

PREFIX = "SCRAM-SHA-256$"
_PROHIBITED = (
    stringprep.in_table_c12,
    stringprep.in_table_c21,
    stringprep.in_table_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
    stringprep.in_table_a1,  # unassigned in Unicode 3.2
)


def prepared(password: str) -> bytes:
    """The bytes SCRAM hashes for `password` (an environment value's undecodable bytes kept as they were)."""
    raw = password.encode("utf-8", "surrogateescape")
    if raw.isascii():
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    # a non-ASCII space becomes a space before anything is mapped to nothing (U+200B is in both tables)
    mapped = "".join(" " if stringprep.in_table_c12(ch) else "" if stringprep.in_table_b1(ch) else ch for ch in text)
    if not mapped or any(check(ch) for ch in mapped for check in _PROHIBITED):
        return raw
    if any(stringprep.in_table_d1(ch) for ch in mapped) and (
        any(stringprep.in_table_d2(ch) for ch in mapped)
        or not stringprep.in_table_d1(mapped[0])
        or not stringprep.in_table_d1(mapped[-1])
    ):
        return raw
    return unicodedata.normalize("NFKC", mapped).encode("utf-8")


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", prepared(password), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return hashlib.sha256(client_key).digest(), hmac.digest(salted, b"Server Key", "sha256")


def verifier(password: str, salt: bytes, iterations: int = 4096) -> str:
    """The verifier of `password` with this salt and iteration count."""
    stored_key, server_key = _keys(password, salt, iterations)
    b64 = base64.b64encode
    return f"{PREFIX}{iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"


def matches(password: str, stored: str | None) -> bool:
    """Whether `stored` is a SCRAM-SHA-256 verifier of `password` (False for anything else: none, md5)."""
    if stored is None or not stored.startswith(PREFIX):
        return False
    try:
        params, keys = stored[len(PREFIX) :].split("$")
        iterations, salt = params.split(":")
        stored_key, server_key = (base64.b64decode(key, validate=True) for key in keys.split(":"))
        count = int(iterations)
        salt_bytes = base64.b64decode(salt, validate=True)
    except (ValueError, binascii.Error):
        return False
    if count < 1:
        return False
    mine_stored, mine_server = _keys(password, salt_bytes, count)
    return hmac.compare_digest(mine_stored, stored_key) and hmac.compare_digest(mine_server, server_key)
