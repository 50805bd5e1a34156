"""Plotly figures (as JSON-ready dicts) for the pages: built from figures the caller has already made
safe to publish; nothing here counts anything.

Each builder returns ``{"data": [...], "layout": {...}}``, validated by `plotly.graph_objects`, which a
page embeds as JSON and `static/charts.js` draws with the plotly.js shipped beside the pages. A value of
None (a suppressed or blank cell) is a gap in the chart, never a zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

Figure = dict[str, Any]
_FONT = {"family": "system-ui, sans-serif", "size": 12}
NHS_BLUE = "#005eb8"
_PALETTE = ("#005eb8", "#ed8b00", "#009639", "#7c2855", "#00a9ce", "#ae2573", "#425563", "#ffb81c")


def _figure(data: Any, layout: dict[str, Any], *, title: str, height: int = 360) -> Figure:
    """Validate the traces and the whole layout in one `go.Figure` and return its JSON form.

    The layout is given whole to the constructor (no `update_layout`: each call walks plotly's property
    tree again, and that was most of the overview site's time), with an empty template: plotly would
    otherwise deep-copy its default template into every figure, and none is published anyway
    (plotly_white's look is inlined below). Pages serialise figures with sorted keys (Jinja's
    `tojson`), so the published JSON is the same as when the layout was set step by step."""
    fig = go.Figure(data, layout={"template": {}, **layout, "title": {"text": title, "x": 0}, "font": _FONT,
                                  "height": height, "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
                                  "colorway": list(_PALETTE)})  # fmt: skip
    out: Figure = json.loads(pio.to_json(fig, validate=True))
    out["layout"].pop("template", None)  # plotly_white is inlined below: smaller pages, same look
    out["layout"].update(paper_bgcolor="white", plot_bgcolor="white")
    return out


def _over_categories(y_title: str) -> dict[str, Any]:
    """The layout of points over categories (estimates, lines): a y axis from zero."""
    return {"yaxis": {"title": {"text": y_title}, "rangemode": "tozero"}, "xaxis": {"type": "category"}}


def rate_floor(values: Sequence[float | None]) -> float:
    """The bottom of a rate scale: to the 5 % below the lowest rate seen, less 5 %, so 88 % and 100 %
    look different (a 0-100 % scale would paint both bright)."""
    seen = [v for v in values if v is not None]
    return max(0.0, int(min(seen) * 20) / 20 - 0.05) if seen else 0.0


def heatmap(
    z: Sequence[Sequence[float | None]], *, x: Sequence[str], y: Sequence[str], title: str,
    zmin: float, zmax: float, scale_title: str, percent: bool = True,
) -> Figure:  # fmt: skip
    """Cells coloured on a sequential scale from `zmin` to `zmax` (chosen by the caller to spread the
    values seen), labelled with their value; blank cells stay blank."""
    text = [["" if v is None else (f"{100 * v:.0f}%" if percent else f"{v:g}") for v in row] for row in z]
    heat = (go.Heatmap(z=[list(r) for r in z], x=list(x), y=list(y), zmin=zmin, zmax=zmax,
                               colorscale="Viridis", text=text, texttemplate="%{text}", hoverongaps=False,
                               colorbar={"title": {"text": scale_title},
                                         "tickformat": ".0%" if percent else ""}))  # fmt: skip
    layout = {
        "yaxis": {"type": "category", "autorange": "reversed"},
        "xaxis": {"type": "category", "side": "top"},
    }
    return _figure(heat, layout, title=title, height=max(300, 60 + 22 * len(y)))


def bars(
    series: Mapping[str, Sequence[float | None]], *, x: Sequence[str], title: str, x_title: str = "",
    y_title: str = "", stacked: bool = False, horizontal: bool = False, percent: bool = False,
) -> Figure:  # fmt: skip
    """Bars, one trace per series (grouped, or stacked)."""
    traces = []
    for name, values in series.items():
        vals = list(values)
        traces.append(go.Bar(name=name, x=vals if horizontal else list(x), y=list(x) if horizontal else vals,
                             orientation="h" if horizontal else "v"))  # fmt: skip
    value_axis = {"title": {"text": y_title}, "tickformat": ".0%" if percent else ""}
    category_axis = {"title": {"text": x_title}, "type": "category"}
    layout = {"barmode": "stack" if stacked else "group", "showlegend": len(series) > 1,
              "xaxis": value_axis if horizontal else category_axis,
              "yaxis": category_axis if horizontal else value_axis}  # fmt: skip
    return _figure(traces, layout, title=title, height=max(320, 80 + 24 * len(x)) if horizontal else 360)


def pyramid(bands: Sequence[str], left: Sequence[int | None], right: Sequence[int | None], *,
            names: tuple[str, str], title: str) -> Figure:  # fmt: skip
    """A population pyramid: `left` drawn to the left of the axis, `right` to the right."""
    neg = [None if v is None else -v for v in left]
    traces = [
        go.Bar(name=names[0], y=list(bands), x=neg, orientation="h", customdata=list(left),
               hovertemplate="%{y}: %{customdata}<extra>" + names[0] + "</extra>"),
        go.Bar(name=names[1], y=list(bands), x=list(right), orientation="h",
               hovertemplate="%{y}: %{x}<extra>" + names[1] + "</extra>"),
    ]  # fmt: skip
    layout = {"barmode": "overlay", "bargap": 0.1, "xaxis": {"title": {"text": "people"}},
              "yaxis": {"type": "category", "title": {"text": "age band"}}}  # fmt: skip
    return _figure(traces, layout, title=title, height=420)


def estimates(
    groups: Mapping[str, tuple[Sequence[str], Sequence[float | None], Sequence[float | None], Sequence[float | None]]],
    *, title: str, y_title: str,
) -> Figure:  # fmt: skip
    """Point estimates with confidence intervals, one trace per group: name -> (x, value, low, high)."""
    traces = []
    for name, (x, value, low, high) in groups.items():
        plus = [None if v is None or h is None else h - v for v, h in zip(value, high, strict=True)]
        minus = [None if v is None or lo is None else v - lo for v, lo in zip(value, low, strict=True)]
        traces.append(go.Scatter(name=name, x=list(x), y=list(value), mode="markers",
                                 error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": True}))  # fmt: skip
    return _figure(traces, _over_categories(y_title), title=title)


def lines(
    series: Mapping[str, Sequence[float | None]], *, x: Sequence[str], title: str, y_title: str
) -> Figure:
    """One line per series over `x` (loads, months)."""
    traces = [go.Scatter(name=k, x=list(x), y=list(v), mode="lines+markers") for k, v in series.items()]
    return _figure(traces, _over_categories(y_title), title=title)


def calibration(predicted: Sequence[float], observed: Sequence[float], *, top: float, title: str) -> Figure:
    """Observed against predicted, with the diagonal of perfect calibration."""
    traces = [
        go.Scatter(name="perfect calibration", x=[0, top], y=[0, top], mode="lines",
                   line={"dash": "dash", "color": "#999999"}),
        go.Scatter(name="model", x=list(predicted), y=list(observed), mode="lines+markers",
                   line={"color": NHS_BLUE}),
    ]  # fmt: skip
    layout = {"xaxis": {"title": {"text": "mean predicted risk"}, "range": [0, top]},
              "yaxis": {"title": {"text": "observed rate"}, "range": [0, top]}}  # fmt: skip
    return _figure(traces, layout, title=title, height=420)
