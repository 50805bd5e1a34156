"""A model card per run (Markdown, and HTML rendered by `reports`): what the model is for, how it was trained,
how well it does overall, against baselines and by subgroup, and what it must not be used for.

Counts in the card (people, events) go through `core.disclosure`: the card is an aggregate that may
travel beyond the analysts. A count shown alone through `safe_count` (1-7 suppressed as `*`, others
rounded to 5); counts that add up to one shown beside them (the subgroups of each grouping, the
deciles of the calibration table, the risk tiers and segments) as one table with that total
(`protect_table`, secondary suppression included), so no suppressed cell follows by subtraction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from cohort.aggregates import pyramid_table
from cohort.model import OUTCOME, RiskModel, RunResult
from cohort.segments import segment_table
from core.disclosure import SUPPRESSED, protect_table, safe_count_text
from core.files import write_public
from core.tables import markdown_table
from reports import charts, markdown_html, render, write_page

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
    """A count shown alone: "—" when not known, else `safe_count_text`."""
    return "—" if n is None else safe_count_text(int(n))


def _already_published(n: Any) -> str:
    """A count a protected table published already (null: suppressed)."""
    return SUPPRESSED if n is None else str(n)


def _subgroup_rows(subgroups: pl.DataFrame) -> list[list[str]]:
    """The subgroup table's rows. Each grouping (sex, age band, ...) splits the held-out people, whose
    people and events the card shows, so its counts are protected with that total (`protect_table`)."""
    shown: dict[tuple[str, str, str], str] = {}
    for (group,), part in subgroups.group_by("group", maintain_order=True):
        for count in ("n", "events"):
            safe = protect_table(part.select("value", pl.col(count).cast(pl.Int64).alias("n")), ["value"])
            for value, display in safe.filter(~pl.col("total")).select("value", "n_display").iter_rows():
                shown[(str(group), str(value), count)] = str(display)
    return [
        [r["group"], r["value"], shown[(r["group"], r["value"], "n")], shown[(r["group"], r["value"], "events")],
         *(_fmt(r.get(k)) for k in _METRICS)]
        for r in subgroups.iter_rows(named=True)
    ]  # fmt: skip


def _metric_row(label: str, m: dict[str, Any]) -> list[str]:
    return [label, _published(m.get("n")), _published(m.get("events")), *(_fmt(m.get(k)) for k in _METRICS)]


def _status(model: RiskModel, overall: dict[str, Any]) -> str:
    """Whether a model was fitted and calibrated, and if not why (cohort.model: small or degenerate data)."""
    if getattr(model, "status", "trained") != "trained":
        return f"not trained, no risk scores this run: {model.reason}."
    return f"trained; calibration {overall.get('calibration_status', 'computed')}."


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
        f"- **Status:** {_status(model, ev.overall)}",
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
                [str(r["bin"]), _already_published(r["n"]), _fmt(r["mean_predicted"]), _fmt(r["observed"])]
                for r in ev.calibration.iter_rows(named=True)
            ],
        ),  # fmt: skip
        "",
        "## By subgroup",
        "",
        markdown_table(
            ["group", *head],
            _subgroup_rows(ev.subgroups),
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


def calibration_figure(calibration: pl.DataFrame) -> charts.Figure:
    """Observed rate against mean predicted risk by decile, beside the line of perfect calibration."""
    calibration = calibration.filter(pl.col("observed").is_not_null())  # suppressed counts: no point
    predicted = [float(v) for v in calibration["mean_predicted"].to_list()]
    observed = [float(v) for v in calibration["observed"].to_list()]
    top = max([*predicted, *observed, 1e-6]) * 1.05
    return charts.calibration(predicted, observed, top=top, title="Calibration by decile of predicted risk")


def render_html(result: RunResult, *, created_at: str | None = None) -> str:
    """The model card as one HTML page: the Markdown card rendered, with the calibration chart."""
    markdown = render_markdown(result, created_at=created_at)
    head, _, rest = markdown.partition("## Calibration (deciles of predicted risk)")
    return render(
        "model_card.html.j2",
        title=f"Model card: {result.model.version}",
        before=markdown_html(head.split("\n", 1)[1]),
        after=markdown_html("## Calibration (deciles of predicted risk)" + rest),
        calibration=calibration_figure(result.evaluation.calibration),
        assets="assets",
    )


def write_model_card(
    result: RunResult, out_dir: Path, *, page: Path, created_at: str | None = None
) -> tuple[Path, Path]:
    """Write `model_card.md` into `out_dir` (kept with the model version) and the HTML card to `page`
    (the reports folder, where the chart assets are); returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "model_card.md"
    write_public(md, render_markdown(result, created_at=created_at).encode("utf-8"))
    write_page(page, render_html(result, created_at=created_at), assets=page.parent)
    return md, page
