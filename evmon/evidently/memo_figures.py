"""One histogram figure per column and Report in Evidently 0.7.23, instead of one per statistic.

Each statistic of a numerical column in a DataSummaryPreset (min, max, mean, std, every
quantile...) renders its own widget: the same histogram of the column, current against
reference, under its own title. Evidently builds that plotly figure anew for every statistic
(``plot_distr_with_perc_button``: plotly's make_subplots and update, with their per-property
validation), about six times per column and Report, and it is most of a summary's time.

Within `evmon.evidently.memo.memoized()` the figure of one histogram is built once per Report (the
histogram itself is the memo's: the same object for the same column) and each statistic's widget
is made from it exactly as Evidently makes it (``plotly_figure``, which copies the figure into its
widget): the same widget JSON. Installed by `evmon.evidently.memo.install()`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from evmon.evidently.memo_keys import ACTIVE

ORIGINALS: dict[str, Callable[..., Any]] = {}
_STATISTICS = "evidently.metrics.column_statistics"


def install() -> None:
    """Wrap the column statistics' widget (called once, under memo's install lock)."""
    statistics = importlib.import_module(_STATISTICS)
    ORIGINALS["distribution"] = statistics.distribution
    setattr(statistics, "distribution", _distribution_widget)  # noqa: B010  (a module's name, at runtime)


def _distribution_widget(title: str, current: Any, reference: Any) -> Any:
    """Evidently's `distribution(title, current, reference)`, with the figure built once per histogram."""
    memo = ACTIVE.get()
    if memo is None:
        return ORIGINALS["distribution"](title, current, reference)
    from evidently.legacy.metric_results import HistogramData
    from evidently.legacy.options import ColorOptions
    from evidently.legacy.renderers.html_widgets import WidgetSize, plotly_figure

    statistics = importlib.import_module(_STATISTICS)
    histograms = statistics.get_distribution_for_column(
        column_type=current.type.value,
        current=current.data,
        reference=reference.data if reference is not None else None,
    )
    key = ("figure", id(histograms))
    hit = memo.get(key)
    if hit is None:
        distr_cur, distr_ref = histograms
        figure = statistics.plot_distr_with_perc_button(
            hist_curr=HistogramData.from_distribution(distr_cur),
            hist_ref=HistogramData.from_distribution(distr_ref),
            xaxis_name="",
            yaxis_name="Count",
            yaxis_name_perc="Percent",
            same_color=False,
            color_options=ColorOptions(),
            subplots=False,
            to_json=False,
            current_name="current",
            reference_name="reference",
        )
        hit = (figure, [histograms])  # the histograms kept alive: their id stays theirs
        memo[key] = hit
    return [plotly_figure(title=title, figure=hit[0], size=WidgetSize.FULL)]
