"""Grafana's notification policy tree, as Grafana (and Alertmanager) route an alert through it.

A small matcher of the semantics evmon's generated tree relies on (grafana/alerting's routing is
Alertmanager's dispatch.Route.Match): labels with an empty value are dropped before routing
(grafana/alerting PutAlerts: "Skip empty and namespace UID labels"); a route matches when all its
object_matchers match (`=`, `!=`, `=~`, `!~`, regexes anchored; a missing label is ''); the children
are tried in order, the first that matches wins unless it sets `continue`, which goes on to the next;
a node none of whose children matches is where the alert ends (the root: the default route); a child
without a receiver inherits its parent's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def matches(matcher: list[str], labels: Mapping[str, str]) -> bool:
    name, op, value = matcher
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    hit = re.fullmatch(value, actual) is not None
    if op == "=~":
        return hit
    if op == "!~":
        return not hit
    raise AssertionError(f"unknown matcher operator {op!r}")


def receivers_for(tree: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    """The contact points an alert with `labels` is sent to (empty labels dropped first)."""
    present = {k: v for k, v in labels.items() if v != ""}
    return [str(node["receiver"]) for node in _walk(tree, present, str(tree["receiver"]))]


def _walk(node: Mapping[str, Any], labels: Mapping[str, str], inherited: str) -> list[Mapping[str, Any]]:
    node = {**node, "receiver": node.get("receiver") or inherited}
    found: list[Mapping[str, Any]] = []
    for child in node.get("routes", []):
        if all(matches(m, labels) for m in child.get("object_matchers", [])):
            found += _walk(child, labels, node["receiver"])
            if not child.get("continue"):
                break
    return found or [node]
