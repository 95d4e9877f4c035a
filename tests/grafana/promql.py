"""PromQL of the Prometheus dashboard, read without Prometheus: the series it selects, the metrics that exist.

- `selectors(expr)`: every series selector of an expression (metric name and label matchers), found by
  a small scanner that skips strings, ranges, grouping clauses and function names;
- `known_series()`: every series name Prometheus can hold here, with its labels: the "Prometheus
  metrics" table of docs/grafana-prometheus.md (what the exporters produce; tests/prometheus checks the
  table against real scrapes), a histogram's _bucket/_sum/_count, the recording rules of prometheus/rules/evmon.yml
  (their labels from their names' level: `project:...` keeps `project`), and Prometheus's own `up`;
- `interpolate(expr, ...)`: the dashboard variables replaced the way Grafana's Prometheus datasource
  replaces them (public/app/plugins/datasource/prometheus: interpolateQueryExpr; $__rate_interval is
  max($__interval + scrape interval, 4 x scrape interval)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import yaml

from tests.grafana.provisioned import REPO

RULES = [REPO / "prometheus" / "rules" / name for name in ("evmon.yml", "online.yml")]
TARGET_LABELS = frozenset({"job", "instance"})  # Prometheus adds them to every scraped series
KEYWORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
    }
)
AGGREGATIONS = ("sum", "min", "max", "avg", "count", "stddev", "stdvar", "group", "topk", "bottomk", "quantile")
GRAFANA_VARIABLES = frozenset({"__interval", "__rate_interval", "__range"})

_TOKEN = re.compile(
    r'(?P<string>"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\')'
    r"|(?P<range>\[[^\]]*\])"
    r"|(?P<grouping>\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))"
    r"|(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?P<matchers>\{[^}]*\})?"
    r"|(?P<bare>\{[^}]*\})"
)
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"')


@dataclass(frozen=True)
class Selector:
    name: str  # "" for a selector of labels only ({job=~"..."})
    matchers: dict[str, tuple[str, str]]  # label -> (operator, value)
    function: bool = False  # the name is called: a function or an aggregation, not a metric


def selectors(expr: str) -> list[Selector]:
    """The series selectors of `expr`, in order (names followed by "(" are functions, not metrics)."""
    out = []
    for match in _TOKEN.finditer(expr):
        if match.group("bare"):
            out.append(Selector("", _matchers(match.group("bare"))))
        name = match.group("name")
        if not name or name in KEYWORDS:
            continue
        if expr[match.start() - 1 : match.start()] == "$":
            continue  # a Grafana variable outside a string or range (the conventions test refuses it)
        rest = expr[match.end() :].lstrip()
        called = not match.group("matchers") and (rest.startswith("(") or re.match(r"(by|without)\b", rest) is not None)
        out.append(Selector(name, _matchers(match.group("matchers") or "{}"), called))
    return [s for s in out if not s.function]


def _matchers(text: str) -> dict[str, tuple[str, str]]:
    return {label: (op, value) for label, op, value in _MATCHER.findall(text)}


def result_labels(expr: str, labels_of: dict[str, frozenset[str]]) -> frozenset[str]:
    """The labels every series of `expr`'s result keeps: an outer `agg by (...)`'s, none for a plain
    aggregation, else those of the series it selects (with the target's job and instance)."""
    outer = re.match(rf"^\s*(?:{'|'.join(AGGREGATIONS)})\s+by\s*\(([^)]*)\)", expr)
    if outer:
        return frozenset(label.strip() for label in outer.group(1).split(",") if label.strip())
    if re.match(rf"^\s*(?:{'|'.join(AGGREGATIONS)})\s*\(", expr):
        return frozenset()
    found = [labels_of.get(s.name, frozenset()) for s in selectors(expr) if s.name]
    return frozenset.intersection(*found) if found else frozenset()


def legend_labels(legend: str) -> set[str]:
    return set(re.findall(r"\{\{\s*([a-zA-Z_]\w*)\s*\}\}", legend))


# --- what exists ---------------------------------------------------------------------------------------


def _documented_table() -> dict[str, tuple[str, frozenset[str]]]:
    """The "Prometheus metrics" table of docs/grafana-prometheus.md: name -> (type, labels)."""
    page = (REPO / "docs" / "grafana-prometheus.md").read_text()
    section = page.split("## Prometheus metrics", 1)[1].split("\n## ", 1)[0]
    out = {}
    for name, kind, labels in re.findall(r"^\| `([a-z_]+)` \| (\w+) \|\s*([^|]*?)\s*\|", section, flags=re.MULTILINE):
        out[name] = (kind, frozenset(label.strip() for label in labels.split(",") if label.strip()))
    return out


def recording_rules() -> dict[str, str]:
    """The recording rules of prometheus/rules/evmon.yml and online.yml: name -> expression."""
    groups = [group for rules in RULES for group in yaml.safe_load(rules.read_text())["groups"]]
    return {rule["record"]: rule["expr"] for group in groups for rule in group["rules"] if "record" in rule}


@cache
def known_series() -> dict[str, frozenset[str]]:
    """Every series name Prometheus holds here -> its labels (see the module's docstring)."""
    out: dict[str, frozenset[str]] = {"up": TARGET_LABELS}
    for name, (kind, labels) in _documented_table().items():
        scraped = labels | TARGET_LABELS
        if kind == "histogram":
            out[f"{name}_bucket"] = scraped | {"le"}
            out[f"{name}_sum"] = out[f"{name}_count"] = scraped
        else:
            out[name] = scraped
    labels = frozenset().union(*out.values())
    for name in recording_rules():
        # Prometheus's naming convention, level:metric:operations, the level naming the labels kept
        out[name] = frozenset(name.split(":")[0].split("_")) & labels
    return out


def counters() -> set[str]:
    """Names rate() and increase() may read: counters and histogram buckets."""
    return {n for n, (kind, _) in _documented_table().items() if kind == "counter"} | {
        f"{n}_bucket" for n, (kind, _) in _documented_table().items() if kind == "histogram"
    }


# --- Grafana's interpolation ---------------------------------------------------------------------------


def regex_value(projects: list[str] | None, all_value: str) -> str:
    """$project of a multi-value variable in PromQL: the all value, one escaped value, or (a|b)."""
    if projects is None:
        return all_value
    escaped = [re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", p) for p in projects]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(
    expr: str,
    projects: list[str] | None,
    all_value: str,
    scrape_s: int,
    interval_s: int = 60,
    range_s: int = 86400,
) -> str:
    """`expr` as Grafana sends it: $project (None: "All"), $__interval, $__rate_interval, $__range."""
    values = {
        "project": regex_value(projects, all_value),
        "__interval": f"{interval_s}s",
        "__rate_interval": f"{max(interval_s + scrape_s, 4 * scrape_s)}s",
        "__range": f"{range_s}s",
    }
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values[m.group(1) or m.group(2)], expr)
