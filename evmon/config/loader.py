"""Loading projects.yaml: YAML, ${ENV} interpolation, validation, one message per problem.

Every problem names the file, the key path (``projects[1].source.path``), the bad value and
what was expected. Secrets never live in the file: ``${VAR}`` (or ``${VAR:-default}``) is
replaced by the environment variable's value; ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from evmon.config.model import _UNSET, AtKey, EvmonConfig
from evmon.errors import ConfigError

DEFAULT_CONFIG = Path("projects.yaml")
_ENV_REF = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(path: str | Path = DEFAULT_CONFIG, environ: Mapping[str, str] | None = None) -> EvmonConfig:
    """Read and validate a projects.yaml; ConfigError lists every problem found."""
    file = Path(path)
    env = os.environ if environ is None else environ
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: file not found; expected a projects.yaml (point -c/--config at it)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{file}{where}: invalid YAML: {problem}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping with a 'projects' list at the top, got {type(raw).__name__}")
    problems: list[str] = []
    data = _interpolate(raw, (), env, file, problems)
    if problems:
        raise ConfigError(_summary(file, problems), problems)
    try:
        config = EvmonConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(file, error) for error in _without_shadowed(exc.errors())]
        raise ConfigError(_summary(file, problems), problems) from exc
    config._source_file = file
    return config


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when projects.yaml is edited or replaced (mtime, size, inode); None: it is not there."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _summary(file: Path, problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{file}: {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)


def _interpolate(value: Any, loc: tuple[Any, ...], env: Mapping[str, str], file: Path, problems: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, k), env, file, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), env, file, problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, name, default = match.group(1), match.group(2), match.group(3)
        if escaped:
            return match.group(0)[1:]
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(
            f"{file}: {format_loc(loc)}: environment variable {name} is not set "
            f"(referenced as ${{{name}}}); expected it in the environment, or write ${{{name}:-default}}"
        )
        return ""

    return _ENV_REF.sub(substitute, value)


def format_loc(loc: tuple[Any, ...]) -> str:
    """('projects', 1, 'source', 'path') -> 'projects[1].source.path'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(file: Path, error: Mapping[str, Any]) -> str:
    loc, model_loc = _clean_loc(tuple(error["loc"]))
    where = format_loc(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model_loc)
        key = str(loc[-1])
        hint = difflib.get_close_matches(key, allowed, n=1)
        did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
        return f"{file}: {where}: unknown key {key!r}; {did_you_mean}expected one of: {', '.join(allowed)}"
    if kind == "missing":
        return f"{file}: {where}: required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    cause = (error.get("ctx") or {}).get("error")
    suggestion = ""
    if isinstance(cause, AtKey):
        where = f"{where}.{cause.path}" if loc else cause.path
        if cause.value is _UNSET:
            return f"{file}: {where}: {message}"
        value = cause.value
        suggestion = f"; {cause.hint}" if cause.hint else ""
    if isinstance(value, date):
        value = value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{file}: {where}: {message} (got {value!r}){suggestion}"
    return f"{file}: {where}: {message}{suggestion}"


def _without_shadowed(errors: list[Any]) -> list[Any]:
    """Drop "X is missing" where an unknown key next to it is a typo of X (one problem, not two)."""
    typos: set[tuple[Any, ...]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            allowed = _allowed_keys(_clean_loc(loc)[1])
            for match in difflib.get_close_matches(str(loc[-1]), allowed, n=1):
                typos.add((*loc[:-1], match))
    return [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"]) in typos)]


def _clean_loc(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Drop pydantic's union tags from a location; keep them aside to walk the model."""
    shown: list[Any] = []
    walk: list[Any] = []
    tags = {"source": {"files", "sql"}, "row_log": {"parquet", "postgres"}}
    for i, part in enumerate(loc):
        walk.append(part)
        if isinstance(part, str) and i > 0 and part in tags.get(str(loc[i - 1]), ()):
            continue
        if isinstance(part, str) and part.startswith(("function-", "tagged-union[")):
            continue
        shown.append(part)
    return tuple(shown), tuple(walk)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at the parent of `loc` accepts."""
    current: Any = EvmonConfig
    for part in loc[:-1]:
        current = _step(current, part)
        if current is None:
            return []
    model = _model_in(current)
    return list(model.model_fields) if model is not None else []


def _step(current: Any, part: Any) -> Any:
    if isinstance(part, int):
        args = typing.get_args(current)
        return args[0] if args else None
    model = _model_in(current, tag=part)
    if model is None:
        return None
    if part in model.model_fields:
        return model.model_fields[part].annotation
    return model  # a union tag: stay on the chosen member


def _model_in(annotation: Any, tag: Any = None) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0], tag)
    if origin in (typing.Union, types.UnionType):
        members = [m for m in (_model_in(a) for a in typing.get_args(annotation)) if m is not None]
        for member in members:
            type_field = member.model_fields.get("type")
            if tag is not None and type_field is not None and tag in typing.get_args(type_field.annotation):
                return member
        return members[0] if members else None
    if origin is dict:
        return _model_in(typing.get_args(annotation)[1], tag)
    return None
