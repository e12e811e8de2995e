"""Security: charger security profiles and keys, refused connections, security extension
records, certificates, operator accounts and API tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chargedeck.store.types import UtcDateTime, big_id

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_REQUEST_STATUS_TABLES = ("log_status_notifications", "signed_firmware_status_notifications")


def upgrade() -> None:
    with op.batch_alter_table("charge_points") as batch:
        batch.add_column(
            sa.Column("security_profile", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("pending_security_profile", sa.Integer))
        batch.add_column(sa.Column("authorization_key_hash", sa.Text))
        batch.add_column(sa.Column("authorization_key_set_at", UtcDateTime))

    op.create_table(
        "connection_rejections",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("remote_host", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("first_at", UtcDateTime, nullable=False),
        sa.Column("last_at", UtcDateTime, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_connection_rejections"),
        sa.UniqueConstraint(
            "charge_point_id",
            "remote_host",
            "reason",
            name="uq_connection_rejections_charge_point_id_remote_host_reason",
        ),
    )
    op.create_index(
        "ix_connection_rejections_charge_point_id_last_at",
        "connection_rejections",
        ["charge_point_id", "last_at"],
    )
    op.create_index("ix_connection_rejections_last_at", "connection_rejections", ["last_at"])

    op.create_table(
        "security_events",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("timestamp", UtcDateTime, nullable=False),
        sa.Column("tech_info", sa.Text),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_security_events"),
    )
    op.create_index(
        "ix_security_events_charge_point_id_id", "security_events", ["charge_point_id", "id"]
    )

    for name in _REQUEST_STATUS_TABLES:
        op.create_table(
            name,
            sa.Column("id", big_id(), nullable=False, autoincrement=True),
            sa.Column("charge_point_id", sa.Text, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("request_id", sa.Integer),
            sa.Column("received_at", UtcDateTime, nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        )
        op.create_index(f"ix_{name}_charge_point_id_id", name, ["charge_point_id", "id"])

    op.create_table(
        "issued_certificates",
        sa.Column("serial_number", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("charge_point_id", sa.Text),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("not_before", UtcDateTime, nullable=False),
        sa.Column("not_after", UtcDateTime, nullable=False),
        sa.Column("issued_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("serial_number", name="pk_issued_certificates"),
        sa.CheckConstraint(
            "kind IN ('server', 'charger', 'signed_csr')", name=op.f("ck_issued_certificates_kind")
        ),
    )

    op.create_table(
        "revoked_certificates",
        sa.Column("serial_number", sa.Text, nullable=False),
        sa.Column("charge_point_id", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("revoked_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("serial_number", name="pk_revoked_certificates"),
    )

    op.create_table(
        "operator_users",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("disabled_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_operator_users"),
        sa.UniqueConstraint("username", name="uq_operator_users_username"),
        sa.CheckConstraint(
            "scope IN ('read', 'operate', 'admin')", name=op.f("ck_operator_users_scope")
        ),
    )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("token_prefix", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_used_at", UtcDateTime),
        sa.Column("expires_at", UtcDateTime),
        sa.Column("revoked_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["operator_users.id"],
            name="fk_api_tokens_user_id_operator_users",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "scope IN ('read', 'operate', 'admin')", name=op.f("ck_api_tokens_scope")
        ),
    )


def downgrade() -> None:
    for table in (
        "api_tokens",
        "operator_users",
        "revoked_certificates",
        "issued_certificates",
        *_REQUEST_STATUS_TABLES,
        "security_events",
        "connection_rejections",
    ):
        op.drop_table(table)
    with op.batch_alter_table("charge_points") as batch:
        batch.drop_column("authorization_key_set_at")
        batch.drop_column("authorization_key_hash")
        batch.drop_column("pending_security_profile")
        batch.drop_column("security_profile")
