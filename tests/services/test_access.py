"""evmon.services.access: the app's write permission, decided in one place; projects.yaml's `app` section."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evmon.config.loader import load_config
from evmon.errors import ConfigError, WriteRefusedError
from evmon.services.access import WriteAccess, decide_write_access, is_loopback

PROJECT = {
    "name": "churn",
    "source": {"path": "data/*.csv", "timestamp_column": "ts"},
    "reference": {"path": "data/ref.csv"},
    "columns": {"numerical": ["age"]},
    "presets": {"data_drift": True},
}
ANA, BOB = "ana@example.org", "bob@example.org"
LOOPBACK, OUTSIDE = "127.0.0.1", "192.0.2.2"
OPEN_HINT = "start it with `evmon app --allow-writes` or set app.writes: true in projects.yaml"


def write(tmp_path: Path, app: dict[str, object] | None = None) -> Path:
    path = tmp_path / "projects.yaml"
    path.write_text(yaml.safe_dump({"projects": [PROJECT], **({"app": app} if app is not None else {})}))
    return path


def decide(
    host: str = LOOPBACK,
    *,
    flag: bool = False,
    writes: bool | None = None,
    writers: tuple[str, ...] = (),
    login: bool = False,
    user: str | None = None,
) -> WriteAccess:
    return decide_write_access(
        host=host, allow_writes=flag, config_writes=writes, writers=writers, login_configured=login, user=user
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("192.0.2.2", False),
        ("evmon.example.org", False),
    ],
)
def test_only_loopback_addresses_are_local(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


# Without a login: where the app listens and the operator's two switches decide.
@pytest.mark.parametrize(
    ("host", "flag", "writes", "allowed", "reason"),
    [
        (LOOPBACK, False, None, True, "writes allowed: the app listens on 127.0.0.1 (loopback)"),
        (
            OUTSIDE,
            False,
            None,
            False,
            f"read-only: the app listens on 192.0.2.2, reachable from other machines; {OPEN_HINT}",
        ),
        (
            "0.0.0.0",
            False,
            None,
            False,
            "read-only: the app listens on all network interfaces, reachable from other machines",
        ),
        (OUTSIDE, True, None, True, "writes allowed: started with --allow-writes"),
        (OUTSIDE, False, True, True, "writes allowed: app.writes is true in projects.yaml"),
        (OUTSIDE, True, True, True, "writes allowed: app.writes is true in projects.yaml"),
        (LOOPBACK, False, False, False, "read-only: app.writes is false in projects.yaml; set it to true"),
        (OUTSIDE, True, False, False, "read-only: app.writes is false in projects.yaml"),  # the file wins
        (LOOPBACK, True, False, False, "read-only: app.writes is false in projects.yaml"),
    ],
)
def test_without_a_login(host: str, flag: bool, writes: bool | None, allowed: bool, reason: str) -> None:
    access = decide(host, flag=flag, writes=writes)
    assert (access.allowed, access.user, access.sign_in) == (allowed, None, False)
    assert access.reason.startswith(reason), access.reason


# With a login: the operator's decision first, then the signed-in user against app.writers.
@pytest.mark.parametrize(
    ("host", "flag", "user", "allowed", "reason"),
    [
        (LOOPBACK, False, ANA, True, "writes allowed for ana@example.org: the app listens on 127.0.0.1"),
        (LOOPBACK, False, "Ana@Example.ORG", True, "writes allowed for Ana@Example.ORG"),  # e-mails: any case
        (OUTSIDE, True, ANA, True, "writes allowed for ana@example.org: started with --allow-writes"),
        (LOOPBACK, False, BOB, False, "read-only: bob@example.org is not in app.writers in projects.yaml"),
        (LOOPBACK, False, None, False, "read-only until you sign in"),
        (LOOPBACK, False, "", False, "read-only: you are signed in, but the login gave no e-mail"),
        (OUTSIDE, False, ANA, False, "read-only: the app listens on 192.0.2.2"),  # a login does not open writes
    ],
)
def test_with_a_login(host: str, flag: bool, user: str | None, allowed: bool, reason: str) -> None:
    access = decide(host, flag=flag, writers=(ANA,), login=True, user=user)
    assert access.allowed is allowed
    assert access.reason.startswith(reason), access.reason
    assert access.user == (user if allowed else None)
    assert access.sign_in is (user is None and host == LOOPBACK)


def test_a_login_with_nobody_listed_refuses_everyone() -> None:
    access = decide(login=True, user=ANA)
    assert not access.allowed
    assert access.reason == (
        "read-only: a login is configured but app.writers in projects.yaml lists nobody; "
        "add the e-mails of the people who may re-run days and save what-ifs"
    )


def test_writers_without_a_login_refuse_rather_than_open_to_all() -> None:
    access = decide(writers=(ANA,), login=False, user=None)
    assert not access.allowed and not access.sign_in
    assert access.reason.startswith("read-only: app.writers in projects.yaml names who may write, but no login")


def test_require_raises_with_the_action_and_the_reason() -> None:
    refused = decide(OUTSIDE)
    with pytest.raises(WriteRefusedError, match=r"^re-running x 2026-03-31\.\.2026-03-31 refused: read-only: "):
        refused.require("re-running x 2026-03-31..2026-03-31")
    decide(LOOPBACK).require("anything")  # allowed: no exception


def test_the_app_section_of_projects_yaml(tmp_path: Path) -> None:
    assert load_config(write(tmp_path)).app.writes is None  # unset: the bind address decides
    app = load_config(write(tmp_path, {"writes": True, "writers": [ANA, BOB]})).app
    assert (app.writes, app.writers) == (True, [ANA, BOB])


def test_a_writer_that_is_not_an_e_mail_is_one_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, {"writers": [ANA, "bob"], "write": False})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"{path}: app.writers[1]: expected an e-mail address such as ana@example.org (got 'bob')",
        f"{path}: app.write: unknown key 'write'; did you mean 'writes'? "
        "expected one of: writes, writers, allowed_hosts, trusted_proxies",
    ]
