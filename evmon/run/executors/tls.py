"""The Dask client's TLS: the certificates of `executor.tls` (or EVMON_EXECUTOR_TLS_*), checked before connecting.

A tls:// scheduler (started with --tls-ca-file, --tls-cert, --tls-key) accepts only clients
and workers whose certificate its CA signed, and this client accepts only a scheduler whose
certificate that CA signed: both sides authenticated, everything encrypted. Without evmon's
settings, distributed's own configuration is used when it names a CA and a client certificate
(DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ...__CLIENT__CERT, ...__CLIENT__KEY).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from evmon.config.sections import TLS_ENV, ExecutorSettings
from evmon.run.executors.base import ExecutorError

if TYPE_CHECKING:
    from distributed import Security

DASK_EXTRA = "pip install 'evmon[dask]'"
WHAT = {"ca_file": "CA certificate", "cert_file": "client certificate", "key_file": "client certificate's key"}


def security_for(
    settings: ExecutorSettings, address: str, base_dir: Path, environ: Mapping[str, str] | None = None
) -> Security | None:
    """The client's Security for a tls:// address (None for tcp://); ExecutorError naming what is missing or bad."""
    paths = settings.tls_paths(base_dir, environ)
    if not address.startswith("tls://"):
        if paths:
            where = ", ".join(source for _, source in paths.values())
            raise ExecutorError(
                f"TLS certificates are set ({where}), but the Dask scheduler address {address} is not tls://; "
                "expected tls://HOST:PORT"
            )
        return None
    from distributed import Security

    if not paths:
        own = Security()  # distributed's own configuration, when it has the client's TLS files
        if getattr(own, "tls_ca_file", None) and getattr(own, "tls_client_cert", None):
            return own
        raise ExecutorError(
            f"the Dask scheduler at {address} speaks TLS, and no certificates are set: give executor.tls "
            "{ca_file, cert_file, key_file} in projects.yaml, or " + ", ".join(TLS_ENV.values())
        )
    for key in ("ca_file", "cert_file"):
        if key not in paths:
            raise ExecutorError(
                f"the Dask scheduler at {address} speaks TLS, and {key} (the {WHAT[key]}) is not set: "
                f"give executor.tls.{key} in projects.yaml, or {TLS_ENV[key]}"
            )
    for key, (path, source) in paths.items():
        if not path.is_file():
            raise ExecutorError(f"{source}: {path} is not a file; expected the {WHAT[key]} (PEM)")
    key_file = paths.get("key_file")
    security = Security(
        tls_ca_file=str(paths["ca_file"][0]),
        tls_client_cert=str(paths["cert_file"][0]),
        tls_client_key=str(key_file[0]) if key_file is not None else None,
        require_encryption=True,
    )
    try:
        security.get_connection_args("client")  # loads the files: a bad one is named now, not mid-handshake
    except (ssl.SSLError, OSError, ValueError) as exc:
        files = ", ".join(f"{source} {path}" for path, source in paths.values())
        reason = getattr(exc, "reason", None) or str(exc)
        raise ExecutorError(f"cannot use the TLS certificates ({files}): {reason}") from exc
    return security
