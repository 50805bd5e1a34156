"""A model card per run (Markdown and self-contained HTML): what the model is for, how it was trained,
how well it does overall, against baselines and by subgroup, and what it must not be used for.

Counts in the card (people, events) go through primary suppression and rounding
(`core.disclosure.round_and_suppress`): the card is an aggregate that may travel beyond the analysts.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cohort.aggregates import pyramid_table
from cohort.model import OUTCOME, RiskModel, RunResult
from cohort.segments import segment_table
from core.disclosure import round_and_suppress
from core.tables import markdown_table

_METRICS = ("auroc", "average_precision", "brier", "calibration_intercept", "calibration_slope")

INTENDED_USE = (
    "Population risk stratification for proactive, preventive care planning in the ICS (finding people "
    "who may benefit from case management, and showing where need lies). Scores rank people; they are "
    "not a diagnosis and must not be used alone for individual clinical decisions or to ration care."
)
LIMITATIONS = (
    "Trained and validated on one ICS's data (held-out people, same period): performance can drift as "
    "services and coding change — retrain and re-check each run.",
    "People registered at practices that do not share GP data have no GP-derived features; the model "
    "sees `gp_data_shared` but their risk is less well estimated.",
    "Emergency admissions outside the ICS's providers, and deaths outside hospital for people without GP "
    "data, are not seen.",
    "Ethnic group is not a model input; check the subgroup table for differences in calibration.",
    "There is no maternity feed, so pregnancy is not a feature.",
)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _published(n: Any) -> str:
    if n is None:
        return "—"
    out = round_and_suppress(pl.DataFrame({"n": [int(n)]}))
    return str(out["n_display"][0])


def _metric_row(label: str, m: dict[str, Any]) -> list[str]:
    return [label, _published(m.get("n")), _published(m.get("events")), *(_fmt(m.get(k)) for k in _METRICS)]


def render_markdown(result: RunResult, *, created_at: str | None = None) -> str:
    """The model card as Markdown."""
    model: RiskModel = result.model
    ev = result.evaluation
    w = model.window
    head = ["", "people", "events", "AUROC", "avg precision", "Brier", "cal. intercept", "cal. slope"]
    lines = [
        f"# Model card: {model.version}",
        "",
        f"- **Outcome:** {OUTCOME} (apc_spell.is_emergency), per person.",
        f"- **Model:** `{model.kind}` (scikit-learn), {len(model.inputs)} inputs.",
        f"- **Training window:** features as at {w.features_as_of}, outcome in ({w.features_as_of}, {w.outcome_end}].",
        f"- **Scored as at:** {w.score_date}; {_published(result.scores.height)} people scored.",
        f"- **Validation:** held-out people ({_published(ev.n_validation)}; trained on {_published(ev.n_train)}).",
        f"- **Created:** {created_at or 'not recorded'}.",
        "",
        "## Intended use",
        "",
        INTENDED_USE,
        "",
        "## Performance on held-out people",
        "",
        markdown_table(
            head,
            [_metric_row("model", ev.overall)]
            + [_metric_row(f"baseline: {k}", v) for k, v in ev.baselines.items()],
        ),
        "",
        "Calibration intercept and slope are from the logistic recalibration y ~ a + b·logit(p): a well "
        "calibrated model has a ≈ 0 and b ≈ 1 (b < 1: predictions too extreme).",
        "",
        "## Calibration (deciles of predicted risk)",
        "",
        markdown_table(
            ["decile", "people", "mean predicted", "observed"],
            [
                [str(r["bin"]), _published(r["n"]), _fmt(r["mean_predicted"]), _fmt(r["observed"])]
                for r in ev.calibration.iter_rows(named=True)
            ],
        ),  # fmt: skip
        "",
        "## By subgroup",
        "",
        markdown_table(
            ["group", *head],
            [[r["group"], *_metric_row(r["value"], r)] for r in ev.subgroups.iter_rows(named=True)],
        ),
        "",
        "## Risk tiers (Kaiser pyramid)",
        "",
        markdown_table(
            ["tier", "people", "share", "min score", "max score"],
            [
                [
                    r["risk_tier"] or "total",
                    r["people_display"],
                    _fmt(r["share"]),
                    _fmt(r["min_score"]),
                    _fmt(r["max_score"]),
                ]
                for r in pyramid_table(result.scores).iter_rows(named=True)
            ],
        ),  # fmt: skip
        "",
    ]
    if "segment" in result.features.columns and result.features["segment"].is_not_null().any():
        seg = segment_table(result.features.filter(pl.col("segment").is_not_null()))
        lines += [
            "## Bridges to Health segments",
            "",
            markdown_table(
                ["segment", "people"],
                [[r["segment"] or "total", r["people_display"]] for r in seg.iter_rows(named=True)],
            ),
            "",
        ]
    lines += [
        "## Limitations",
        "",
        *(f"- {x}" for x in LIMITATIONS),
        "",
        "## Inputs",
        "",
        ", ".join(f"`{i}`" for i in model.inputs),
        "",
    ]
    return "\n".join(lines)


def calibration_svg(calibration: pl.DataFrame, size: int = 320) -> str:
    """A small calibration plot (observed vs mean predicted by decile) as inline SVG."""
    calibration = calibration.filter(pl.col("observed").is_not_null())  # suppressed counts: no point
    top = (
        max(
            float(np.nanmax(calibration["mean_predicted"].to_numpy())),
            float(np.nanmax(calibration["observed"].to_numpy())),
            1e-6,
        )
        * 1.05
    )
    pad = 40

    def xy(p: float, o: float) -> tuple[float, float]:
        return pad + p / top * (size - 2 * pad), size - pad - o / top * (size - 2 * pad)

    points = [xy(r["mean_predicted"], r["observed"]) for r in calibration.iter_rows(named=True)]
    (x0, y0), (x1, y1) = xy(0, 0), xy(top, top)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#005eb8"/>' for x, y in points)
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
        f'aria-label="Calibration plot">'
        f'<rect x="{pad}" y="{pad}" width="{size - 2 * pad}" height="{size - 2 * pad}" fill="none" stroke="#999"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#999" stroke-dasharray="4"/>'
        f'<polyline points="{path}" fill="none" stroke="#005eb8"/>{dots}'
        f'<text x="{size / 2}" y="{size - 8}" text-anchor="middle" font-size="12">mean predicted risk</text>'
        f'<text x="12" y="{size / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 12 {size / 2})">observed rate</text>'
        f'<text x="{pad}" y="{size - pad + 14}" font-size="10">0</text>'
        f'<text x="{size - pad}" y="{size - pad + 14}" font-size="10" text-anchor="end">{top:.2f}</text>'
        "</svg>"
    )


def render_html(result: RunResult, *, created_at: str | None = None) -> str:
    """The model card as one self-contained HTML page (Markdown tables rendered, calibration plot inline)."""
    body: list[str] = []
    in_table = False
    for line in render_markdown(result, created_at=created_at).splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
            if line == "## Calibration (deciles of predicted risk)":
                body.append(calibration_svg(result.evaluation.calibration))
        elif line.startswith("- "):
            body.append(f"<p>• {html.escape(line[2:]).replace('**', '')}</p>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    title = html.escape(result.model.version)
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"


def write_model_card(result: RunResult, out_dir: Path, *, created_at: str | None = None) -> tuple[Path, Path]:
    """Write `model_card.md` and `model_card.html` into `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, page = out_dir / "model_card.md", out_dir / "model_card.html"
    md.write_text(render_markdown(result, created_at=created_at))
    page.write_text(render_html(result, created_at=created_at))
    return md, page
