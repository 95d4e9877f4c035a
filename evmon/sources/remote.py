"""Data files on object storage: fsspec URLs (s3://, gs://, abfs://) beside local paths.

A source's or reference's path may be a URL; a plain path (or a file:// URL) stays a local
path, read without fsspec as before. A URL is listed, and its files opened, through the fsspec
filesystem of its scheme (s3fs, gcsfs, adlfs: each an optional extra), with the credentials
that library reads from the environment. pyarrow reads a remote Parquet file through exact
ranged reads (no read-ahead), so column and row-group pruning save the same bytes as locally.

Every failure of a store is a StoreError (an OSError) whose message is one line without a
credential: a failure of the store, not of the file, so no cache keeps it; a scheme whose
package is not installed is a SourceError naming the extra to install.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import importlib.util
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from evmon.config.locations import SCHEMES, is_url, scheme_of
from evmon.errors import SourceError

_GLOB_CHARS = re.compile(r"[*?\[]")
# the environment a store's library reads its credentials and endpoint from: a change makes a new client
_STORE_ENV = ("AWS_", "GOOGLE_", "GCSFS_", "AZURE_", "STORAGE_EMULATOR_HOST", "FSSPEC_")
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|KEY|CONNECTION_STRING|SAS", re.IGNORECASE)
_USERINFO = re.compile(r"(://)[^/@\s:]*:[^/@\s]*@")  # user:secret@ (abfs's container@account stays)
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}


class StoreError(OSError):
    """A store could not be reached or refused a request (credentials, endpoint, network)."""


class StoreFileNotFound(StoreError, FileNotFoundError):
    """A store says the file is not there (any more)."""


def compression_of(path: str) -> str | None:
    """The compression pandas would infer from the file's name."""
    return _COMPRESSION.get(os.path.splitext(path)[1].lower())


class ReadableFile(Protocol):
    """A binary file opened for reading (a local file, or a remote one through its store)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class DataFile:
    """One file a source's path matches: its local path or URL, size and version."""

    path: str
    size: int
    version: int | str  # local: mtime_ns; remote: the store's ETag (or generation, mtime)

    @property
    def key(self) -> tuple[str, int, int | str]:
        """The cache key of the file's current version: a rewritten file is read again."""
        return self.path, self.size, self.version


def data_files(pattern: str) -> list[DataFile]:
    """The files a path or glob matches, sorted; OSError (one line) when the store cannot list them."""
    if not is_url(pattern):
        out = []
        for name in sorted(glob.glob(pattern), key=Path):
            st = os.stat(name)
            out.append(DataFile(name, st.st_size, st.st_mtime_ns))
        return out
    fs, stripped = _filesystem(pattern)
    with _store_errors():
        fs.invalidate_cache()  # a listing is fresh: files added since the last day are seen
        found = fs.glob(stripped, detail=True) if _GLOB_CHARS.search(stripped) else _exact(fs, stripped)
    files = [
        DataFile(_file_url(pattern, stripped, name), int(info.get("size") or 0), _version(info))
        for name, info in found.items()
        if info.get("type") == "file"
    ]
    return sorted(files, key=lambda f: f.path)


def one_file(path: str) -> DataFile | None:
    """The file at a path or URL, or None when there is none (a folder is none)."""
    if not is_url(path):
        local = Path(path)
        if not local.is_file():
            return None
        st = local.stat()
        return DataFile(path, st.st_size, st.st_mtime_ns)
    found = data_files(path)
    return found[0] if found else None


def read_bytes(path: str) -> bytes:
    """A remote file's whole content (one request)."""
    fs, stripped = _filesystem(path)
    with _store_errors():
        return bytes(fs.cat_file(stripped))


@contextlib.contextmanager
def open_binary(path: str, block_size: int) -> Iterator[ReadableFile]:
    """A file opened for reading its first bytes: remote reads fetch `block_size` at a time."""
    if not is_url(path):
        with open(path, "rb") as handle:
            yield handle
        return
    fs, stripped = _filesystem(path)
    with _store_errors():
        handle = fs.open(stripped, "rb", block_size=block_size, cache_type="readahead")
    with _ErrorsAsOSError(handle) as wrapped:
        yield wrapped


def arrow_paths(paths: list[str]) -> tuple[list[str], Any]:
    """The paths and the pyarrow filesystem to read them with (None: local files).

    The paths of one call come from one configured path, so they share one store.
    """
    if not paths or not is_url(paths[0]):
        return paths, None
    import pyarrow.fs as pafs

    fs, _ = _filesystem(paths[0])
    return [_filesystem(p)[1] for p in paths], pafs.PyFileSystem(_arrow_handler()(fs))


