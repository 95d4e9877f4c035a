"""Evidently 0.7.23's drift methods: the one table evmon knows them by.

For each registered stat test: its name (as projects.yaml writes it), the display name a
snapshot stores when Evidently chose the method itself, the column kinds it accepts, and
how a score and a threshold become a verdict (p-values: drift below the threshold;
distances: drift above it), as each test's code in evidently/legacy/calculations/stattests/
decides. The config validates methods with it, the app and the bridge judge drift with it;
tests check it against Evidently's registry and its own verdicts.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Op = Literal["<", "<=", ">", ">="]
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class DriftRule:
    """How one of Evidently's stat tests turns a score and a threshold into a verdict."""

    method: str  # the registered name, as projects.yaml writes it
    display_name: str  # what a snapshot stores when Evidently chose the method itself
    kinds: frozenset[str]  # the column kinds it accepts: "num", "cat"
    score: Literal["p_value", "distance"]
    op: Op

    def drifted(self, score: float, threshold: float) -> bool:
        return _OPS[self.op](score, threshold)

    def describe(self, threshold: float | None) -> str:
        """'drift if p-value < 0.05'."""
        what = "p-value" if self.score == "p_value" else "score"
        limit = "threshold" if threshold is None else f"{threshold:g}"
        return f"drift if {what} {self.op} {limit}"


_NUM, _CAT, _BOTH = frozenset({"num"}), frozenset({"cat"}), frozenset({"num", "cat"})

DRIFT_RULES: tuple[DriftRule, ...] = (
    DriftRule("anderson", "Anderson-Darling", _NUM, "p_value", "<"),
    DriftRule("chisquare", "chi-square p_value", _CAT, "p_value", "<"),
    DriftRule("cramer_von_mises", "Cramer-von Mises", _NUM, "p_value", "<="),
    DriftRule("ed", "Energy-distance", _NUM, "distance", ">"),
    DriftRule("es", "Epps-Singleton", _NUM, "p_value", "<"),
    DriftRule("fisher_exact", "Fisher's Exact test", _CAT, "p_value", "<"),
    DriftRule("g_test", "g_test", _CAT, "p_value", "<"),
    DriftRule("hellinger", "Hellinger distance", _BOTH, "distance", ">="),
    DriftRule("jensenshannon", "Jensen-Shannon distance", _BOTH, "distance", ">="),
    DriftRule("kl_div", "Kullback-Leibler divergence", _BOTH, "distance", ">="),
    DriftRule("ks", "K-S p_value", _NUM, "p_value", "<="),
    DriftRule("mannw", "Mann-Whitney U-rank test", _NUM, "p_value", "<"),
    DriftRule("empirical_mmd", "empirical_mmd", _NUM, "p_value", "<"),
    DriftRule("psi", "PSI", _BOTH, "distance", ">="),
    DriftRule("t_test", "t_test", _NUM, "p_value", "<"),
    DriftRule("TVD", "Total-Variation-Distance", _CAT, "p_value", "<"),
    DriftRule("wasserstein", "Wasserstein distance (normed)", _NUM, "distance", ">="),
    DriftRule("z", "Z-test p_value", _CAT, "p_value", "<"),
)
_RULES_BY_NAME: dict[str, DriftRule] = {r.method: r for r in DRIFT_RULES} | {r.display_name: r for r in DRIFT_RULES}

# method name -> the column kinds it accepts (what projects.yaml is validated against)
DRIFT_METHODS: dict[str, frozenset[str]] = {r.method: r.kinds for r in sorted(DRIFT_RULES, key=lambda r: r.method)}


def drift_rule(method: str | None) -> DriftRule | None:
    """The rule of a method, by registered name or display name; None if unknown."""
    return None if method is None else _RULES_BY_NAME.get(method)


def drift_verdict(method: str | None, score: float | None, threshold: float | None) -> bool | None:
    """Whether Evidently calls this column drifted; None when method, score or threshold is unknown."""
    rule = drift_rule(method)
    if rule is None or score is None or threshold is None or score != score:
        return None
    return rule.drifted(score, threshold)
