"""Where an installation keeps its files: the identifiable zone, the pseudonymised zone, the warehouse.

One `Home` per installation. The identifiable zone is created 0700 so that only the service account
can read staged identifiable records, the vault and dev keys; see docs/security.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = REPO_ROOT / ".phm"
DEFAULT_DATA = DEFAULT_HOME / "demo"


@dataclass(frozen=True)
class Home:
    """The folders of one installation (see docs/architecture.md, 'Home layout')."""

    root: Path

    @property
    def identifiable(self) -> Path:
        return self.root / "identifiable"

    @property
    def keys(self) -> Path:
        return self.identifiable / "keys"

    @property
    def vault(self) -> Path:
        return self.identifiable / "vault" / "vault.duckdb"

    @property
    def opt_outs(self) -> Path:
        return self.identifiable / "opt_outs.parquet"

    @property
    def gp_master(self) -> Path:
        return self.identifiable / "gp_master.parquet"

    @property
    def trace_results(self) -> Path:
        """Pooled tracing result: demographics -> NHS number, method, confidence."""
        return self.identifiable / "trace_results.parquet"

    @property
    def clusters(self) -> Path:
        """Untraced records' clusters: demographic key -> persistent cluster ID, kept across loads."""
        return self.identifiable / "clusters.parquet"

    @property
    def token_map(self) -> Path:
        """This load's NHS number -> token map (identifiable zone; the vault holds the encrypted copy)."""
        return self.identifiable / "token_map.parquet"

    @property
    def rotation_journal(self) -> Path:
        """Present while a key rotation runs (or was interrupted); releases are refused meanwhile."""
        return self.identifiable / "key_rotation.json"

    @property
    def review_queue(self) -> Path:
        """Clerical review file: uncertain pairs to decide ('match' / 'no_match'), honoured next run."""
        return self.identifiable / "review" / "clerical_review.csv"

    @property
    def cluster_review(self) -> Path:
        """Merges and splits of the untraced people's clusters, for a person to confirm ('confirm' / 'reject')."""
        return self.identifiable / "review" / "cluster_changes.csv"

    @property
    def match_model_card(self) -> Path:
        """The tracing model's card: threshold and review band chosen from the model, and why (JSON)."""
        return self.identifiable / "review" / "match_model_card.json"

    @property
    def cluster_change_sides(self) -> Path:
        """The record keys of both sides of every cluster merge and split, for acting on a decision."""
        return self.identifiable / "cluster_change_sides.parquet"

    @property
    def cluster_decisions_applied(self) -> Path:
        """Audit of the cluster review decisions each load applied (appended per load, 0600)."""
        return self.identifiable / "review" / "cluster_decisions_applied.csv"

    @property
    def dbs_outbox(self) -> Path:
        """National batch trace requests waiting to be sent to DBS: ``dbs_request_<stem>.csv`` (0600)."""
        return self.identifiable / "outbox" / "dbs"

    def dbs_request(self, stem: str) -> Path:
        """The DBS trace request of one batch; its answer is landing/dbs/dbs_response_<stem>.csv."""
        return self.dbs_outbox / f"dbs_request_{stem}.csv"

    @property
    def dbs_ledger(self) -> Path:
        """Every DBS request reference ever issued, with the demographics it stands for."""
        return self.identifiable / "dbs" / "requests.parquet"

    @property
    def dbs_status(self) -> Path:
        """Counts of the last load's DBS round trip (requested, traced, awaiting a response, ...)."""
        return self.identifiable / "dbs" / "round_trip.json"

    def staged(self, source: str, month: str | None = None) -> Path:
        base = self.identifiable / "staged" / source
        return base if month is None else base / f"{month}.parquet"

    def quarantine(self, source: str, month: str | None = None) -> Path:
        base = self.identifiable / "quarantine" / source
        return base if month is None else base / f"{month}.parquet"

    @property
    def pseudonymised(self) -> Path:
        return self.root / "pseudonymised"

    @property
    def pseudo_staged_dir(self) -> Path:
        return self.pseudonymised / "staged"

    def pseudo_staged(self, source: str, month: str | None = None) -> Path:
        base = self.pseudo_staged_dir / source
        return base if month is None else base / f"{month}.parquet"

    @property
    def ops_dir(self) -> Path:
        return self.pseudonymised / "ops"

    def ops_kind(self, kind: str) -> Path:
        """The folder of one kind of ops counts (reconciliation, quarantine, opt_outs, ...)."""
        return self.ops_dir / kind

    def ops(self, kind: str, source: str, month: str) -> Path:
        return self.ops_kind(kind) / f"{source}_{month}.parquet"

    @property
    def dq_history(self) -> Path:
        """Data quality results, month volumes and linkage rates per run (trends, volume checks)."""
        return self.ops_dir / "dq_history"

    def ops_connector(self, kind: str, source: str, month: str) -> Path:
        """The connector's own counts (reconciliation, opt-outs), before tracing finds more opted-out rows.

        Kept outside the ops folders the warehouse reads, which get the final figures.
        """
        return self.identifiable / "ops_connector" / kind / f"{source}_{month}.parquet"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "warehouse.duckdb"

    @property
    def cohort_dir(self) -> Path:
        """Working files of the cohort stage: features, scores, cohort lists, aggregates."""
        return self.root / "cohort"

    @property
    def models_dir(self) -> Path:
        """Risk model artefacts, one folder per version (model, metadata, card)."""
        return self.root / "models"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def dq_report(self, run_id: str) -> Path:
        """The data quality and coverage report of one run (HTML)."""
        return self.reports / f"dq_{run_id}.html"

    @property
    def model_card(self) -> Path:
        """The current model's card (HTML), for the people who use the scores."""
        return self.reports / "model_card.html"

    def transparency_report(self, suffix: str) -> Path:
        """The public transparency report, ``suffix`` ".md" or ".html"."""
        return self.reports / f"transparency{suffix}"

    def extracts(self, domain: str | None = None) -> Path:
        """Pseudonymised extracts for a domain (its own tokens), ``<domain>/<domain>_<cohort>_<stamp>.csv``."""
        base = self.root / "extracts"
        return base if domain is None else base / domain

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    def prepare(self) -> Home:
        """Create the folders; the identifiable zone (and everything under it) only for the owner."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.identifiable.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.identifiable, 0o700)
        for path in (
            self.pseudonymised,
            self.ops_dir,
            self.pseudo_staged_dir,
            self.warehouse.parent,
            self.reports,
            self.dagster_home,
        ):
            path.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            dagster_yaml.write_text("telemetry:\n  enabled: false\n")
        return self

    # --- governed release (docs/governance.md) -------------------------------------------------------
    @property
    def governance(self) -> Path:
        """The installed governance: approvers' public keys, signed bundles, the pointer to the one in force."""
        return self.identifiable / "governance"

    @property
    def governance_approvers(self) -> Path:
        """``<approver id>.pub``: Ed25519 public keys of the people whose signature makes a bundle valid."""
        return self.governance / "approvers"

    @property
    def governance_bundles(self) -> Path:
        """Installed bundles, one folder per manifest SHA-256 (kept, so the audit log's hashes resolve)."""
        return self.governance / "bundles"

    @property
    def governance_installed(self) -> Path:
        """The SHA-256 of the bundle in force (one line)."""
        return self.governance / "installed"

    @property
    def audit_log(self) -> Path:
        """The audit log of governed actions (JSON lines, keyed-MAC chain; folder 0700, file 0600)."""
        return self.identifiable / "audit" / "release_audit.jsonl"

    @property
    def audit_head(self) -> Path:
        """Append-only witness of the audit log: the head (seq, MAC) after every entry."""
        return self.identifiable / "audit" / "audit_head.jsonl"

    @property
    def outbox(self) -> Path:
        """Sealed released lists: ``<purpose>/<practice>/<purpose>_<practice>_<stamp>_<rand>.csv.hpke``."""
        return self.root / "outbox"

    @property
    def dev_approver_key(self) -> Path:
        """Dev mode only: the generated approver's private signing key (stands in for an IG approver)."""
        return self.identifiable / "dev_approver" / "dev-approver.key"

    @property
    def practice_side(self) -> Path:
        """Dev mode only: practices' private HPKE keys, standing in for keys each practice holds itself."""
        return self.root / "practice_side"