def store_reason(exc: BaseException) -> str:
    """A store's error in one line, without a credential."""
    text = (str(exc).strip().splitlines() or [""])[0] or type(exc).__name__
    if isinstance(exc, PermissionError) and text == "Forbidden":  # an answer without a body (HEAD)
        text = "access denied (403 Forbidden): check the credentials in the environment and the object's permissions"
    elif isinstance(exc, PermissionError):
        text = f"access denied: {text}"
    elif isinstance(exc, FileNotFoundError):
        text = f"not found: {text}"
    elif not isinstance(exc, OSError):
        text = f"{type(exc).__name__}: {text}"
    return scrubbed(text)


def scrubbed(text: str) -> str:
    """`text` without any credential from the environment or the userinfo of a URL."""
    text = _USERINFO.sub(r"\1***@", text)
    for name, value in os.environ.items():
        if len(value) >= 6 and _SECRET_NAME.search(name) and value in text:
            text = text.replace(value, "***")
    return text


# --- the filesystem of a URL ------------------------------------------------------------------


def _filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem serving `url` and the path inside it; SourceError if its package is missing."""
    scheme = scheme_of(url) or ""
    url = scheme + url[len(scheme) :]  # S3://... as s3://...
    package, extra = SCHEMES[scheme]
    try:
        import fsspec

        cls = fsspec.get_filesystem_class(scheme)
    except ImportError as exc:
        if importlib.util.find_spec(package) is None:
            raise SourceError(
                f"{url} needs the {package} package, which is not installed; "
                f"install it with: pip install 'evmon[{extra}]'"
            ) from exc
        raise SourceError(
            f"{url}: cannot load {package} ({store_reason(exc)}); reinstall it with: pip install 'evmon[{extra}]'"
        ) from exc
    options = tuple(sorted(cls._get_kwargs_from_urls(url).items()))
    environ = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_STORE_ENV)))
    return _instance(scheme, options, environ, os.getpid()), cls._strip_protocol(url)


@functools.lru_cache(maxsize=16)
def _instance(scheme: str, options: tuple[tuple[str, Any], ...], environ: tuple[Any, ...], pid: int) -> Any:
    """One client per store, process and environment (a forked worker or new credentials: a new client)."""
    import fsspec

    with _store_errors():
        return fsspec.filesystem(scheme, skip_instance_cache=True, **dict(options))


def _exact(fs: Any, stripped: str) -> dict[str, Any]:
    try:
        return {stripped: fs.info(stripped)}
    except FileNotFoundError:
        return {}


def _file_url(pattern: str, stripped: str, name: str) -> str:
    """A matched file's URL, written as the pattern's URL is (e.g. keeping an abfs account)."""
    url_prefix, stripped_prefix = _folder_of(pattern), _folder_of(stripped)
    if name.startswith(stripped_prefix):
        return url_prefix + name[len(stripped_prefix) :]
    return f"{scheme_of(pattern)}://{name}"


def _folder_of(path: str) -> str:
    """The path up to the last '/' before its first glob character."""
    match = _GLOB_CHARS.search(path)
    head = path if match is None else path[: match.start()]
    return head[: head.rfind("/") + 1]


def _version(info: dict[str, Any]) -> str:
    for key in ("ETag", "etag", "generation", "md5Hash", "LastModified", "last_modified", "mtime", "updated"):
        if info.get(key) is not None:
            return str(info[key])
    return ""


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """Any failure of a store's client as a StoreError of one line."""
    try:
        yield
    except (SourceError, StoreError):
        raise
    except FileNotFoundError as exc:
        raise StoreFileNotFound(store_reason(exc)) from exc
    except Exception as exc:
        raise StoreError(store_reason(exc)) from exc


class _ErrorsAsOSError:
    """A remote file object whose reads raise StoreError (one line) for any failure of the store."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def read(self, size: int = -1) -> bytes:
        with _store_errors():
            return bytes(self._handle.read(size))

    def readline(self, size: int = -1) -> bytes:
        """Up to and including the next newline, at most `size` bytes (fsspec's readline has no limit)."""
        start = self.tell()
        data = self.read(size if size >= 0 else -1)
        cut = data.find(b"\n")
        if cut >= 0:
            data = data[: cut + 1]
        self.seek(start + len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        with _store_errors():
            return int(self._handle.seek(offset, whence))

    def tell(self) -> int:
        return int(self._handle.tell())

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed)

    def close(self) -> None:
        with _store_errors():
            self._handle.close()

    def __enter__(self) -> _ErrorsAsOSError:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.cache
def _arrow_handler() -> type:
    """pyarrow's view of an fsspec store (a class built on first use: pyarrow.fs is imported lazily)."""
    import pyarrow as pa
    from pyarrow.fs import FSSpecHandler

    class ArrowHandler(FSSpecHandler):
        """Exact ranged reads (no read-ahead: pyarrow asks for the column chunks it needs), errors as StoreError."""

        def get_file_info(self, paths: list[str]) -> Any:
            with _store_errors():
                return super().get_file_info(paths)

        def open_input_file(self, path: str) -> Any:
            with _store_errors():
                handle = self.fs.open(path, mode="rb", cache_type="none")
            return pa.PythonFile(_ErrorsAsOSError(handle), mode="r")

    return ArrowHandler
