"""Features, risk model, scores and tiers, segments, cohorts and aggregates (the cohort/ domain).

Thin assets over `cohort.*`: the warehouse is opened read-only; everything derived lives under
HOME/cohort/ (parquet, tokens only) and HOME/models/<version>/ (model, metadata, model card), written
and read back through `cohort.settings`. Metadata carries metrics and small tables (calibration, risk
pyramid) as Markdown, never row values. The warehouse read is this load's build when the run built
one (`load.warehouse_as_built`), else the published file. `published` writes the cohort step's tables
into the load's build (each a warehouse table asset of its own, with its column schema); the
`published_warehouse` asset then publishes the whole load in one step.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl

import load
from cohort import model as risk
from cohort import settings as stored
from cohort.aggregates import AGGREGATE_BY, people_aggregates, pyramid_table
from cohort.definitions import compile, load_cohorts
from cohort.features import DEFAULT_ALLOWED_FEATURES, FEATURE_COLUMNS
from cohort.features_sql import attach_scores, compute_features
from cohort.model_card import write_model_card
from cohort.publish import (
    AGGREGATE_COLUMNS,
    COHORT_MEMBER_COLUMNS,
    RISK_SCORE_COLUMNS,
    aggregate_table_name,
    cohort_tables,
    publish_tables,
)
from cohort.segments import assign_segments, segment_table
from core.disclosure import safe_counts
from core.diskfull import disk_full_guard
from core.layout import Home
from linkage.warehouse import open_read_only
from linkage.warehouse.schema import ACTIVITY_KEYS, REFERENCE_TABLES
from pipelines.catalog import column_schema, markdown_table, owned
from pipelines.keys import PUBLISHED_KEY, warehouse_key
from pipelines.resources import PhmPaths
from pseudonymisation.release.register import EXAMPLE_REGISTER, load_register
from reports import page_url

# The warehouse tables features and cohorts are computed from.
WAREHOUSE_TABLES = [warehouse_key(t) for t in ("person", *ACTIVITY_KEYS, *REFERENCE_TABLES)]
GROUP = "cohort"
PSEUDONYMISED = owned("pseudonymised")
COHORT_DIR = Path(risk.__file__).resolve().parent / "definitions"
# A cohort definition names the governance-register purpose it serves (the shipped register, which
# `phm release` also falls back to): a cohort for a purpose the register does not know is refused.
PURPOSES = frozenset(p.id for p in load_register(EXAMPLE_REGISTER).purposes)


def _open(home: Home, run_id: str) -> duckdb.DuckDBPyConnection:
    """The warehouse of this load: its build if the run built one, else the published file as it is now
    (read-only; a plain read-only connect can reuse a replaced file)."""
    return open_read_only(load.warehouse_as_built(home, run_id))


def _write(frame: pl.DataFrame, path: Path) -> None:
    """Write one of the cohort step's files; a full disk reads "disk full while writing PATH"."""
    with disk_full_guard(path):
        frame.write_parquet(path)


def _metrics_metadata(m: dict[str, Any]) -> dict[str, Any]:
    return {k: dg.MetadataValue.float(float(v)) for k, v in m.items() if isinstance(v, float)}


class CohortConfig(dg.Config):
    """Score date (ISO; empty: the warehouse's last month end) and model kind ('logistic' or 'hgb')."""

    score_date: str = ""
    kind: str = "logistic"
    seed: int = 0


def _score_date(config: CohortConfig, con: duckdb.DuckDBPyConnection) -> date:
    return date.fromisoformat(config.score_date) if config.score_date else risk.latest_date(con)


@dg.asset(key=["cohort", "training_features"], deps=WAREHOUSE_TABLES, group_name=GROUP,
          kinds={"duckdb", "parquet"}, description="Features as at t - 12 months with the outcome (emergency admission in the next 12 months).",
          **PSEUDONYMISED)  # fmt: skip
