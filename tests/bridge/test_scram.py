"""bridge/scram.py against libpq: a password matches the verifier libpq computes for it, and nothing else
does (ASCII, SASLprep's mappings and normalisation, text SASLprep prohibits, bytes that are not UTF-8)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import psycopg
import pytest

from evmon.bridge import scram

PASSWORDS = [
    "s3cret",
    "",
    "pässwörd",
    "ｐａｓｓ",  # fullwidth: NFKC makes it "pass"
    "I\u00adX",  # a soft hyphen is mapped to nothing
    "a\u00a0b\u2000c",  # non-ASCII spaces become spaces
    "\u200b",  # zero width space: a space (C.1.2) before it is mapped to nothing (B.1)
    "ab\tä",  # a control character beside non-ASCII: prohibited, hashed as the raw bytes
    "\u0627\u0628",  # right-to-left only: allowed
    "\u0627b",  # right-to-left and left-to-right mixed: prohibited
    "x\ufb01\u2126",  # ligature and ohm sign, normalised
    "a\ue000",  # private use: prohibited
    "x\udcff",  # an environment value whose bytes are not UTF-8 (os.environ's surrogateescape)
]


@pytest.fixture(scope="module")
def conn(pg_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_server) as connection:  # libpq computes a verifier without asking the server
        yield connection


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_password_matches_libpqs_verifier_of_it_and_no_other_password_does(
    conn: psycopg.Connection, password: str
) -> None:
    secret = password.encode("utf-8", "surrogateescape")
    stored = conn.pgconn.encrypt_password(secret, b"anyone", b"scram-sha-256").decode()
    assert scram.matches(password, stored)
    assert not scram.matches(password + "x", stored) and not scram.matches(password.upper() + "!", stored)
    salt = base64.b64decode(stored.split("$")[1].split(":")[1])
    assert scram.verifier(password, salt, 4096) == stored


def test_anything_but_a_scram_verifier_matches_nothing() -> None:
    md5 = "md5" + "0" * 32
    good = scram.verifier("pw", b"0123456789abcdef")
    for stored in (None, "", md5, "pw", good.replace("4096", "0"), good.replace("$", "$$"), good[:-4] + "!!!!"):
        assert not scram.matches("pw", stored), stored
    assert scram.matches("pw", good)
