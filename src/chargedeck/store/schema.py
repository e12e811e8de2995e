"""Tables of the store: the one description of the schema, checked against the migrations by a test.

Rules (DESIGN §6): times are ``UtcDateTime``; energy is Wh in ``BigInteger`` (a lifetime energy
register passes 2^31 Wh = 2.1 GWh on a busy fast charger); ids sent by chargers are text.
Charger-supplied strings are unbounded ``Text``: a lenient-mode charger that sends an over-long
field must not make PostgreSQL refuse a row. Tables written by the batch writer
(``connector_status_history``, ``connectors``, ``meter_values``, the status notifications) have
no foreign keys: one batch mixes many chargers, and one bad row must not fail the others' commit.
"""

from __future__ import annotations

import sqlalchemy as sa

from chargedeck.store.types import UtcDateTime, big_id

# Deterministic constraint names so migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# OCPP 1.6 transactionId is a JSON integer the charger keeps in a 32-bit int: ids stay in
# 1..2^31-1 (PostgreSQL's serial is int4 anyway; on SQLite the check constraint enforces it).
TRANSACTION_ID_MAX = 2**31 - 1

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

charge_points = sa.Table(
    "charge_points",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
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
    # Security Whitepaper ed.3: the profile the charger must connect with (0-3), the profile it
    # was asked to move to and has not yet connected with (both accepted until it does), and the
    # AuthorizationKey as a salted hash (A01.FR.08), never the key itself.
    sa.Column("security_profile", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pending_security_profile", sa.Integer),
    sa.Column("authorization_key_hash", sa.Text),
    sa.Column("authorization_key_set_at", UtcDateTime),
    # Who charges when no card is used (AuthEnabled=false placeholder idTag, free vend), and the
    # free-vend policy: ChargeDeck starts a transaction itself when a connector goes Preparing.
    sa.Column("default_owner", sa.Text),
    sa.Column("free_vend", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("free_vend_id_tag", sa.Text),
    sa.Column("tariff_id", sa.Integer),
    sa.CheckConstraint("registration IN ('registered', 'pending')", name="registration"),
)
sa.Index("ix_charge_points_registration", charge_points.c.registration)

boot_notifications = sa.Table(
    "boot_notifications",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column(
        "charge_point_id",
        sa.Text,
        sa.ForeignKey("charge_points.id", ondelete="CASCADE"),
        nullable=False,
    ),
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
)
sa.Index(
    "ix_boot_notifications_charge_point_id_id",
    boot_notifications.c.charge_point_id,
    boot_notifications.c.id,
)

connectors = sa.Table(
    "connectors",
    metadata,
    sa.Column("charge_point_id", sa.Text, primary_key=True),
    sa.Column("connector_id", sa.Integer, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("error_code", sa.Text, nullable=False),
    sa.Column("info", sa.Text),
    sa.Column("vendor_id", sa.Text),
    sa.Column("vendor_error_code", sa.Text),
    sa.Column("status_timestamp", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

connector_status_history = sa.Table(
    "connector_status_history",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("error_code", sa.Text, nullable=False),
    sa.Column("info", sa.Text),
    sa.Column("vendor_id", sa.Text),
    sa.Column("vendor_error_code", sa.Text),
    sa.Column("timestamp", UtcDateTime),
    sa.Column("received_at", UtcDateTime, nullable=False),
)
sa.Index(
    "ix_connector_status_history_charge_point_id_id",
    connector_status_history.c.charge_point_id,
    connector_status_history.c.id,
)
sa.Index(
    "ix_connector_status_history_charge_point_id_connector_id_id",
    connector_status_history.c.charge_point_id,
    connector_status_history.c.connector_id,
    connector_status_history.c.id,
)

id_tags = sa.Table(
    "id_tags",
    metadata,
    sa.Column("id_tag", sa.Text, primary_key=True),
    # OCPP 1.6 §7.15: IdToken is case-insensitive; the upper-cased key finds "04a2" as "04A2".
    sa.Column("id_tag_key", sa.Text, nullable=False, unique=True),
    sa.Column("parent_id_tag", sa.Text),
    sa.Column("expiry_date", UtcDateTime),
    sa.Column("blocked", sa.Boolean, nullable=False),
    sa.Column("owner", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # The card's UID as printed (canonical upper-case hex, big-endian), when it was registered
    # that way: chargers that send it byte-reversed (Wallbox) still match (domain/card_uids.py).
    sa.Column("card_uid", sa.Text),
    sa.Column("label", sa.Text),
    sa.Column("notes", sa.Text),
    sa.Column("max_active_transactions", sa.Integer),
    sa.Column("updated_at", UtcDateTime),
)
sa.Index("ix_id_tags_card_uid", id_tags.c.card_uid)
sa.Index("ix_id_tags_parent_id_tag", id_tags.c.parent_id_tag)

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "charge_point_id",
        sa.Text,
        sa.ForeignKey("charge_points.id"),
        nullable=False,
    ),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("id_tag", sa.Text, nullable=False),
    sa.Column("meter_start", sa.BigInteger, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("reservation_id", sa.Integer),
    sa.Column("start_id_tag_status", sa.Text, nullable=False),
    # Who the session is attributed to when it started (the tag's owner, or the charger's
    # default owner for a placeholder idTag): reports must not change when a card changes hands.
    sa.Column("owner", sa.Text),
    sa.Column("meter_stop", sa.BigInteger),
    sa.Column("stopped_at", UtcDateTime),
    sa.Column("stop_reason", sa.Text),
    sa.Column("stop_id_tag", sa.Text),
    # Closed by ChargeDeck, not by a StopTransaction: how (e.g. closed_with_last_reading) and when.
    sa.Column("reconciliation", sa.Text),
    sa.Column("reconciled_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The operator's charging mode for this session (fast, min_solar, solar), overriding the
    # charger's placement mode; NULL = the placement's.
    sa.Column("charging_mode", sa.Text),
    # DESIGN §6: a repeated StartTransaction.req returns the transaction this key already has.
    sa.UniqueConstraint(
        "charge_point_id", "connector_id", "id_tag", "meter_start", "started_at", name="uq_start"
    ),
    sa.CheckConstraint(f"id BETWEEN 1 AND {TRANSACTION_ID_MAX}", name="id_int32"),
    # AUTOINCREMENT: never hand out the id of a deleted transaction again.
    sqlite_autoincrement=True,
)
sa.Index(
    "ix_transactions_charge_point_id_id",
    transactions.c.charge_point_id,
    transactions.c.id,
)
sa.Index(
    "ix_transactions_charge_point_id_started_at",
    transactions.c.charge_point_id,
    transactions.c.started_at.desc(),
)
sa.Index(
    "ix_transactions_active",
    transactions.c.charge_point_id,
    transactions.c.connector_id,
    sqlite_where=transactions.c.stopped_at.is_(None),
    postgresql_where=transactions.c.stopped_at.is_(None),
)

# One row per OCPP MeterValue element (a timestamp and its sampledValue array), not per sampled
# value: the write path inserts what it received in one executemany and nothing more.
meter_values = sa.Table(
    "meter_values",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    # No foreign key: a charger may send values for a transaction the store never saw.
    sa.Column("transaction_id", sa.Integer),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("sampled_values", sa.Text, nullable=False),
    sa.Column("energy_wh", sa.BigInteger),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("source IN ('MeterValues', 'StopTransaction')", name="source"),
)
sa.Index(
    "ix_meter_values_transaction_id_timestamp",
    meter_values.c.transaction_id,
    meter_values.c.timestamp,
)
sa.Index(
    "ix_meter_values_charge_point_id_timestamp",
    meter_values.c.charge_point_id,
    meter_values.c.timestamp,
)

stop_reconciliation = sa.Table(
    "stop_reconciliation",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("transaction_id", sa.Integer, nullable=False),
    sa.Column("id_tag", sa.Text),
    sa.Column("meter_stop", sa.BigInteger, nullable=False),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("kind IN ('unknown_transaction', 'already_stopped')", name="kind"),
)
sa.Index(
    "ix_stop_reconciliation_charge_point_id_id",
    stop_reconciliation.c.charge_point_id,
    stop_reconciliation.c.id,
)


def _status_notifications(name: str) -> sa.Table:
    table = sa.Table(
        name,
        metadata,
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
    )
    sa.Index(f"ix_{name}_charge_point_id_id", table.c.charge_point_id, table.c.id)
    return table


firmware_status_notifications = _status_notifications("firmware_status_notifications")
diagnostics_status_notifications = _status_notifications("diagnostics_status_notifications")

data_transfers = sa.Table(
    "data_transfers",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column(
        "charge_point_id",
        sa.Text,
        sa.ForeignKey("charge_points.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("direction", sa.Text, nullable=False),
    sa.Column("vendor_id", sa.Text, nullable=False),
    sa.Column("message_id", sa.Text),
    sa.Column("data", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("direction IN ('from_charge_point', 'to_charge_point')", name="direction"),
)
sa.Index(
    "ix_data_transfers_charge_point_id_id",
    data_transfers.c.charge_point_id,
    data_transfers.c.id,
)


# Refused charger connections, one row per (charger, remote host, reason) with a count: a flood of
# bad attempts grows a counter, not the table. charge_point_id '' = not known (TLS refused).
connection_rejections = sa.Table(
    "connection_rejections",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("remote_host", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("first_at", UtcDateTime, nullable=False),
    sa.Column("last_at", UtcDateTime, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("charge_point_id", "remote_host", "reason"),
)
sa.Index(
    "ix_connection_rejections_charge_point_id_last_at",
    connection_rejections.c.charge_point_id,
    connection_rejections.c.last_at,
)
sa.Index("ix_connection_rejections_last_at", connection_rejections.c.last_at)

security_events = sa.Table(
    "security_events",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    # Security Whitepaper ed.3 §4: type is free text (<= 50), not an enum; unknown types are kept.
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("tech_info", sa.Text),
    sa.Column("received_at", UtcDateTime, nullable=False),
)
sa.Index(
    "ix_security_events_charge_point_id_id", security_events.c.charge_point_id, security_events.c.id
)


def _request_status_notifications(name: str) -> sa.Table:
    """LogStatusNotification / SignedFirmwareStatusNotification: a status and its requestId."""
    table = sa.Table(
        name,
        metadata,
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("charge_point_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("request_id", sa.Integer),
        sa.Column("received_at", UtcDateTime, nullable=False),
    )
    sa.Index(f"ix_{name}_charge_point_id_id", table.c.charge_point_id, table.c.id)
    return table


log_status_notifications = _request_status_notifications("log_status_notifications")
signed_firmware_status_notifications = _request_status_notifications(
    "signed_firmware_status_notifications"
)

# Certificates ChargeDeck's CA issued (charger client certificates, signed CSRs, server
# certificates): what the operator sees and can revoke. serial_number is lower-case hex.
issued_certificates = sa.Table(
    "issued_certificates",
    metadata,
    sa.Column("serial_number", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("charge_point_id", sa.Text),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False),
    sa.Column("not_after", UtcDateTime, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("kind IN ('server', 'charger', 'signed_csr')", name="kind"),
)

# The operator-revoked list checked on every profile 3 handshake: serials of any CA's
# certificates (the operator may bring their own CA), lower-case hex.
revoked_certificates = sa.Table(
    "revoked_certificates",
    metadata,
    sa.Column("serial_number", sa.Text, primary_key=True),
    sa.Column("charge_point_id", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("revoked_at", UtcDateTime, nullable=False),
)

operator_users = sa.Table(
    "operator_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.Text, nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled_at", UtcDateTime),
    sa.CheckConstraint("scope IN ('read', 'operate', 'admin')", name="scope"),
)

# API tokens are random 256-bit secrets: a SHA-256 of the token is enough to find and check it
# (no salt or slow hash needed for high-entropy secrets), and cheap on every request.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("operator_users.id", ondelete="CASCADE")),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("token_prefix", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
    sa.CheckConstraint("scope IN ('read', 'operate', 'admin')", name="scope"),
)


# Id tags presented that the store did not know: the inbox an operator adopts or blocks from.
unknown_id_tags = sa.Table(
    "unknown_id_tags",
    metadata,
    sa.Column("id_tag_key", sa.Text, primary_key=True),
    sa.Column("id_tag", sa.Text, nullable=False),
    sa.Column("first_seen_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("last_charge_point_id", sa.Text, nullable=False),
    sa.Column("last_connector_id", sa.Integer),
    sa.Column("last_action", sa.Text, nullable=False),
)
sa.Index("ix_unknown_id_tags_last_seen_at", unknown_id_tags.c.last_seen_at)

# The configuration a charger last reported (GetConfiguration), key by key.
charge_point_configuration = sa.Table(
    "charge_point_configuration",
    metadata,
    sa.Column("charge_point_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("readonly", sa.Boolean, nullable=False),
    sa.Column("reported_at", UtcDateTime, nullable=False),
)

# The Local Authorization List: the version each charger holds and what ChargeDeck sent.
local_list_versions = sa.Table(
    "local_list_versions",
    metadata,
    sa.Column("charge_point_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("synced_at", UtcDateTime, nullable=False),
)
local_list_sends = sa.Table(
    "local_list_sends",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("list_version", sa.Integer, nullable=False),
    sa.Column("update_type", sa.Text, nullable=False),
    sa.Column("entry_count", sa.Integer, nullable=False),
    sa.Column("status", sa.Text),
    sa.Column("sent_at", UtcDateTime, nullable=False),
)
sa.Index(
    "ix_local_list_sends_charge_point_id_id",
    local_list_sends.c.charge_point_id,
    local_list_sends.c.id,
)
local_list_entries = sa.Table(
    "local_list_entries",
    metadata,
    sa.Column("charge_point_id", sa.Text, primary_key=True),
    sa.Column("id_tag", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("expiry_date", UtcDateTime),
    sa.Column("parent_id_tag", sa.Text),
)

reservations = sa.Table(
    "reservations",
    metadata,
    # OCPP 1.6 reservationId: one sequence for all chargers, so an id is never reused.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("id_tag", sa.Text, nullable=False),
    sa.Column("parent_id_tag", sa.Text),
    sa.Column("expiry_date", UtcDateTime, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("transaction_id", sa.Integer),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)
sa.Index(
    "ix_reservations_charge_point_id_status", reservations.c.charge_point_id, reservations.c.status
)

tariffs = sa.Table(
    "tariffs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("currency", sa.Text, nullable=False),
    # Decimal as text: exact on both databases.
    sa.Column("price_per_kwh", sa.Text, nullable=False),
    sa.Column("time_zone", sa.Text, nullable=False),
    # JSON list of {"start": "HH:MM", "end": "HH:MM", "price_per_kwh": "0.12"}.
    sa.Column("windows", sa.Text, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# ---- charger operations (firmware, diagnostics, configuration memory, acceptance checks) -------

firmware_files = sa.Table(
    "firmware_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    # Relative to data_dir: the file itself is on disk, not in the database.
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("uploaded_at", UtcDateTime, nullable=False),
)

firmware_jobs = sa.Table(
    "firmware_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("firmware_file_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("retrieve_date", UtcDateTime, nullable=False),
    sa.Column("retries", sa.Integer),
    sa.Column("retry_interval_s", sa.Integer),
    sa.Column("expected_version", sa.Text),
    # The secret part of the job's download URL, and when that URL stops working.
    sa.Column("url_token", sa.Text, nullable=False, unique=True),
    sa.Column("url_expires_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("kind IN ('update', 'signed_update')", name="kind"),
)

firmware_job_chargers = sa.Table(
    "firmware_job_chargers",
    metadata,
    sa.Column("job_id", sa.Integer, primary_key=True),
    sa.Column("charge_point_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("request_id", sa.Integer),
    sa.Column("firmware_before", sa.Text),
    sa.Column("firmware_after", sa.Text),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
sa.Index(
    "ix_firmware_job_chargers_charge_point_id",
    firmware_job_chargers.c.charge_point_id,
    firmware_job_chargers.c.status,
)

diagnostics_jobs = sa.Table(
    "diagnostics_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("request_id", sa.Integer),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("upload_token", sa.Text, nullable=False, unique=True),
    sa.Column("file_name", sa.Text),
    sa.Column("file_size", sa.BigInteger),
    sa.Column("file_path", sa.Text),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("kind IN ('diagnostics', 'diagnostics_log', 'security_log')", name="kind"),
)
sa.Index(
    "ix_diagnostics_jobs_charge_point_id_id",
    diagnostics_jobs.c.charge_point_id,
    diagnostics_jobs.c.id,
)

# Every GetConfiguration read in full, secrets masked before they are stored.
configuration_snapshots = sa.Table(
    "configuration_snapshots",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("taken_at", UtcDateTime, nullable=False),
    sa.Column("firmware_version", sa.Text),
    # JSON list of {"key", "value", "readonly"}, and of unknown keys.
    sa.Column("keys", sa.Text, nullable=False),
    sa.Column("unknown_keys", sa.Text, nullable=False),
)
sa.Index(
    "ix_configuration_snapshots_charge_point_id_id",
    configuration_snapshots.c.charge_point_id,
    configuration_snapshots.c.id,
)

configuration_templates = sa.Table(
    "configuration_templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    # A charger-model row name of domain/charger_models.py, or NULL for every model.
    sa.Column("charger_model", sa.Text),
    # JSON object {key: wanted value}.
    sa.Column("keys", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

acceptance_reports = sa.Table(
    "acceptance_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("firmware_version", sa.Text),
    sa.Column("charger_model", sa.Text, nullable=False),
    sa.Column("ran_at", UtcDateTime, nullable=False),
    # JSON: per feature, works / refused / not supported / ignored, with details and quirks.
    sa.Column("report", sa.Text, nullable=False),
)
sa.Index(
    "ix_acceptance_reports_charge_point_id_id",
    acceptance_reports.c.charge_point_id,
    acceptance_reports.c.id,
)

# ---- smart charging and site load management (DESIGN §7, docs/smart-charging.md) --------------

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    # How the budget of a circuit is shared: equal, priority, first_come (domain/load_management).
    sa.Column("strategy", sa.Text, nullable=False),
    # Amps per phase assumed taken by the household when no fresh grid meter reading exists:
    # the fail-safe budget is the fuse minus this (domain/charging_modes.py).
    sa.Column("household_reserve_a", sa.Float, nullable=False, server_default="0"),
    # A grid or solar reading older than this is stale: the site falls back to the safe limit.
    sa.Column("meter_stale_after_s", sa.Integer, nullable=False, server_default="60"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("strategy IN ('equal', 'priority', 'first_come')", name="strategy"),
)

circuits = sa.Table(
    "circuits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    # NULL for the site's grid connection (one per site); otherwise the board it hangs from.
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("circuits.id", ondelete="CASCADE")),
    sa.Column("name", sa.Text, nullable=False),
    # Per-phase current limits in A (a single-phase circuit has 0 on the phases it lacks).
    sa.Column("limit_l1_a", sa.Float, nullable=False),
    sa.Column("limit_l2_a", sa.Float, nullable=False),
    sa.Column("limit_l3_a", sa.Float, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("site_id", "name"),
)
sa.Index("ix_circuits_site_id", circuits.c.site_id)

charger_placements = sa.Table(
    "charger_placements",
    metadata,
    sa.Column(
        "charge_point_id",
        sa.Text,
        sa.ForeignKey("charge_points.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "circuit_id", sa.Integer, sa.ForeignKey("circuits.id", ondelete="CASCADE"), nullable=False
    ),
    # Which grid phase each charger phase is wired to: L1L2L3, L2L3L1, L3L1L2 (rotation of a
    # three-phase charger) or L1, L2, L3 (a single-phase charger).
    sa.Column("phase_rotation", sa.Text, nullable=False),
    # Higher is served first under the priority strategy.
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    # fast, min_solar, solar (domain/charging_modes.py); a session may override it.
    sa.Column("mode", sa.Text, nullable=False, server_default="fast"),
    sa.Column("placed_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(
        "phase_rotation IN ('L1L2L3', 'L2L3L1', 'L3L1L2', 'L1', 'L2', 'L3')", name="phase_rotation"
    ),
    sa.CheckConstraint("mode IN ('fast', 'min_solar', 'solar')", name="mode"),
)
sa.Index("ix_charger_placements_circuit_id", charger_placements.c.circuit_id)

charger_limits = sa.Table(
    "charger_limits",
    metadata,
    # The operator's own cap for one charger (all its connectors), as typed: A per phase or kW.
    sa.Column(
        "charge_point_id",
        sa.Text,
        sa.ForeignKey("charge_points.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("set_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("unit IN ('A', 'kW')", name="unit"),
)

charging_profiles = sa.Table(
    "charging_profiles",
    metadata,
    # Every SetChargingProfile ChargeDeck sent and what became of it: the profiles a charger
    # holds are the accepted rows not cleared or replaced; ChargeDeck's own composite schedule
    # is computed from them (domain/charging_profiles.py).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("charging_profile_id", sa.Integer, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("stack_level", sa.Integer, nullable=False),
    sa.Column("transaction_id", sa.Integer),
    # The csChargingProfiles object as sent (OCPP JSON, camelCase).
    sa.Column("profile", sa.Text, nullable=False),
    # operator, load_control, fail_safe
    sa.Column("origin", sa.Text, nullable=False),
    # unanswered, accepted, rejected, not_supported, replaced, cleared
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=False),
    sa.Column("answered_at", UtcDateTime),
    sa.Column("ended_at", UtcDateTime),
    sqlite_autoincrement=True,
)
sa.Index(
    "ix_charging_profiles_charge_point_id_status",
    charging_profiles.c.charge_point_id,
    charging_profiles.c.status,
)

site_readings = sa.Table(
    "site_readings",
    metadata,
    # The latest grid meter or solar reading of a site (one row per site and kind).
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    # grid: per-phase current in A, import positive, export negative; solar: production in W.
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("l1_a", sa.Float),
    sa.Column("l2_a", sa.Float),
    sa.Column("l3_a", sa.Float),
    sa.Column("power_w", sa.Float),
    # api or mqtt
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("measured_at", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.PrimaryKeyConstraint("site_id", "kind"),
    sa.CheckConstraint("kind IN ('grid', 'solar')", name="kind"),
)

limit_alerts = sa.Table(
    "limit_alerts",
    metadata,
    # A connector that kept drawing above its limit for longer than the alert window.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("limit_a", sa.Float, nullable=False),
    sa.Column("measured_a", sa.Float, nullable=False),
    sa.Column("over_since", UtcDateTime, nullable=False),
    sa.Column("raised_at", UtcDateTime, nullable=False),
    sa.Column("cleared_at", UtcDateTime),
    sa.Column("explanation", sa.Text, nullable=False),
)
sa.Index("ix_limit_alerts_charge_point_id", limit_alerts.c.charge_point_id)

# ---- operator surfaces: message log, webhooks (issue 10) ------------------------------------

LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""The id of a high-volume table: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite."""

message_log = sa.Table(
    "message_log",
    metadata,
    # Every OCPP-J frame in and out, as it crossed the wire, per charger (retention: settings
    # message_log_retention_days and message_log_max_rows).
    # 64-bit on PostgreSQL: at thousands of frames a second a 32-bit id runs out in days;
    # INTEGER on SQLite, where only INTEGER PRIMARY KEY is the rowid alias (autoincrement).
    sa.Column("id", LOG_ID, primary_key=True, autoincrement=True),
    sa.Column("charge_point_id", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    # in: charger -> CSMS; out: CSMS -> charger.
    sa.Column("direction", sa.Text, nullable=False),
    # 2 CALL, 3 CALLRESULT, 4 CALLERROR (OCPP-J 1.6 §4.1.3); 0 for a frame that is not OCPP-J.
    sa.Column("message_type", sa.Integer, nullable=False),
    sa.Column("message_id", sa.Text, nullable=False),
    # The CALL's action, also on its result/error (found from the CALL with the same id).
    sa.Column("action", sa.Text),
    sa.Column("frame", sa.Text, nullable=False),
    sa.CheckConstraint("direction IN ('in', 'out')", name="direction"),
)
sa.Index("ix_message_log_charge_point_id_at", message_log.c.charge_point_id, message_log.c.at)
sa.Index("ix_message_log_at", message_log.c.at)

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("url", sa.Text, nullable=False),
    # HMAC-SHA256 key of the X-ChargeDeck-Signature header; kept to sign, shown once.
    sa.Column("secret", sa.Text, nullable=False),
    # Comma-separated event types (csms/events.EVENT_TYPES), or * for all.
    sa.Column("event_types", sa.Text, nullable=False),
    # Only this charger's events when set.
    sa.Column("charge_point_id", sa.Text),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    # One event to one subscription: created once (unique), retried with back-off; claimed by
    # the node sending it so that in a cluster each delivery is sent by one node at a time.
    # 64-bit on PostgreSQL like message_log.id: one row per event and webhook adds up fast.
    sa.Column("id", LOG_ID, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_until", UtcDateTime),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime),
    sa.UniqueConstraint(
        "subscription_id", "event_id", name="uq_webhook_deliveries_subscription_id"
    ),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
)
sa.Index(
    "ix_webhook_deliveries_status_next_attempt_at",
    webhook_deliveries.c.status,
    webhook_deliveries.c.next_attempt_at,
)
