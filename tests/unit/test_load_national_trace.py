"""The DBS round trip of the trace stage (`load.national_trace`) on an inline trace result."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from core.layout import Home
from linkage import dbs
from load import NationalTracing, national_trace

VALID = "9990000018"  # modulus 11 valid, in the synthetic test range
# Ann was traced locally; Bob, Cy and Di were not.
RESULTS = pl.DataFrame(
    {
        "given_name": ["Ann", "Bob", "Cy", "Di"],
        "family_name": ["Smith", "Jones", "Khan", "Lee"],
        "date_of_birth": [date(1950, 3, 1), date(1990, 5, 6), date(2001, 1, 2), date(1962, 7, 8)],
        "sex": ["F", "M", "M", "F"],
        "postcode": ["LS1 4AP", "LS2 9JT", "LS6 1AA", "LS7 2BB"],
        "address": [None, None, None, None],
        "nhs_number": ["9990000018", None, None, None],
        "link_method": ["exact_name_dob_postcode", "unmatched", "unmatched", "unmatched"],
        "link_confidence": [0.99, 0.0, 0.0, 0.0],
    },
    schema_overrides={"address": pl.String},
)
REFS = dict(zip(RESULTS["given_name"], dbs.references(RESULTS), strict=True))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path / "home").prepare()
    h.staged("apc").mkdir(parents=True)
    pl.DataFrame({"x": [1]}).write_parquet(h.staged("apc", "2026-10"))  # the load's latest month
    return h


def _request_refs(path: Path) -> list[str]:
    return pl.read_csv(path, infer_schema=False)["UNIQUE_REFERENCE"].to_list()


def _drop_response(landing: Path, stem: str, rows: list[tuple[str, str, str, str]]) -> None:
    head = "UNIQUE_REFERENCE,REQ_NHS_NUMBER,ERROR_SUCCESS_CODE,MATCHED_NHS_NO,MATCHED_ALGORITHM_INDICATOR,MATCHED_CONFIDENCE_PERCENTAGE"
    body = [f"{ref},,{code},{nhs},3,{pct}" for ref, code, nhs, pct in rows]
    (landing / "dbs").mkdir(parents=True, exist_ok=True)
    (landing / "dbs" / f"dbs_response_{stem}.csv").write_text("\r\n".join([head, *body]) + "\r\n")


def test_untraced_records_go_to_a_private_request_and_wait_for_the_answer(home: Home, tmp_path: Path) -> None:
    out, counts = national_trace(home, RESULTS, NationalTracing(tmp_path / "landing"))
    request = home.dbs_request("2026-10")
    assert request == home.identifiable / "outbox" / "dbs" / "dbs_request_2026-10.csv"
    assert stat.S_IMODE(request.stat().st_mode) == 0o600
    assert [stat.S_IMODE(p.stat().st_mode) for p in (request.parent, request.parent.parent)] == [0o700, 0o700]
    assert sorted(_request_refs(request)) == sorted(
        [REFS["Bob"], REFS["Cy"], REFS["Di"]]
    )  # only the untraced
    assert counts == {
        "dbs/requested": 3, "dbs/traced": 0, "dbs/no_match": 0, "dbs/multiple_match": 0, "dbs/not_traced": 0,
        "dbs/awaiting_response": 3, "dbs/quarantined": 0,
    }  # fmt: skip
    assert out.equals(RESULTS)
    assert sorted(pl.read_parquet(home.dbs_ledger)["reference"]) == sorted(_request_refs(request))


def test_the_answer_is_applied_and_bad_rows_are_quarantined_with_their_reason(
    home: Home, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    national_trace(home, RESULTS, NationalTracing(landing))  # the request goes out
    _drop_response(
        landing,
        "2026-10",
        [
            (REFS["Bob"], "00", VALID, "95.00"),  # line 2: traced
            (REFS["Cy"], "00", "9434765918", "95.00"),  # 3: malformed NHS number
            ("PHM00000000000000000000", "00", VALID, "100.00"),  # 4: never issued
            (REFS["Di"], "97", "9999999999", "0.00"),  # 5: several people
        ],
    )
    out, counts = national_trace(home, RESULTS, NationalTracing(landing))
    assert out.select("given_name", "nhs_number", "link_method", "link_confidence").rows() == [
        ("Ann", "9990000018", "exact_name_dob_postcode", 0.99),
        ("Bob", VALID, "dbs", 0.95),
        ("Cy", None, "unmatched", 0.0),
        ("Di", None, "unmatched", 0.0),
    ]
    assert counts == {
        "dbs/requested": 1, "dbs/traced": 1, "dbs/no_match": 0, "dbs/multiple_match": 1, "dbs/not_traced": 0,
        "dbs/awaiting_response": 1, "dbs/quarantined": 2,
    }  # fmt: skip
    # Cy's answer was unusable, so Cy is asked again, in a new batch: 2026-10's batch was answered.
    assert _request_refs(home.dbs_request("2026-10_2")) == [REFS["Cy"]]
    quarantined = pl.read_parquet(home.quarantine("dbs", "2026-10"))
    assert quarantined.select("file", "line", "reason").rows() == [
        ("dbs/dbs_response_2026-10.csv", 3, dbs.INVALID_NHS_NUMBER),
        ("dbs/dbs_response_2026-10.csv", 4, dbs.UNKNOWN_REFERENCE),
    ]
    ops = pl.read_parquet(home.ops("quarantine", "dbs_response", "2026-10"))
    assert ops.rows() == [
        ("dbs_response", "dbs/dbs_response_2026-10.csv", "2026-10", dbs.INVALID_NHS_NUMBER, 1),
        ("dbs_response", "dbs/dbs_response_2026-10.csv", "2026-10", dbs.UNKNOWN_REFERENCE, 1),
    ]


def test_an_answering_service_closes_the_round_trip_in_the_same_call(home: Home, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    seen: list[str] = []

    def answer(request: Path, landing_dir: Path) -> None:
        seen.append(request.name)
        _drop_response(
            landing_dir,
            "2026-10",
            [(ref, "98", dbs.NO_MATCH_NUMBER, "0.00") for ref in _request_refs(request)],
        )

    out, counts = national_trace(home, RESULTS, NationalTracing(landing, answer))
    assert seen == ["dbs_request_2026-10.csv"]
    assert counts["dbs/no_match"] == 3 and counts["dbs/awaiting_response"] == 0
    assert out["link_method"].to_list() == ["exact_name_dob_postcode", "unmatched", "unmatched", "unmatched"]
    # Everyone has an answer now: the next load sends no request and does not call the service.
    _, again = national_trace(home, RESULTS, NationalTracing(landing, answer))
    assert seen == ["dbs_request_2026-10.csv"] and again["dbs/requested"] == 0 and again["dbs/no_match"] == 3
    assert not home.dbs_request("2026-10_2").exists()