def training_features(
    context: dg.AssetExecutionContext, config: CohortConfig, paths: PhmPaths
) -> dg.MaterializeResult:
    home = paths.installation()
    with _open(home, context.run_id) as con:
        t = _score_date(config, con)
        frame = risk.training_frame(con, risk.months_before(t, risk.OUTCOME_MONTHS))
    _write(frame, stored.cohort_dir(home) / "training_features.parquet")
    stored.write_score_date(home, t)
    return dg.MaterializeResult(
        metadata={
            **safe_counts({"dagster/row_count": frame.height}),
            "outcome_rate": round(float(frame["y"].cast(pl.Float64).to_numpy().mean()), 2),
        }
    )


@dg.asset(key=["cohort", "features"], deps=[*WAREHOUSE_TABLES, ["cohort", "training_features"]], group_name=GROUP,
          kinds={"duckdb", "parquet"}, description="Person features as at the score date t (tokens only).",
          **PSEUDONYMISED)  # fmt: skip
def features(context: dg.AssetExecutionContext, paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    t = stored.read_score_date(home)
    with _open(home, context.run_id) as con:
        frame = compute_features(con, t)
    _write(frame, stored.cohort_dir(home) / "features_unscored.parquet")
    return dg.MaterializeResult(
        metadata={**safe_counts({"dagster/row_count": frame.height}), "as_of": t.isoformat()}
    )


@dg.asset(key=["cohort", "risk_model"], deps=[["cohort", "training_features"]], group_name=GROUP,
          kinds={"sklearn"}, description="Emergency admission risk model, versioned with its training window.",
          **PSEUDONYMISED)  # fmt: skip
def risk_model(
    context: dg.AssetExecutionContext, config: CohortConfig, paths: PhmPaths
) -> dg.MaterializeResult:
    home = paths.installation()
    frame = pl.read_parquet(stored.cohort_dir(home) / "training_features.parquet")
    t = stored.read_score_date(home)
    window = risk.TrainingWindow(risk.months_before(t, risk.OUTCOME_MONTHS), t, t)
    kind: risk.Kind = "hgb" if config.kind == "hgb" else "logistic"
    model, evaluation, _ = risk.train(frame, window, kind=kind, seed=config.seed)
    folder = risk.save_model(model, evaluation, home.models_dir)
    stored.write_current_model(home, model.version, folder)
    _write(evaluation.subgroups, folder / "subgroup_metrics.parquet")
    _write(evaluation.calibration, folder / "calibration.parquet")
    calibration = str(evaluation.overall.get("calibration_status", "computed"))
    if model.status != "trained":
        context.log.warning(f"risk model not trained: {model.reason}; no risk scores this run")
    elif calibration != "computed":
        context.log.warning(f"risk model calibration {calibration}")
    return dg.MaterializeResult(
        metadata={
            "version": model.version,
            "status": model.status if model.status == "trained" else f"{model.status}: {model.reason}",
            "calibration_status": calibration,
            "path": dg.MetadataValue.path(str(folder)),
            **_metrics_metadata(evaluation.overall),
            "calibration": markdown_table(evaluation.calibration),
            "baselines": markdown_table(
                pl.DataFrame([{"baseline": k, **v} for k, v in evaluation.baselines.items()])
            ),
            "subgroups": markdown_table(
                evaluation.subgroups.select("group", "value", "auroc", "calibration_slope")
            ),
        }
    )


@dg.asset(key=["cohort", "scores"], deps=[["cohort", "risk_model"], ["cohort", "features"]], group_name=GROUP,
          kinds={"parquet"}, description="person_token, risk_score, risk_tier (Kaiser pyramid), risk_rank.",
          **PSEUDONYMISED)  # fmt: skip
def scores(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    model = risk.load_model(stored.current_model_folder(home))
    table = risk.score(model, pl.read_parquet(stored.cohort_dir(home) / "features_unscored.parquet"))
    _write(table, stored.cohort_dir(home) / "scores.parquet")
    return dg.MaterializeResult(
        metadata={
            **safe_counts({"dagster/row_count": table.height}),
            "model_version": model.version,
            "risk_pyramid": markdown_table(pyramid_table(table).drop("people", "total")),
        }
    )


@dg.asset(key=["cohort", "segments"], deps=[["cohort", "scores"]], group_name=GROUP, kinds={"parquet"},
          description="Bridges-to-Health segments, and the scored features table cohorts compile against.",
          **PSEUDONYMISED)  # fmt: skip
def segments(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    unscored = pl.read_parquet(stored.cohort_dir(home) / "features_unscored.parquet")
    scored = pl.read_parquet(stored.cohort_dir(home) / "scores.parquet").join(
        assign_segments(unscored), on="person_token", how="left"
    )
    final = attach_scores(unscored, scored)
    _write(final, stored.cohort_dir(home) / "features.parquet")
    counts = segment_table(final.filter(pl.col("segment").is_not_null()))
    return dg.MaterializeResult(
        metadata={
            **safe_counts({"dagster/row_count": final.height}),
            "segments": markdown_table(counts.select("segment", "people_display")),
        }
    )


@dg.asset(key=["cohort", "model_card"], deps=[["cohort", "segments"]], group_name=GROUP, kinds={"html"},
          description="Model card (Markdown + HTML) for the current model and run.",
          **PSEUDONYMISED)  # fmt: skip
def model_card(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    result, folder = stored.load_run_result(home)
    # The Markdown card stays with its model version; the HTML card (with its chart) is the current one.
    md, page = write_model_card(result, folder, page=home.model_card)
    return dg.MaterializeResult(
        metadata={
            "markdown": dg.MetadataValue.path(str(md)),
            "html": dg.MetadataValue.url(page_url(home.reports, page)),
        }
    )


@dg.asset(key=["cohort", "cohorts"], deps=[["cohort", "segments"]], group_name=GROUP, kinds={"duckdb", "parquet"},
          description="One token list per cohort definition (cohort/definitions/*.yaml), with reasons.",
          **PSEUDONYMISED)  # fmt: skip
def cohorts(context: dg.AssetExecutionContext, paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    out_dir = stored.cohort_dir(home) / "cohorts"
    out_dir.mkdir(exist_ok=True)
    t = stored.read_score_date(home)
    sizes: dict[str, int] = {}
    with _open(home, context.run_id) as con:
        codelists = {r[0] for r in con.sql("SELECT DISTINCT codelist FROM ref_codelist").fetchall()}
        # Not named `features`: the published warehouse may already hold a `features` table.
        con.register("cohort_features", pl.read_parquet(stored.cohort_dir(home) / "features.parquet"))
        for definition in load_cohorts(COHORT_DIR, allowed_purposes=PURPOSES):
            try:
                query, params = compile(
                    definition, features_table="cohort_features", allowed_features=DEFAULT_ALLOWED_FEATURES,
                    allowed_codelists=codelists, setting_tables=stored.WAREHOUSE_SETTINGS, as_of=t,
                )  # fmt: skip
            except ValueError as exc:  # e.g. a codelist this warehouse does not have: skip, say so
                sizes[definition.id] = -1
                (out_dir / f"{definition.id}.parquet").unlink(missing_ok=True)  # never publish a stale list
                dg.get_dagster_logger().warning(f"cohort {definition.id} skipped: {exc}")
                continue
            members = con.sql(query, params=params).pl()
            _write(members, out_dir / f"{definition.id}.parquet")
            sizes[definition.id] = members.height
    return dg.MaterializeResult(metadata=safe_counts({f"size/{k}": v for k, v in sizes.items()}))


@dg.asset(key=["cohort", "aggregates"], deps=[["cohort", "segments"]], group_name=GROUP, kinds={"parquet"},
          description="People by practice, PCN, place, IMD quintile, ethnic group and risk tier, disclosure-controlled.",
          **PSEUDONYMISED)  # fmt: skip
def aggregates(context: dg.AssetExecutionContext, paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    frame = pl.read_parquet(stored.cohort_dir(home) / "features.parquet").filter(pl.col("alive"))
    with _open(home, context.run_id) as con:
        # practice_place: the place that contains the PCN (practice ⊂ PCN ⊂ place, cohort.aggregates)
        person = con.sql("SELECT person_token, pcn_code, practice_place AS place FROM person").pl()
    frame = frame.join(person, on="person_token", how="left").with_columns(
        ((pl.col("imd_decile") + 1) // 2).alias("imd_quintile")
    )
    out_dir = stored.cohort_dir(home) / "aggregates"
    out_dir.mkdir(exist_ok=True)
    metadata: dict[str, Any] = {}
    for by, safe in people_aggregates(frame).items():
        _write(safe, out_dir / f"people_by_{by}.parquet")
        metadata[f"cells/{by}"] = safe.height
    return dg.MaterializeResult(metadata=metadata)


def published_columns() -> dict[str, tuple[str, dict[str, str]]]:
    """The warehouse tables the cohort step publishes -> (the step they come from, their columns as
    `cohort.publish` fixes them)."""
    return {
        "features": ("segments", dict(FEATURE_COLUMNS)),
        "risk_score": ("scores", dict(RISK_SCORE_COLUMNS)),
        "cohort_member": ("cohorts", dict(COHORT_MEMBER_COLUMNS)),
        **{
            aggregate_table_name(by): ("aggregates", {by: "VARCHAR", **AGGREGATE_COLUMNS})
            for by in AGGREGATE_BY
        },
    }


def _published_specs() -> list[dg.AssetSpec]:
    """A function, not a module-level list: the defs loader would take a list of specs for assets."""
    return [
        dg.AssetSpec(
            key=PUBLISHED_KEY,
            deps=[
                ["cohort", "cohorts"],
                ["cohort", "aggregates"],
                ["cohort", "segments"],
                ["cohort", "scores"],
            ],
            group_name=GROUP,
            kinds={"duckdb"},
            description="The cohort step's tables written into the load's warehouse build (published with "
            "the whole load by published_warehouse); the tables it adds are the warehouse/<table> assets "
            "beside it.",
            **PSEUDONYMISED,
        ),
        *(
            dg.AssetSpec(
                key=warehouse_key(table),
                deps=[["cohort", step]],
                group_name="warehouse",
                kinds={"duckdb"},
                description=f"Warehouse table `{table}`, added by the cohort step to the load's build and "
                "published with the whole load by published_warehouse (docs/warehouse.md).",
                metadata={**column_schema(columns), "dagster/table_name": f"warehouse.{table}"},
                **PSEUDONYMISED,
            )
            for table, (step, columns) in published_columns().items()
        ),
    ]


@dg.multi_asset(name="published", specs=_published_specs(), description="Writes features, risk_score, "
                "cohort_member and agg_people_by_* into the load's warehouse build (published at the load's end).")  # fmt: skip
def published(context: dg.AssetExecutionContext, paths: PhmPaths) -> Iterator[dg.MaterializeResult]:
    home = paths.installation()
    folder = stored.cohort_dir(home)
    cohort_ids = [d.id for d in load_cohorts(COHORT_DIR, allowed_purposes=PURPOSES)]
    lists = {
        cid: pl.read_parquet(folder / "cohorts" / f"{cid}.parquet")
        for cid in cohort_ids
        if (folder / "cohorts" / f"{cid}.parquet").is_file()
    }
    tables = cohort_tables(
        features=pl.read_parquet(folder / "features.parquet"),
        scores=pl.read_parquet(folder / "scores.parquet"),
        cohorts=lists,
        aggregates={
            by: pl.read_parquet(folder / "aggregates" / f"people_by_{by}.parquet") for by in AGGREGATE_BY
        },
        built_at=datetime.now(UTC),
    )
    publish_tables(home.warehouse, tables, build=load.load_build(home, context.run_id))
    yield dg.MaterializeResult(
        asset_key=PUBLISHED_KEY,
        metadata={
            "build": dg.MetadataValue.path(str(load.load_build(home, context.run_id))),
            "cohorts": len(lists),
            **safe_counts({f"rows/{name}": frame.height for name, frame in tables.items()}),
        },
    )
    for name, frame in tables.items():
        yield dg.MaterializeResult(
            asset_key=warehouse_key(name), metadata=safe_counts({"dagster/row_count": frame.height})
        )


cohort_assets = [
    training_features, features, risk_model, scores, segments, model_card, cohorts, aggregates, published,
]  # fmt: skip
