"""Initial schema: charge points, boots, connectors, id tags, transactions, meter values.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Spelled out table by table (not ``metadata.create_all``): a migration is a snapshot, and
``schema.py`` will move on. A test checks that head matches ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chargedeck.store.types import UtcDateTime, big_id

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "charge_points",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("registration", sa.Text, nullable=False),
        sa.Column("vendor", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("charge_point_serial_number", sa.Text),
        sa.Column("charge_box_serial_number", sa.Text),
        sa.Column("firmware_version", sa.Text),
        sa.Column("iccid", sa.Text),
        sa.Column("imsi", sa.Text),
        sa.Column("meter_type", sa.Text),
        sa.Column("meter_serial_number", sa.Text),
        sa.Column("first_seen_at", UtcDateTime),
        sa.Column("last_boot_at", UtcDateTime),
        sa.Column("last_heartbeat_at", UtcDateTime),
        sa.Column("adopted_at", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charge_points"),
        sa.CheckConstraint(
            "registration IN ('registered', 'pending')", name=op.f("ck_charge_points_registration")
        ),
    )
    op.create_index("ix_charge_points_registration", "charge_points", ["registration"])

    op.create_table(
        "boot_notifications",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("charge_point_vendor", sa.Text, nullable=False),
        sa.Column("charge_point_model", sa.Text, nullable=False),
        sa.Column("charge_point_serial_number", sa.Text),
        sa.Column("charge_box_serial_number", sa.Text),
        sa.Column("firmware_version", sa.Text),
        sa.Column("iccid", sa.Text),
        sa.Column("imsi", sa.Text),
        sa.Column("meter_type", sa.Text),
        sa.Column("meter_serial_number", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_boot_notifications"),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name="fk_boot_notifications_charge_point_id_charge_points",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_boot_notifications_charge_point_id_id",
        "boot_notifications",
        ["charge_point_id", "id"],
    )

    op.create_table(
        "connectors",
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error_code", sa.Text, nullable=False),
        sa.Column("info", sa.Text),
        sa.Column("vendor_id", sa.Text),
        sa.Column("vendor_error_code", sa.Text),
        sa.Column("status_timestamp", UtcDateTime),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", "connector_id", name="pk_connectors"),
    )

    op.create_table(
        "connector_status_history",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error_code", sa.Text, nullable=False),
        sa.Column("info", sa.Text),
        sa.Column("vendor_id", sa.Text),
        sa.Column("vendor_error_code", sa.Text),
        sa.Column("timestamp", UtcDateTime),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_connector_status_history"),
    )
    op.create_index(
        "ix_connector_status_history_charge_point_id_id",
        "connector_status_history",
        ["charge_point_id", "id"],
    )
    op.create_index(
        "ix_connector_status_history_charge_point_id_connector_id_id",
        "connector_status_history",
        ["charge_point_id", "connector_id", "id"],
    )

    op.create_table(
        "id_tags",
        sa.Column("id_tag", sa.Text, nullable=False),
        sa.Column("id_tag_key", sa.Text, nullable=False),
        sa.Column("parent_id_tag", sa.Text),
        sa.Column("expiry_date", UtcDateTime),
        sa.Column("blocked", sa.Boolean, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id_tag", name="pk_id_tags"),
        sa.UniqueConstraint("id_tag_key", name="uq_id_tags_id_tag_key"),
    )

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("id_tag", sa.Text, nullable=False),
        sa.Column("meter_start", sa.BigInteger, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("reservation_id", sa.Integer),
        sa.Column("start_id_tag_status", sa.Text, nullable=False),
        sa.Column("meter_stop", sa.BigInteger),
        sa.Column("stopped_at", UtcDateTime),
        sa.Column("stop_reason", sa.Text),
        sa.Column("stop_id_tag", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name="fk_transactions_charge_point_id_charge_points",
        ),
        sa.UniqueConstraint(
            "charge_point_id",
            "connector_id",
            "id_tag",
            "meter_start",
            "started_at",
            name="uq_start",
        ),
        sa.CheckConstraint("id BETWEEN 1 AND 2147483647", name=op.f("ck_transactions_id_int32")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_transactions_charge_point_id_id", "transactions", ["charge_point_id", "id"])
    op.create_index(
        "ix_transactions_charge_point_id_started_at",
        "transactions",
        ["charge_point_id", sa.text("started_at DESC")],
    )
    op.create_index(
        "ix_transactions_active",
        "transactions",
        ["charge_point_id", "connector_id"],
        sqlite_where=sa.text("stopped_at IS NULL"),
        postgresql_where=sa.text("stopped_at IS NULL"),
    )

    op.create_table(
        "meter_values",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("transaction_id", sa.Integer),
        sa.Column("timestamp", UtcDateTime, nullable=False),
        sa.Column("sampled_values", sa.Text, nullable=False),
        sa.Column("energy_wh", sa.BigInteger),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meter_values"),
        sa.CheckConstraint(
            "source IN ('MeterValues', 'StopTransaction')", name=op.f("ck_meter_values_source")
        ),
    )
    op.create_index(
        "ix_meter_values_transaction_id_timestamp",
        "meter_values",
        ["transaction_id", "timestamp"],
    )
    op.create_index(
        "ix_meter_values_charge_point_id_timestamp",
        "meter_values",
        ["charge_point_id", "timestamp"],
    )

    op.create_table(
        "stop_reconciliation",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("transaction_id", sa.Integer, nullable=False),
        sa.Column("id_tag", sa.Text),
        sa.Column("meter_stop", sa.BigInteger, nullable=False),
        sa.Column("timestamp", UtcDateTime, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stop_reconciliation"),
        sa.CheckConstraint(
            "kind IN ('unknown_transaction', 'already_stopped')",
            name=op.f("ck_stop_reconciliation_kind"),
        ),
    )
    op.create_index(
        "ix_stop_reconciliation_charge_point_id_id",
        "stop_reconciliation",
        ["charge_point_id", "id"],
    )

    for name in ("firmware_status_notifications", "diagnostics_status_notifications"):
        op.create_table(
            name,
            sa.Column("id", big_id(), nullable=False, autoincrement=True),
            sa.Column("charge_point_id", sa.Text, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("received_at", UtcDateTime, nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        )
        op.create_index(f"ix_{name}_charge_point_id_id", name, ["charge_point_id", "id"])

    op.create_table(
        "data_transfers",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("vendor_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text),
        sa.Column("data", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_transfers"),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name="fk_data_transfers_charge_point_id_charge_points",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "direction IN ('from_charge_point', 'to_charge_point')",
            name=op.f("ck_data_transfers_direction"),
        ),
    )
    op.create_index(
        "ix_data_transfers_charge_point_id_id", "data_transfers", ["charge_point_id", "id"]
    )


def downgrade() -> None:
    for table in (
        "data_transfers",
        "diagnostics_status_notifications",
        "firmware_status_notifications",
        "stop_reconciliation",
        "meter_values",
        "transactions",
        "id_tags",
        "connector_status_history",
        "connectors",
        "boot_notifications",
        "charge_points",
    ):
        op.drop_table(table)
