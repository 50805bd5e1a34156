"""Extract months are read from file names one way everywhere (the connectors' `file_month`)."""

from __future__ import annotations

from pathlib import Path

import load as steps
from pipelines.defs.ingest.sensors import _months


def test_only_files_the_connectors_would_read_give_months(tmp_path: Path) -> None:
    for name in (
        "apc/apc_2025-04.csv",
        "apc/apc_2025-04_v2.csv",
        "apc/apc_backup.csv",
        "ecds/ecds_2025-05.csv",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    assert steps.landing_months(tmp_path) == ["2025-04", "2025-05"]
    names = ["apc/apc_2025-04.csv", "apc/apc_2025-04_v2.csv", "registers/national_data_opt_out.csv",
             "ecds/ecds_2025-05.csv"]  # fmt: skip
    assert _months(names) == ["2025-04", "2025-05"]
