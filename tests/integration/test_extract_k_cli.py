"""`phm extract --min-k` through a real process: an extract that cannot reach k with a coding that
still carries information exits 1 with one line (the level tried, the smallest class) and is audited;
one that can is written at that level; a k below 5 is a usage error (2)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from tests.fixtures.cli import phm
from tests.fixtures.release_home import COHORT, REGISTER_YAML, make_home


def test_extract_that_cannot_reach_k_exits_1_audited_and_k_below_5_exits_2(tmp_path: Path) -> None:
    expiry = date.today() + timedelta(days=365)  # the CLI uses the real clock
    tiny = make_home(tmp_path, REGISTER_YAML.replace("expires_on: 2027-01-01", f"expires_on: {expiry}"))
    with duckdb.connect(str(tiny.home.warehouse)) as con:
        con.execute("UPDATE cohort_member SET built_at = ?", [datetime.now(UTC).replace(tzinfo=None)])
    args = ["extract", "--purpose", "research-extract", "--domain", "research-a", "--user", "analyst-a",
            "--cohort", COHORT, "--home", str(tiny.home.root), "--data", str(tiny.landing.parent)]  # fmt: skip

    # five people in three risk tiers (1 very high, 3 high, 1 moderate): even the coarsest coding that
    # still says something, the tier alone, leaves a class of 1, and a file of bare tokens is no answer
    refused = phm(*args)
    assert refused.returncode == 1
    assert refused.stderr == (
        "phm: extract refused: k >= 5 cannot be reached with a useful coding: at the coarsest allowed level "
        "(tier) the smallest class has 1 of 5 people after opt-outs\n"
    )
    entry = json.loads(tiny.home.audit_log.read_text().splitlines()[-1])
    assert (entry["event"], entry["outcome"], entry["reason"]) == (
        "extract",
        "denied",
        "k_anonymity_unreachable",
    )
    assert not (tiny.home.root / "extracts").exists()

    with duckdb.connect(str(tiny.home.warehouse)) as con:
        con.execute("UPDATE risk_score SET risk_tier = 'high'")
    done = phm(*args)  # now one tier of five (no age, sex or IMD here): k = 5 once scores are not banded
    assert done.returncode == 0, done.stderr
    assert "k = 5 at level broad" in done.stdout

    low = phm(*args, "--min-k", "4")
    assert low.returncode == 2
    assert (
        low.stderr == "phm: error: Invalid value for '--min-k': Input should be greater than or equal to 5\n"
    )
