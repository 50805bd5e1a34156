"""The inventory of landing, safe reads of regular files only, resubmissions, manifests (issue #13)."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import pytest

from connectors import ExtractFileError
from connectors.landing import delivered_file, delivered_files, inventory, read_landing_bytes
from connectors.manifest import manifest_text
from connectors.spec import APC

HEADER = ",".join(APC.names) + "\n"


def _put(landing: Path, rel: str, data: bytes) -> Path:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _status(landing: Path, **kw: object) -> dict[str, tuple[str, str]]:
    return {e.path: (e.status, e.reason) for e in inventory(landing, **kw)}  # type: ignore[arg-type]


def test_every_entry_is_loaded_or_listed_with_a_reason(tmp_path: Path) -> None:
    _put(tmp_path, "apc/apc_2026-03.csv", HEADER.encode())
    _put(
        tmp_path,
        "apc/apc_2026-03.csv.manifest.json",
        manifest_text("apc_2026-03.csv", 0, HEADER.encode()).encode(),
    )
    _put(tmp_path, "apc/apc_202609.csv", b"x")
    _put(tmp_path, "apc/apc_2026-04.parquet", b"x")
    _put(tmp_path, "apc/apc_2026-05.csv.gz", gzip.compress(HEADER.encode(), mtime=0))
    _put(tmp_path, "apc/apc_2025-01.csv", HEADER.encode())
    _put(tmp_path, "notes.txt", b"x")
    _put(tmp_path, "registers/national_data_opt_out.csv", b"NHS_Number,Recorded_Date\n")
    os.mkfifo(tmp_path / "apc" / "apc_2026-06.csv")
    os.symlink(tmp_path / "apc/apc_2026-03.csv", tmp_path / "apc/apc_2026-07.csv")
    assert _status(tmp_path, months=["2026-03", "2026-05"]) == {
        "apc/apc_2025-01.csv": ("not_loaded", "outside the months requested"),
        "apc/apc_2026-03.csv": ("loaded", ""),
        "apc/apc_2026-03.csv.manifest.json": ("manifest", "control totals of apc/apc_2026-03.csv"),
        "apc/apc_2026-04.parquet": ("not_loaded", "unsupported format"),
        "apc/apc_2026-05.csv.gz": ("loaded", "no manifest (control totals not checked)"),
        "apc/apc_2026-06.csv": ("not_loaded", "not a regular file (FIFO)"),
        "apc/apc_2026-07.csv": ("not_loaded", "not a regular file (symbolic link)"),
        "apc/apc_202609.csv": ("not_loaded", "unexpected name"),
        "notes.txt": ("not_loaded", "unexpected name"),
        "registers/national_data_opt_out.csv": ("register", ""),
    }


def test_a_named_skip_acknowledges_only_that_entry(tmp_path: Path) -> None:
    _put(tmp_path, "apc/apc_202609.csv", b"x")
    _put(tmp_path, "apc/apc_2026-04.parquet", b"x")
    assert _status(tmp_path, skip=["apc/apc_202609.csv"]) == {
        "apc/apc_202609.csv": ("skipped", "skipped by the operator (unexpected name)"),
        "apc/apc_2026-04.parquet": ("not_loaded", "unsupported format"),
    }


def test_a_resubmission_replaces_the_earlier_delivery(tmp_path: Path) -> None:
    _put(tmp_path, "apc/apc_2026-03.csv", HEADER.encode())
    _put(tmp_path, "apc/apc_2026-03_v2.csv", HEADER.encode())
    _put(tmp_path, "apc/apc_2026-03_v3.csv.gz", gzip.compress(HEADER.encode(), mtime=0))
    status = _status(tmp_path)
    assert status["apc/apc_2026-03.csv"] == ("superseded", "replaced by apc/apc_2026-03_v3.csv.gz")
    assert status["apc/apc_2026-03_v2.csv"] == ("superseded", "replaced by apc/apc_2026-03_v3.csv.gz")
    assert status["apc/apc_2026-03_v3.csv.gz"] == (
        "loaded",
        "resubmission v3 replaces earlier deliveries; no manifest (control totals not checked)",
    )
    assert delivered_file(tmp_path, "apc", "2026-03") == tmp_path / "apc/apc_2026-03_v3.csv.gz"


def test_two_deliveries_of_one_version_load_neither(tmp_path: Path) -> None:
    _put(tmp_path, "apc/apc_2026-03.csv", HEADER.encode())
    _put(tmp_path, "apc/apc_2026-03.csv.gz", gzip.compress(HEADER.encode(), mtime=0))
    assert {s for s, _ in _status(tmp_path).values()} == {"not_loaded"}
    assert delivered_file(tmp_path, "apc", "2026-03") is None


def test_one_inventory_gives_every_months_file(tmp_path: Path) -> None:
    """`delivered_files` (one walk for a whole load) chooses exactly what `delivered_file` does per month:
    the latest version, nothing for an ambiguous month, nothing for a register or a misnamed file."""
    _put(tmp_path, "apc/apc_2026-03.csv", HEADER.encode())
    _put(tmp_path, "apc/apc_2026-03_v2.csv", HEADER.encode())
    _put(tmp_path, "apc/apc_2026-04.csv", HEADER.encode())
    _put(tmp_path, "apc/apc_2026-05.csv", HEADER.encode())
    _put(tmp_path, "apc/apc_2026-05.csv.gz", gzip.compress(HEADER.encode(), mtime=0))
    _put(tmp_path, "ecds/ecds_2026-04.csv", b"x")
    _put(tmp_path, "ecds/ecds_202604.csv", b"x")
    files = delivered_files(tmp_path)
    assert files == {
        ("apc", "2026-03"): tmp_path / "apc/apc_2026-03_v2.csv",
        ("apc", "2026-04"): tmp_path / "apc/apc_2026-04.csv",
        ("ecds", "2026-04"): tmp_path / "ecds/ecds_2026-04.csv",
    }
    for source, month in [("apc", "2026-03"), ("apc", "2026-04"), ("apc", "2026-05"), ("ecds", "2026-04")]:
        assert files.get((source, month)) == delivered_file(tmp_path, source, month)


def test_v1_is_not_a_resubmission_name(tmp_path: Path) -> None:
    _put(tmp_path, "apc/apc_2026-03_v1.csv", b"x")
    assert _status(tmp_path) == {"apc/apc_2026-03_v1.csv": ("not_loaded", "unexpected name")}


def test_gz_is_decompressed_and_a_truncated_gz_is_named(tmp_path: Path) -> None:
    packed = gzip.compress(HEADER.encode(), mtime=0)
    path = _put(tmp_path, "apc/apc_2026-03.csv.gz", packed)
    assert read_landing_bytes(path, "apc/apc_2026-03.csv.gz") == HEADER.encode()
    path.write_bytes(packed[:-6])
    with pytest.raises(ExtractFileError) as info:
        read_landing_bytes(path, "apc/apc_2026-03.csv.gz")
    assert str(info.value) == "apc/apc_2026-03.csv.gz: truncated gzip (the compressed stream ends early)"


def test_a_symlink_is_refused_even_inside_landing(tmp_path: Path) -> None:
    target = _put(tmp_path, "apc/apc_2026-03.csv", HEADER.encode())
    os.symlink(target, tmp_path / "apc/apc_2026-04.csv")
    with pytest.raises(ExtractFileError) as info:
        read_landing_bytes(tmp_path / "apc/apc_2026-04.csv", "apc/apc_2026-04.csv")
    assert str(info.value) == "apc/apc_2026-04.csv: not a regular file (symbolic link): symlinks are refused"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "apc").mkdir()
    fifo = tmp_path / "apc/apc_2026-04.csv"
    os.mkfifo(fifo)
    outcome: list[str] = []
    done = threading.Event()

    def read() -> None:
        try:
            read_landing_bytes(fifo, "apc/apc_2026-04.csv")
        except ExtractFileError as exc:
            outcome.append(str(exc))
        done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(30):  # a blocking open would wait for a writer forever; free it, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert outcome == ["apc/apc_2026-04.csv: not a regular file (FIFO): refused"]


def test_a_manifest_whose_digest_differs_fails_the_file(tmp_path: Path) -> None:
    path = _put(tmp_path, "apc/apc_2026-03.csv", HEADER.encode())
    _put(
        tmp_path, "apc/apc_2026-03.csv.manifest.json", manifest_text("apc_2026-03.csv", 0, b"other").encode()
    )
    with pytest.raises(ExtractFileError) as info:
        read_landing_bytes(path, "apc/apc_2026-03.csv")
    assert str(info.value) == (
        "apc/apc_2026-03.csv: SHA-256 does not match its manifest (changed or cut in transfer)"
    )


def test_a_malformed_manifest_is_named(tmp_path: Path) -> None:
    path = _put(tmp_path, "apc/apc_2026-03.csv", HEADER.encode())
    _put(tmp_path, "apc/apc_2026-03.csv.manifest.json", b'{"file": "apc_2026-03.csv", "rows": -1}')
    with pytest.raises(ExtractFileError) as info:
        read_landing_bytes(path, "apc/apc_2026-03.csv")
    assert str(info.value) == "apc/apc_2026-03.csv.manifest.json: manifest 'rows' is not a whole number >= 0"
