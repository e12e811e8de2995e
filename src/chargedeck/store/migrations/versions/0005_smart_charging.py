"""Smart charging and site load management: sites, circuits, charger placements and limits,
charging profiles sent, site meter readings, limit alerts; a session's charging mode.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chargedeck.store.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLES = (
    "limit_alerts",
    "site_readings",
    "charging_profiles",
    "charger_limits",
    "charger_placements",
    "circuits",
    "sites",
)


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("strategy", sa.Text, nullable=False),
        sa.Column("household_reserve_a", sa.Float, nullable=False, server_default="0"),
        sa.Column("meter_stale_after_s", sa.Integer, nullable=False, server_default="60"),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
        sa.UniqueConstraint("name", name="uq_sites_name"),
        sa.CheckConstraint(
            "strategy IN ('equal', 'priority', 'first_come')", name=op.f("ck_sites_strategy")
        ),
    )
    op.create_table(
        "circuits",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("site_id", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.Integer),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("limit_l1_a", sa.Float, nullable=False),
        sa.Column("limit_l2_a", sa.Float, nullable=False),
        sa.Column("limit_l3_a", sa.Float, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_circuits"),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_circuits_site_id_sites", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["circuits.id"],
            name="fk_circuits_parent_id_circuits",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("site_id", "name", name="uq_circuits_site_id_name"),
    )
    op.create_index("ix_circuits_site_id", "circuits", ["site_id"])
    op.create_table(
        "charger_placements",
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("circuit_id", sa.Integer, nullable=False),
        sa.Column("phase_rotation", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("mode", sa.Text, nullable=False, server_default="fast"),
        sa.Column("placed_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name="pk_charger_placements"),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name="fk_charger_placements_charge_point_id_charge_points",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["circuit_id"],
            ["circuits.id"],
            name="fk_charger_placements_circuit_id_circuits",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "phase_rotation IN ('L1L2L3', 'L2L3L1', 'L3L1L2', 'L1', 'L2', 'L3')",
            name=op.f("ck_charger_placements_phase_rotation"),
        ),
        sa.CheckConstraint(
            "mode IN ('fast', 'min_solar', 'solar')", name=op.f("ck_charger_placements_mode")
        ),
    )
    op.create_index("ix_charger_placements_circuit_id", "charger_placements", ["circuit_id"])
    op.create_table(
        "charger_limits",
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("set_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name="pk_charger_limits"),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name="fk_charger_limits_charge_point_id_charge_points",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("unit IN ('A', 'kW')", name=op.f("ck_charger_limits_unit")),
    )
    op.create_table(
        "charging_profiles",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("charging_profile_id", sa.Integer, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("stack_level", sa.Integer, nullable=False),
        sa.Column("transaction_id", sa.Integer),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=False),
        sa.Column("answered_at", UtcDateTime),
        sa.Column("ended_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_charging_profiles"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_charging_profiles_charge_point_id_status",
        "charging_profiles",
        ["charge_point_id", "status"],
    )
    op.create_table(
        "site_readings",
        sa.Column("site_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("l1_a", sa.Float),
        sa.Column("l2_a", sa.Float),
        sa.Column("l3_a", sa.Float),
        sa.Column("power_w", sa.Float),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("measured_at", UtcDateTime, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "kind", name="pk_site_readings"),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_site_readings_site_id_sites", ondelete="CASCADE"
        ),
        sa.CheckConstraint("kind IN ('grid', 'solar')", name=op.f("ck_site_readings_kind")),
    )
    op.create_table(
        "limit_alerts",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("connector_id", sa.Integer, nullable=False),
        sa.Column("limit_a", sa.Float, nullable=False),
        sa.Column("measured_a", sa.Float, nullable=False),
        sa.Column("over_since", UtcDateTime, nullable=False),
        sa.Column("raised_at", UtcDateTime, nullable=False),
        sa.Column("cleared_at", UtcDateTime),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_limit_alerts"),
    )
    op.create_index("ix_limit_alerts_charge_point_id", "limit_alerts", ["charge_point_id"])
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("charging_mode", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("charging_mode")
    for table in _TABLES:
        op.drop_table(table)
