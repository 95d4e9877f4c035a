"""Where a configured path may point: a local path, a file:// URL, or an object store's URL.

The rules projects.yaml is validated with (evmon.config.sections) and the sources read by
(evmon.sources.remote, which opens the URLs): the schemes evmon reads, and credentials refused
in a URL (they belong in the environment).
"""

from __future__ import annotations

import re

# scheme -> (the fsspec package that serves it, the evmon extra that installs that package)
SCHEMES: dict[str, tuple[str, str]] = {
    "s3": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
    "az": ("adlfs", "azure"),
}
SUPPORTED = ", ".join(f"{scheme}://" for scheme in [*SCHEMES, "file"])
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CONTAINER_AT_ACCOUNT = {"abfs", "abfss", "az"}  # abfs://container@account.dfs.core.windows.net/...


def scheme_of(path: str) -> str | None:
    """The URL scheme of a configured path ('s3'), or None for a plain path."""
    match = _URL.match(path)
    return match.group(1).lower() if match else None


def is_url(path: str) -> bool:
    """Whether a path is read through fsspec (a URL of an object store, not file://)."""
    scheme = scheme_of(path)
    return scheme is not None and scheme != "file"


def location_problem(path: str) -> tuple[str, bool] | None:
    """Why a configured path cannot be used (and whether the value may be shown), or None.

    Credentials in a URL are refused (they belong in the environment), without echoing them.
    """
    scheme = scheme_of(path)
    if scheme is None:
        return None
    host = path[len(scheme) + 3 :].split("/", 1)[0]
    userinfo = host.rpartition("@")[0]
    if userinfo and (":" in userinfo or scheme not in _CONTAINER_AT_ACCOUNT):
        return (
            "a URL must not hold credentials (user:secret@); expected them in the environment, "
            "e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            False,
        )
    if scheme != "file" and scheme not in SCHEMES:
        return f"unknown URL scheme {scheme}://; expected a local path or a URL of {SUPPORTED}", True
    return None


def local_path(path: str) -> str:
    """A file:// URL as the local path it names; any other path unchanged."""
    return path[len("file://") :] if scheme_of(path) == "file" else path
