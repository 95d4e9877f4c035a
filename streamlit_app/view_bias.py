"""The compare view's Fairness and Outliers sections: both days' figures with their deltas (evmon.compare.bias)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evmon.compare.bias import Section, bias_table, compare_bias, headline_figures, headline_label, value_text
from evmon.compare.rows import delta_text
from evmon.compare.values import SnapshotValues

SECTIONS: tuple[tuple[Section, str, str], ...] = (
    (
        "fairness",
        "Fairness, by largest change",
        "Per sensitive column: disparate impact (lowest / highest selection rate of the ranked groups), "
        "equalized odds difference (labelled days) and each group's selection rate.",
    ),
    (
        "outliers",
        "Outliers, by largest change",
        "Per watched column: the share of values outside the reference's range, or of categories it never "
        "holds; for the rows: the share the IsolationForest fitted on the reference scores as outliers, and on "
        "labelled days the model's quality on those rows and on the others (what the outliers cost).",
    ),
)


def render_bias(a: SnapshotValues, b: SnapshotValues) -> None:
    for section, title, caption in SECTIONS:
        deltas = compare_bias(a.bias, b.bias, section)
        if not deltas:
            continue
        st.subheader(title)
        st.caption(caption)
        heads = headline_figures(deltas)
        for cell, d in zip(st.columns(max(len(heads), 1)), heads, strict=False):
            change, arrow = delta_text(d.delta, "{:.4f}")
            cell.metric(
                headline_label(d),
                value_text(d.b, d.undefined_b),
                delta=change,
                delta_color="off",
                delta_arrow=arrow,  # type: ignore[arg-type]
            )
        st.table(pd.DataFrame(bias_table(deltas)).set_index("column"))
