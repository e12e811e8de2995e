"""Charger operations: firmware files and jobs, diagnostics uploads, configuration snapshots and
templates, acceptance check reports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chargedeck.store.types import UtcDateTime, big_id

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = (
    "acceptance_reports",
    "configuration_templates",
    "configuration_snapshots",
    "diagnostics_jobs",
    "firmware_job_chargers",
    "firmware_jobs",
    "firmware_files",
)


def upgrade() -> None:
    op.create_table(
        "firmware_files",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("uploaded_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_files"),
    )

    op.create_table(
        "firmware_jobs",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("firmware_file_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("retrieve_date", UtcDateTime, nullable=False),
        sa.Column("retries", sa.Integer),
        sa.Column("retry_interval_s", sa.Integer),
        sa.Column("expected_version", sa.Text),
        sa.Column("url_token", sa.Text, nullable=False),
        sa.Column("url_expires_at", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_jobs"),
        sa.UniqueConstraint("url_token", name="uq_firmware_jobs_url_token"),
        sa.CheckConstraint(
            "kind IN ('update', 'signed_update')", name=op.f("ck_firmware_jobs_kind")
        ),
    )

    op.create_table(
        "firmware_job_chargers",
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("request_id", sa.Integer),
        sa.Column("firmware_before", sa.Text),
        sa.Column("firmware_after", sa.Text),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "charge_point_id", name="pk_firmware_job_chargers"),
    )
    op.create_index(
        "ix_firmware_job_chargers_charge_point_id",
        "firmware_job_chargers",
        ["charge_point_id", "status"],
    )

    op.create_table(
        "diagnostics_jobs",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("request_id", sa.Integer),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("upload_token", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text),
        sa.Column("file_size", sa.BigInteger),
        sa.Column("file_path", sa.Text),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_diagnostics_jobs"),
        sa.CheckConstraint(
            "kind IN ('diagnostics', 'diagnostics_log', 'security_log')",
            name=op.f("ck_diagnostics_jobs_kind"),
        ),
        sa.UniqueConstraint("upload_token", name="uq_diagnostics_jobs_upload_token"),
    )
    op.create_index(
        "ix_diagnostics_jobs_charge_point_id_id", "diagnostics_jobs", ["charge_point_id", "id"]
    )

    op.create_table(
        "configuration_snapshots",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("taken_at", UtcDateTime, nullable=False),
        sa.Column("firmware_version", sa.Text),
        sa.Column("keys", sa.Text, nullable=False),
        sa.Column("unknown_keys", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_configuration_snapshots"),
    )
    op.create_index(
        "ix_configuration_snapshots_charge_point_id_id",
        "configuration_snapshots",
        ["charge_point_id", "id"],
    )

    op.create_table(
        "configuration_templates",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("charger_model", sa.Text),
        sa.Column("keys", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_configuration_templates"),
        sa.UniqueConstraint("name", name="uq_configuration_templates_name"),
    )

    op.create_table(
        "acceptance_reports",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("firmware_version", sa.Text),
        sa.Column("charger_model", sa.Text, nullable=False),
        sa.Column("ran_at", UtcDateTime, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acceptance_reports"),
    )
    op.create_index(
        "ix_acceptance_reports_charge_point_id_id", "acceptance_reports", ["charge_point_id", "id"]
    )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
