"""Governed release in Dagster: the `release_cohort` job and the public transparency report asset.

Thin wrappers over `pseudonymisation.release`, the same code `phm release` and `phm transparency` run.
`release_cohort` is an op job, not an asset: a release is an act requested by a named person under an
approved purpose, never something `load_all` (every asset) should do. Its config is the CLI's
(`purpose`, `cohort`, `practice`, `user`), and like the CLI it uses only the installed, signed
governance bundle. Dagster logs and metadata carry codes, counts, hashes
and the outbox path only: never an NHS number (docs/security.md, rule 1).

Keys: like the CLI, the release never *generates* a key. With keys supplied to `PhmKeys` (environment)
those are used; otherwise the key folder (`PhmKeys.key_dir`, default HOME/identifiable/keys) is read,
and a missing vault key is a denial.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from core.disclosure import safe_counts
from pipelines.catalog import owned
from pipelines.keys import PUBLISH_KEY
from pipelines.resources import PhmKeys, PhmPaths
from pseudonymisation.release.audit import AuditError
from pseudonymisation.release.bundle import GovernanceError, load_installed
from pseudonymisation.release.release import ReleaseOutcome, release
from pseudonymisation.release.transparency import write_report
from reports import page_url

GROUP = "reports"


class ReleaseConfig(dg.Config):
    """The same request as `phm release`: purpose id, cohort id, receiving practice (ODS), user id."""

    purpose: str
    cohort: str
    practice: str
    user: str


def _outcome_metadata(outcome: ReleaseOutcome) -> dict[str, Any]:
    """Codes, counts, the file hash and the outbox path: nothing about any patient."""
    metadata: dict[str, Any] = {
        "granted": outcome.granted,
        "reason": outcome.reason or "",
        **safe_counts(
            {
                "count_released": outcome.count_released,
                "not_in_vault": outcome.not_in_vault,
                **{f"removed/{route}": n for route, n in outcome.removed_by_route.items()},
            }
        ),
        "audit_seq": outcome.audit_seq,
    }
    if outcome.path is not None:
        metadata["outbox_path"] = dg.MetadataValue.path(str(outcome.path))
        metadata["output_sha256"] = outcome.output_sha256 or ""
    return metadata


@dg.op(description="Release a re-identified cohort list to one practice under an approved purpose (audited).")
def release_cohort_list(
    context: dg.OpExecutionContext, config: ReleaseConfig, paths: PhmPaths, keys: PhmKeys
) -> dg.Output[int]:
    home = paths.installation()
    try:
        outcome = release(
            home=home,
            landing=paths.landing,
            purpose=config.purpose,
            cohort=config.cohort,
            practice=config.practice,
            user=config.user,
            now=datetime.now(UTC),
            keys=keys.provider(home, generate=False),
        )
    except AuditError:
        raise dg.Failure(description="release refused: the audit log cannot be written") from None
    metadata = _outcome_metadata(outcome)
    if not outcome.granted:
        raise dg.Failure(
            description=f"release denied ({outcome.reason}): {outcome.message} [audit seq {outcome.audit_seq}]",
            metadata=metadata,
        )
    context.log.info(
        f"released {outcome.count_released} patient(s) to {outcome.path} (audit seq {outcome.audit_seq})"
    )
    return dg.Output(outcome.count_released, metadata=metadata)


@dg.job(description="Governed release of one cohort list (config: purpose, cohort, practice, user).")
def release_cohort() -> None:
    release_cohort_list()


@dg.asset(key=["reports", "transparency"], deps=[PUBLISH_KEY], group_name=GROUP, kinds={"html"},
          description="Public transparency report (markdown + HTML): purposes, releases per month, opt-outs.",
          **owned("release"))  # fmt: skip
def transparency_report(paths: PhmPaths, keys: PhmKeys) -> dg.MaterializeResult:
    home = paths.installation()
    try:
        governance = load_installed(home)
    except GovernanceError as exc:
        # A refused register must not stop the load; the report is not (re)written and the run says why.
        dg.get_dagster_logger().warning(f"transparency report not written: {exc}")
        return dg.MaterializeResult(metadata={"written": False, "register_error": exc.reason})
    md, page = write_report(home, governance, keys.provider(home, generate=False), now=datetime.now(UTC))
    return dg.MaterializeResult(
        metadata={
            "written": True,
            "markdown": dg.MetadataValue.path(str(md)),
            "html": dg.MetadataValue.url(page_url(home.reports, page)),
        }
    )


release_jobs = [release_cohort]
release_assets = [transparency_report]
