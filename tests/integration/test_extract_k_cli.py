"""`phm extract --min-k` through a real process: an extract that cannot reach k exits 1 with one line
and is audited; a k below 5 is a usage error (2)."""

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

    refused = phm(*args, "--min-k", "6")
    assert refused.returncode == 1
    assert refused.stderr == (
        "phm: extract refused: no generalisation gives every row k >= 6 (5 people after opt-outs)\n"
    )
    entry = json.loads(tiny.home.audit_log.read_text().splitlines()[-1])
    assert (entry["event"], entry["outcome"], entry["reason"]) == (
        "extract",
        "denied",
        "k_anonymity_unreachable",
    )
    assert not (tiny.home.root / "extracts").exists()

    done = phm(*args)  # k = 5: five people, one class, every value generalised away
    assert done.returncode == 0, done.stderr
    assert "k = 5 at level token_only" in done.stdout

    low = phm(*args, "--min-k", "4")
    assert low.returncode == 2
    assert (
        low.stderr == "phm: error: Invalid value for '--min-k': Input should be greater than or equal to 5\n"
    )
