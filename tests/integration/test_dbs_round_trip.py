"""National batch tracing end to end on a small synthetic ICS (300 people, 2 months).

The load's steps without Dagster (as `test_pipeline_steps_parallel` runs them), the trace stage with
the synthetic national service answering as the demo binds it: request out, answered into
landing/dbs/, applied in the same call. The people it finds are the ones the ICS's own GP master cannot
know, at non-sharing practices; opt-outs are re-checked on the numbers it returns.
"""

from __future__ import annotations

import json
import stat
from functools import partial
from pathlib import Path

import polars as pl
import pytest

import load as steps
from connectors.spec import EXTRACTS
from core.layout import Home
from linkage import dbs
from pseudonymisation import KeyProvider, Tokeniser
from synthetic import GeneratorConfig, generate
from synthetic.config import DefectRates
from synthetic.national_service import answer_request

# More records without an NHS number than the defaults, so a few hundred people give enough to trace.
CONFIG = GeneratorConfig(
    persons=300, seed=5, months=2, defects=DefectRates(missing_nhs_other=0.3, missing_nhs_asc=0.5)
)


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Home, dict[str, int]]:
    data = tmp_path_factory.mktemp("dbs_ics")
    generate(CONFIG, data)
    home = Home(tmp_path_factory.mktemp("dbs_home")).prepare()
    landing = data / "landing"
    registers = steps.load_registers(landing, home)
    steps.ingest_months(
        [(s, m) for s in EXTRACTS for m in steps.landing_months(landing)], landing, home, registers, "t"
    )
    steps.build_gp_master(home)
    service = steps.NationalTracing(landing, partial(answer_request, truth=data / "truth"))
    counts = steps.trace_records(home, probabilistic=False, national=service)
    assert {k: v for k, v in counts.items() if k.startswith("dbs/")} == json.loads(
        home.dbs_status.read_text()
    )
    return data, home, counts


def test_the_national_service_traces_people_at_non_sharing_practices(
    round_trip: tuple[Path, Home, dict[str, int]],
) -> None:
    data, home, counts = round_trip
    response = pl.read_csv(data / "landing" / "dbs" / "dbs_response_2026-10.csv", infer_schema=False)
    results = pl.read_parquet(home.trace_results).with_columns(
        dbs.references(pl.read_parquet(home.trace_results))
    )
    codes = dict(response.group_by("ERROR_SUCCESS_CODE").len().iter_rows())
    # Every request row was answered, and each answer counted once per untraced description.
    assert counts["dbs/requested"] == response.height and counts["dbs/awaiting_response"] == 0
    assert counts["dbs/traced"] == codes.get("00", 0) > 0
    assert counts["dbs/no_match"] == codes.get("98", 0)
    assert counts["dbs/multiple_match"] == codes.get("97", 0)
    assert counts["dbs/quarantined"] == 0
    by_dbs = results.filter(pl.col("link_method") == "dbs")
    answered = response.filter(pl.col("ERROR_SUCCESS_CODE") == "00").select(
        pl.col("UNIQUE_REFERENCE").alias("reference"), pl.col("MATCHED_NHS_NO").alias("nhs_number")
    )
    assert sorted(by_dbs.select("reference", "nhs_number").rows()) == sorted(answered.rows())
    assert by_dbs["link_confidence"].is_between(0.75, 1.0).all()
    # The request held exactly what local tracing left: traced by DBS now, or still unmatched.
    request = home.dbs_request("2026-10")
    assert stat.S_IMODE(request.stat().st_mode) == 0o600
    left = results.filter(pl.col("link_method").is_in(["dbs", "unmatched"]))["reference"]
    assert sorted(pl.read_csv(request, infer_schema=False)["UNIQUE_REFERENCE"]) == sorted(left.unique())
    # Who was found: people the ICS's GP master cannot know, because their practice does not share.
    truth = pl.read_parquet(
        data / "truth" / "persons.parquet", columns=["nhs_number", "practice_non_sharing"]
    )
    found = by_dbs.join(truth, on="nhs_number").filter(pl.col("practice_non_sharing"))
    expected = answered.join(truth, on="nhs_number").filter(pl.col("practice_non_sharing"))
    assert found.height == expected.height > 0
    master = pl.read_parquet(home.gp_master, columns=["nhs_number"])
    assert found.join(master, on="nhs_number", how="semi").height == 0


def test_opt_outs_are_rechecked_on_numbers_the_national_service_returns(
    round_trip: tuple[Path, Home, dict[str, int]],
) -> None:
    data, home, _ = round_trip
    landing = data / "landing"
    by_dbs = pl.read_parquet(home.trace_results).filter(pl.col("link_method") == "dbs")
    opted, kept = sorted(by_dbs["nhs_number"].unique())[:2]
    with (landing / "registers" / "national_data_opt_out.csv").open("a") as f:
        f.write(f"{opted},2026-10-01\n")  # the person opts out after the records arrived
    registers = steps.load_registers(landing, home)
    keys = KeyProvider.dev(home.keys)
    steps.build_token_map(home, keys, registers)
    for source in EXTRACTS:
        steps.pseudonymise_source(source, home, keys, registers)
    tokens = Tokeniser(keys.token_key(), domain="warehouse").tokenise(pl.Series([opted, kept]))
    staged = pl.concat(
        [
            pl.read_parquet(p, columns=["person_token", "link_method"])
            for p in home.pseudo_staged_dir.rglob("*.parquet")
        ]
    )
    assert staged.filter(pl.col("person_token") == tokens[0]).height == 0
    assert "dbs" in staged.filter(pl.col("person_token") == tokens[1])["link_method"].to_list()


def test_the_dagster_trace_step_takes_the_service_phm_run_binds() -> None:
    from pipelines.defs.link.assets import traced

    # `phm run` binds it as `dbs` (pipelines.definitions; None without the demo, as in the UI).
    assert "dbs" in traced.required_resource_keys
