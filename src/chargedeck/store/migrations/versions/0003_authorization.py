"""Authorization and transactions: cards by printed UID, the unknown-tag inbox, default owners
and free vend, reported configuration, Local Authorization Lists, reservations, tariffs,
reconciliation of transactions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chargedeck.store.types import UtcDateTime, big_id

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("charge_points") as batch:
        batch.add_column(sa.Column("default_owner", sa.Text))
        batch.add_column(
            sa.Column("free_vend", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("free_vend_id_tag", sa.Text))
        batch.add_column(sa.Column("tariff_id", sa.Integer))
    with op.batch_alter_table("id_tags") as batch:
        batch.add_column(sa.Column("card_uid", sa.Text))
        batch.add_column(sa.Column("label", sa.Text))
        batch.add_column(sa.Column("notes", sa.Text))
        batch.add_column(sa.Column("max_active_transactions", sa.Integer))
        batch.add_column(sa.Column("updated_at", UtcDateTime))
    op.create_index("ix_id_tags_card_uid", "id_tags", ["card_uid"])
    op.create_index("ix_id_tags_parent_id_tag", "id_tags", ["parent_id_tag"])
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("owner", sa.Text))
        batch.add_column(sa.Column("reconciliation", sa.Text))
        batch.add_column(sa.Column("reconciled_at", UtcDateTime))

    op.create_table(
        "unknown_id_tags",
        sa.Column("id_tag_key", sa.Text, nullable=False),
        sa.Column("id_tag", sa.Text, nullable=False),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_charge_point_id", sa.Text, nullable=False),
        sa.Column("last_connector_id", sa.Integer),
        sa.Column("last_action", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id_tag_key", name="pk_unknown_id_tags"),
    )
    op.create_index("ix_unknown_id_tags_last_seen_at", "unknown_id_tags", ["last_seen_at"])

    op.create_table(
        "charge_point_configuration",
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("readonly", sa.Boolean, nullable=False),
        sa.Column("reported_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", "key", name="pk_charge_point_configuration"),
    )

    op.create_table(
        "local_list_versions",
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("synced_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name="pk_local_list_versions"),
    )
    op.create_table(
        "local_list_sends",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("list_version", sa.Integer, nullable=False),
        sa.Column("update_type", sa.Text, nullable=False),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("status", sa.Text),
        sa.Column("sent_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_local_list_sends"),
    )
    op.create_index(
        "ix_local_list_sends_charge_point_id_id", "local_list_sends", ["charge_point_id", "id"]
    )
    op.create_table(
        "local_list_entries",
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("id_tag", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("expiry_date", UtcDateTime),
        sa.Column("parent_id_tag", sa.Text),
        sa.PrimaryKeyConstraint("charge_point_id", "id_tag", name="pk_local_list_entries"),
    )

    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("id_tag", sa.Text, nullable=False),
        sa.Column("parent_id_tag", sa.Text),
        sa.Column("expiry_date", UtcDateTime, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("transaction_id", sa.Integer),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reservations"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_reservations_charge_point_id_status", "reservations", ["charge_point_id", "status"]
    )

    op.create_table(
        "tariffs",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("price_per_kwh", sa.Text, nullable=False),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("windows", sa.Text, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tariffs"),
        sa.UniqueConstraint("name", name="uq_tariffs_name"),
    )


def downgrade() -> None:
    for table in (
        "tariffs",
        "reservations",
        "local_list_entries",
        "local_list_sends",
        "local_list_versions",
        "charge_point_configuration",
        "unknown_id_tags",
    ):
        op.drop_table(table)
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("reconciled_at")
        batch.drop_column("reconciliation")
        batch.drop_column("owner")
    op.drop_index("ix_id_tags_parent_id_tag", "id_tags")
    op.drop_index("ix_id_tags_card_uid", "id_tags")
    with op.batch_alter_table("id_tags") as batch:
        for column in ("updated_at", "max_active_transactions", "notes", "label", "card_uid"):
            batch.drop_column(column)
    with op.batch_alter_table("charge_points") as batch:
        for column in ("tariff_id", "free_vend_id_tag", "free_vend", "default_owner"):
            batch.drop_column(column)
