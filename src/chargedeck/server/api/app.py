"""The operator REST API under /api/v1: THE route table, handlers, problem+json errors.

Every route is one row of :data:`ROUTES` with the scope it needs and its response type, so the
OpenAPI document is generated from the same table that serves the requests (STYLE rule 2).
Every route requires credentials (``auth.py``); only the OpenAPI document itself is public.
Errors are RFC 9457 problem details with a sentence that says what to change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, TypeVar

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from chargedeck.csms.charger_security import (
    ChangeOutcome,
    SecurityChange,
    SecurityChangeRefused,
    set_password,
    set_security_profile,
)
from chargedeck.csms.commands import (
    COMMANDS,
    masked_answer,
    send_command,
)
from chargedeck.csms.connection_guard import ConnectionGuard
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.stations import RemoteStationLink
from chargedeck.domain.charge_points import Registration
from chargedeck.domain.ids import ChargePointId, TransactionId
from chargedeck.domain.operators import (
    Scope,
    check_not_last_admin,
    check_password,
    check_token_name,
    check_token_scope,
    check_username,
    new_password,
    new_token,
    token_expiry,
    token_hash,
    token_prefix,
)
from chargedeck.domain.passwords import hash_secret
from chargedeck.domain.security import (
    REASONS,
    AuthorizationKey,
    InvalidAuthorizationKey,
    SecurityProfile,
    chosen_authorization_key,
)
from chargedeck.ocpp.codec import decode_request, encode_message
from chargedeck.ocpp.errors import CallErrorSent
from chargedeck.ocpp.handshake import MAX_CHARGE_POINT_ID_LENGTH
from chargedeck.ocpp.v16.actions import ACTIONS
from chargedeck.server.api.acceptance import (
    AcceptanceCheckBody,
    AcceptanceHandlers,
    AcceptanceHistoryView,
    AcceptanceReportView,
)
from chargedeck.server.api.auth import (
    UI_HEADER,
    WWW_AUTHENTICATE,
    WWW_AUTHENTICATE_UI,
    Authenticator,
    Forbidden,
    Principal,
    Unauthenticated,
)
from chargedeck.server.api.authorization import AuthorizationHandlers
from chargedeck.server.api.authorization_views import (
    AdoptIdTag,
    ChargePointAuthorization,
    ChargePointAuthorizationView,
    IdTagChange,
    IdTagView,
    NewIdTag,
    UnknownIdTagView,
)
from chargedeck.server.api.charging_profiles import (
    ChargingProfileHandlers,
    ChargingProfilesView,
    ClearChargingProfileResultView,
    CompositeScheduleView,
    NewChargingProfile,
    SetChargingProfileResultView,
)
from chargedeck.server.api.common import (
    API_PREFIX,
    ENCODER,
    JSON_DECODER,
    ApiHandlers,
    ApiProblem,
    numeric_cursor,
)
from chargedeck.server.api.common import charger_errors as _charger_errors
from chargedeck.server.api.common import checked_charge_point_id as _checked_charge_point_id
from chargedeck.server.api.common import checked_value as _checked
from chargedeck.server.api.common import id_number as _id_number
from chargedeck.server.api.common import json_response as _json
from chargedeck.server.api.common import page_limit as _limit
from chargedeck.server.api.common import path_charge_point_id as _charge_point_id
from chargedeck.server.api.common import problem_response as _problem
from chargedeck.server.api.common import read_body as _body
from chargedeck.server.api.configuration_memory import (
    ApplyResultView,
    ApplyTemplate,
    BulkRequest,
    BulkView,
    ConfigurationMemoryHandlers,
    DriftView,
    NewTemplate,
    SnapshotDiffView,
    SnapshotView,
    TemplateChange,
    TemplateView,
)
from chargedeck.server.api.events import EventStreamHandlers
from chargedeck.server.api.local_lists import (
    ConfigurationKeyView,
    LocalListHandlers,
    LocalListSyncView,
    LocalListView,
)
from chargedeck.server.api.message_log import ExplainView, MessageLogHandlers, MessageView
from chargedeck.server.api.operations_files import (
    DiagnosticsJobView,
    DiagnosticsRequestedView,
    FileOperationHandlers,
    FirmwareFileView,
    FirmwareJobView,
    NewDiagnosticsRequest,
    NewFirmwareJob,
)
from chargedeck.server.api.records import RecordHandlers, transaction_energy
from chargedeck.server.api.records_views import (
    ChargePointTariff,
    ChargePointTariffView,
    NewTariff,
    SessionReport,
    Summary,
    TariffView,
)
from chargedeck.server.api.reservations import (
    NewReservation,
    ReservationHandlers,
    ReservationResultView,
    ReservationView,
)
from chargedeck.server.api.resources import (
    ConfigurationChange,
    ConfigurationChangeView,
    ConnectorResourceView,
    ResourceHandlers,
    TransactionMeterValueView,
)
from chargedeck.server.api.setup import ChargerUrlView, OcppPorts, SetupHandlers
from chargedeck.server.api.sites import (
    ChargerLimitView,
    CircuitChange,
    CircuitView,
    EffectiveLimitView,
    LimitAlertView,
    NewChargerLimit,
    NewCircuit,
    NewPlacement,
    NewSite,
    PlacementView,
    ReadingAcceptedView,
    ReadingBody,
    SiteChange,
    SiteDetailView,
    SiteHandlers,
    SiteView,
    TransactionMode,
    TransactionModeView,
)
from chargedeck.server.api.triggers import (
    BulkTriggerBody,
    BulkTriggerView,
    TriggerBody,
    TriggerHandlers,
    TriggerResultView,
)
from chargedeck.server.api.ui_data import (
    SettingsView,
    SiteLoadView,
    TransactionSeriesView,
    UiDataHandlers,
)
from chargedeck.server.api.views import (
    ChargePointDetailView,
    ChargePointView,
    CommandResultView,
    ConnectionView,
    ConnectorView,
    CreatedTokenView,
    CreatedUserView,
    IssuedCertificateView,
    MeterValueView,
    MeView,
    NewChargePoint,
    NewChargePointPassword,
    NewPassword,
    NewRevokedCertificate,
    NewSecurityProfile,
    NewToken,
    NewUser,
    Page,
    PasswordChangedView,
    RejectionView,
    RevokedCertificateView,
    SecurityChangeView,
    SecurityEventView,
    StatusHistoryView,
    TlsReloadView,
    TokenView,
    TransactionDetailView,
    TransactionView,
    UserView,
)
from chargedeck.server.api.web_session import (
    LoggedOutView,
    LoginBody,
    SessionView,
    WebSessionHandlers,
)
from chargedeck.server.api.web_static import web_routes
from chargedeck.server.api.webhooks import (
    CreatedWebhookView,
    NewWebhook,
    WebhookChange,
    WebhookDeliveryView,
    WebhookHandlers,
    WebhookView,
)
from chargedeck.server.metrics import Metrics, metrics_route
from chargedeck.server.tls import ServerTls, TlsConfigError
from chargedeck.store import errors as store_errors
from chargedeck.store.certificates import RevokedCertificateRecord
from chargedeck.store.operators import ApiTokenRecord, OperatorUserRecord
from chargedeck.store.records import ChargePointRecord, TransactionRecord
from chargedeck.store.rejections import RejectionRecord

log = logging.getLogger(__name__)

T = TypeVar("T")


def _password_or_new(password: str | None) -> tuple[str, str | None]:
    """(the password to set, the generated one to answer once or None when it was chosen)."""
    if password is None:
        generated = new_password()
        return generated, generated
    return _checked(check_password, password), None


def _unknown_user(username: str) -> ApiProblem:
    return ApiProblem(
        HTTPStatus.NOT_FOUND, "unknown-user", f"user {username[:64]!r} does not exist"
    )


# ---- views from records ---------------------------------------------------------------------


def _authorization_key(text: str | None, generate: bool) -> tuple[AuthorizationKey, str | None]:
    """The key from a request body, and the text to show once when it was generated."""
    try:
        chosen = chosen_authorization_key(text, generate)
    except InvalidAuthorizationKey as exc:
        raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-password", str(exc)) from None
    if chosen is None:
        raise ApiProblem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid-password",
            "give a password, or ask for a generated one",
        )
    return chosen


class Api(
    AuthorizationHandlers,
    LocalListHandlers,
    ReservationHandlers,
    SiteHandlers,
    RecordHandlers,
    TriggerHandlers,
    ChargingProfileHandlers,
    AcceptanceHandlers,
    ConfigurationMemoryHandlers,
    FileOperationHandlers,
    UiDataHandlers,
    EventStreamHandlers,
    WebhookHandlers,
    WebSessionHandlers,
    SetupHandlers,
    MessageLogHandlers,
    ResourceHandlers,
    ApiHandlers,
):
    """The API handlers over the shared services (handler classes of other modules join as
    further bases)."""

    def _connection(self, charge_point_id: str) -> ConnectionView:
        link = self.services.stations.get(charge_point_id)
        if link is None:
            return ConnectionView(connected=False)
        state = link.state
        return ConnectionView(
            connected=True,
            remote_address=state.remote_address,
            connected_at=state.connected_at,
            boot_status=state.boot_status,
            security_profile=int(state.security_profile),
            node=(
                link.node
                if isinstance(link, RemoteStationLink)
                else (self.services.events.node if self.services.stations.cluster else None)
            ),
        )

    def _charge_point_view(self, record: ChargePointRecord) -> ChargePointView:
        return ChargePointView(
            id=record.id,
            registration=record.registration.value,
            vendor=record.vendor,
            model=record.model,
            charge_point_serial_number=record.charge_point_serial_number,
            charge_box_serial_number=record.charge_box_serial_number,
            firmware_version=record.firmware_version,
            meter_type=record.meter_type,
            first_seen_at=record.first_seen_at,
            last_boot_at=record.last_boot_at,
            last_heartbeat_at=record.last_heartbeat_at,
            adopted_at=record.adopted_at,
            created_at=record.created_at,
            security_profile=int(record.security_profile),
            pending_security_profile=(
                None
                if record.pending_security_profile is None
                else int(record.pending_security_profile)
            ),
            has_password=record.authorization_key_set_at is not None,
            authorization_key_set_at=record.authorization_key_set_at,
            connection=self._connection(record.id),
        )

    # ---- charge points ----------------------------------------------------------------------

    async def list_charge_points(self, request: Request, caller: Principal) -> Response:
        text = request.query_params.get("registration")
        registration = None
        if text is not None:
            try:
                registration = Registration(text)
            except ValueError:
                raise ApiProblem(
                    HTTPStatus.BAD_REQUEST,
                    "invalid-query",
                    f"registration={text!r}: expected registered or pending",
                ) from None
        return await self._charge_point_page(request, registration)

    async def inbox(self, request: Request, caller: Principal) -> Response:
        return await self._charge_point_page(request, Registration.PENDING)

    async def _charge_point_page(
        self, request: Request, registration: Registration | None
    ) -> Response:
        """Every charge point (or those with ``registration``) by id; with ``limit`` or
        ``cursor`` (the last id of the previous page) a page of them: thousands of chargers
        need not come in one answer, and callers that ask for no page get the whole list."""
        params = request.query_params
        store = self.services.store.charge_points
        if "limit" not in params and "cursor" not in params:
            records = await store.list_charge_points(registration)
            return _json(Page(items=[self._charge_point_view(r) for r in records]))
        limit = _limit(request)
        cursor = params.get("cursor")
        if cursor is not None and not 1 <= len(cursor) <= MAX_CHARGE_POINT_ID_LENGTH:
            raise ApiProblem(
                HTTPStatus.BAD_REQUEST,
                "invalid-cursor",
                f"cursor {cursor[:32]!r} is no charge point id; use next_cursor of the "
                "previous page",
            )
        records = await store.list_charge_points(registration, after_id=cursor, limit=limit)
        next_cursor = records[-1].id if len(records) == limit else None
        items = [self._charge_point_view(r) for r in records]
        return _json(Page(items=items, next_cursor=next_cursor))

    async def add_charge_point(self, request: Request, caller: Principal) -> Response:
        body = await _body(request, NewChargePoint)
        charge_point_id = _checked_charge_point_id(body.id, HTTPStatus.UNPROCESSABLE_ENTITY)
        key_hash, shown = None, None
        if body.password is not None or body.generate_password:
            key, shown = _authorization_key(body.password, body.generate_password)
            key_hash = await asyncio.to_thread(hash_secret, key.key)
        profile = SecurityProfile(
            body.security_profile
            if body.security_profile is not None
            else (SecurityProfile.BASIC_AUTH if key_hash else SecurityProfile.NONE)
        )
        if profile.uses_password and key_hash is None:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "password-required",
                f"security profile {int(profile)} needs password or generate_password",
            )
        try:
            record = await self.services.store.charge_points.add_charge_point(
                charge_point_id,
                Registration(body.registration),
                self.services.clock.now(),
                security_profile=profile,
                authorization_key_hash=key_hash,
            )
        except store_errors.AlreadyExists:
            raise ApiProblem(
                HTTPStatus.CONFLICT,
                "charge-point-exists",
                f"charge point {charge_point_id!r} is already registered",
            ) from None
        view = self._charge_point_view(record)
        if shown is None:
            return _json(view, status=201)
        return _json({**JSON_DECODER.decode(ENCODER.encode(view)), "password": shown}, 201)

    # ---- charger security -------------------------------------------------------------------

    def _security_change(
        self, change: SecurityChange, password: str | None = None
    ) -> SecurityChangeView:
        return SecurityChangeView(
            outcome=change.outcome.value,
            charger_status=change.charger_status,
            password=password,
            charge_point=self._charge_point_view(change.charge_point),
        )

    async def set_charge_point_password(self, request: Request, caller: Principal) -> Response:
        charge_point_id = _charge_point_id(request)
        body = await _body(request, NewChargePointPassword)
        key, shown = _authorization_key(body.password, body.generate)
        with _charger_errors():
            change = await set_password(self.services, charge_point_id, key)
        refused = change.outcome is ChangeOutcome.REFUSED_BY_CHARGER
        return _json(self._security_change(change, None if refused else shown))

    async def set_charge_point_security_profile(
        self, request: Request, caller: Principal
    ) -> Response:
        charge_point_id = _charge_point_id(request)
        body = await _body(request, NewSecurityProfile)
        try:
            with _charger_errors():
                change = await set_security_profile(
                    self.services, charge_point_id, SecurityProfile(body.security_profile)
                )
        except SecurityChangeRefused as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "security-change-refused", str(exc)) from None
        return _json(self._security_change(change))

    @staticmethod
    def _rejection_view(record: RejectionRecord) -> RejectionView:
        info = REASONS[record.reason]
        return RejectionView(
            charge_point_id=record.charge_point_id,
            remote_host=record.remote_host,
            reason=record.reason.value,
            detail=record.detail,
            charger_shows=info.charger_shows,
            remedy=info.remedy,
            first_at=record.first_at,
            last_at=record.last_at,
            count=record.count,
        )

    async def list_rejections(self, request: Request, caller: Principal) -> Response:
        charge_point_id = request.query_params.get("charge_point_id")
        if self.guard is not None:
            await self.guard.flush()  # what was refused a moment ago is listed too
        records = await self.services.store.rejections.list_rejections(
            charge_point_id, _limit(request)
        )
        return _json(Page(items=[self._rejection_view(r) for r in records]))

    async def list_charge_point_rejections(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(_charge_point_id(request))
        if self.guard is not None:
            await self.guard.flush()
        records = await self.services.store.rejections.list_rejections(record.id, _limit(request))
        return _json(Page(items=[self._rejection_view(r) for r in records]))

    # ---- TLS and certificates -----------------------------------------------------------------

    def _tls(self) -> ServerTls:
        if self.server_tls is None or not self.server_tls.enabled:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "tls-not-configured",
                "TLS is not configured: run `chargedeck certs init` and set tls_cert/tls_key",
            )
        return self.server_tls

    async def ca_certificate_pem(self, request: Request, caller: Principal) -> Response:
        return Response(
            self._tls().ca_certificates_pem(),
            media_type="application/x-pem-file",
            headers={"Content-Disposition": 'attachment; filename="chargedeck-ca.pem"'},
        )

    async def ca_certificate_der(self, request: Request, caller: Principal) -> Response:
        return Response(
            self._tls().ca_certificates_der(),
            media_type="application/pkix-cert",
            headers={"Content-Disposition": 'attachment; filename="chargedeck-ca.cer"'},
        )

    async def reload_tls(self, request: Request, caller: Principal) -> Response:
        server_tls = self._tls()
        try:
            await asyncio.to_thread(server_tls.reload)
        except TlsConfigError as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "tls-reload-failed", str(exc)) from None
        return _json(TlsReloadView(reloaded=True))

    async def list_certificates(self, request: Request, caller: Principal) -> Response:
        charge_point_id = request.query_params.get("charge_point_id")
        records = await self.services.store.certificates.list_issued(
            None if charge_point_id is None else ChargePointId(charge_point_id)
        )
        views = [
            IssuedCertificateView(
                serial_number=r.serial_number,
                kind=r.kind.value,
                charge_point_id=r.charge_point_id,
                subject=r.subject,
                not_before=r.not_before,
                not_after=r.not_after,
                issued_at=r.issued_at,
                revoked_at=r.revoked_at,
            )
            for r in records
        ]
        return _json(Page(items=views))

    async def list_revoked_certificates(self, request: Request, caller: Principal) -> Response:
        records = await self.services.store.certificates.list_revoked()
        return _json(Page(items=[_revoked_view(r) for r in records]))

    async def revoke_certificate(self, request: Request, caller: Principal) -> Response:
        body = await _body(request, NewRevokedCertificate)
        try:
            record = await self.services.store.certificates.revoke(
                body.serial_number,
                None if body.charge_point_id is None else ChargePointId(body.charge_point_id),
                body.reason,
                self.services.clock.now(),
            )
        except ValueError as exc:
            raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-serial", str(exc)) from None
        if self.guard is not None:
            self.guard.forget_revoked_list()  # the next profile 3 handshake sees it
        return _json(_revoked_view(record), status=201)

    async def list_security_events(self, request: Request, caller: Principal) -> Response:
        charge_point_id = request.query_params.get("charge_point_id")
        limit = _limit(request)
        records = await self.services.store.security_records.list_security_events(
            None if charge_point_id is None else ChargePointId(charge_point_id),
            limit,
            before_id=numeric_cursor(request),
        )
        views = [
            SecurityEventView(
                charge_point_id=r.charge_point_id,
                type=r.type,
                timestamp=r.timestamp,
                tech_info=r.tech_info,
                received_at=r.received_at,
            )
            for r in records
        ]
        next_cursor = str(records[-1].id) if len(records) == limit else None
        return _json(Page(items=views, next_cursor=next_cursor))

    async def get_charge_point(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(_charge_point_id(request))
        connectors = await self.services.store.connectors.list_connectors(record.id)
        base = self._charge_point_view(record)
        detail = ChargePointDetailView(
            **msgspec.structs.asdict(base),
            iccid=record.iccid,
            imsi=record.imsi,
            meter_serial_number=record.meter_serial_number,
            connectors=[
                ConnectorView(
                    connector_id=c.connector_id,
                    status=c.status,
                    error_code=c.error_code,
                    info=c.info,
                    vendor_id=c.vendor_id,
                    vendor_error_code=c.vendor_error_code,
                    status_timestamp=c.status_timestamp,
                    updated_at=c.updated_at,
                )
                for c in connectors
            ],
        )
        return _json(detail)

    async def adopt_charge_point(self, request: Request, caller: Principal) -> Response:
        charge_point_id = _charge_point_id(request)
        try:
            record = await self.services.store.charge_points.adopt_charge_point(
                charge_point_id, self.services.clock.now()
            )
        except store_errors.NotFound:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "unknown-charge-point",
                f"charge point {charge_point_id!r} is not in the inbox",
            ) from None
        log.info("charge point %s adopted by %s", charge_point_id, caller.describe())
        return _json(self._charge_point_view(record))

    async def status_history(self, request: Request, caller: Principal) -> Response:
        record = await self.known_charge_point(_charge_point_id(request))
        limit = _limit(request, 100)
        rows = await self.services.store.connectors.status_history(
            record.id, None, limit, before_id=numeric_cursor(request)
        )
        return _json(
            Page(
                items=[
                    StatusHistoryView(
                        connector_id=r.connector_id,
                        status=r.status,
                        error_code=r.error_code,
                        info=r.info,
                        vendor_id=r.vendor_id,
                        vendor_error_code=r.vendor_error_code,
                        timestamp=r.timestamp,
                        received_at=r.received_at,
                    )
                    for r in rows
                ],
                next_cursor=str(rows[-1].id) if len(rows) == limit else None,
            )
        )

    # ---- commands -----------------------------------------------------------------------------

    async def send_command(self, request: Request, caller: Principal) -> Response:
        charge_point_id = _charge_point_id(request)
        action_name: str = request.path_params["action"]
        command = COMMANDS.get(action_name)
        if command is None:
            known = ", ".join(sorted(COMMANDS))
            reason = (
                "is not sent by a CSMS"
                if action_name in ACTIONS and not ACTIONS[action_name].sent_by_csms()
                else "is not an available command"
            )
            raise ApiProblem(
                HTTPStatus.NOT_FOUND,
                "unknown-command",
                f"{action_name[:64]!r} {reason}; available: {known}",
            )
        raw = await request.body()
        try:
            payload = decode_request(ACTIONS[action_name], raw or b"{}")
        except CallErrorSent as error:
            raise ApiProblem(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid-command-payload",
                f"{action_name} payload is invalid ({error.code.value}): {error.description}",
            ) from None
        with _charger_errors():
            response = await send_command(self.services, charge_point_id, payload)
        body = CommandResultView(
            charge_point_id=charge_point_id,
            action=action_name,
            response=JSON_DECODER.decode(encode_message(masked_answer(response))),
        )
        return _json(body)

    # ---- transactions -------------------------------------------------------------------------

    @staticmethod
    def _transaction_view(
        record: TransactionRecord, register_samples: Sequence[tuple[datetime, int]]
    ) -> dict[str, Any]:
        return {
            "id": record.id,
            "charge_point_id": record.charge_point_id,
            "connector_id": record.connector_id,
            "id_tag": record.id_tag,
            "start_id_tag_status": record.start_id_tag_status,
            "meter_start": record.meter_start,
            "started_at": record.started_at,
            "meter_stop": record.meter_stop,
            "stopped_at": record.stopped_at,
            "stop_reason": record.stop_reason,
            "stop_id_tag": record.stop_id_tag,
            "reservation_id": record.reservation_id,
            "active": record.stopped_at is None,
            **transaction_energy(record, register_samples),
        }

    async def list_transactions(self, request: Request, caller: Principal) -> Response:
        params = request.query_params
        active_text = params.get("active")
        if active_text not in (None, "true", "false"):
            raise ApiProblem(
                HTTPStatus.BAD_REQUEST, "invalid-query", f"active={active_text!r}: true or false"
            )
        before_id = numeric_cursor(request)
        charge_point_id = params.get("charge_point_id")
        limit = _limit(request)
        records = await self.services.store.transactions.list_transactions(
            charge_point_id=None if charge_point_id is None else ChargePointId(charge_point_id),
            active=None if active_text is None else active_text == "true",
            limit=limit,
            before_id=before_id,
        )
        samples = await self.services.store.transactions.register_samples(records)
        items = [
            TransactionView(**self._transaction_view(r, samples.get(r.id, ()))) for r in records
        ]
        next_cursor = str(records[-1].id) if len(records) == limit else None
        return _json(Page(items=items, next_cursor=next_cursor))

    async def get_transaction(self, request: Request, caller: Principal) -> Response:
        text: str = request.path_params["transaction_id"]
        transaction_id = TransactionId(_id_number(text, "transaction-id", ""))
        record = await self.services.store.transactions.get_transaction(transaction_id)
        if record is None:
            raise ApiProblem(HTTPStatus.NOT_FOUND, "unknown-transaction", f"no transaction {text}")
        rows = await self.services.store.transactions.meter_values_for_transaction(record.id)
        samples = [
            (r.timestamp, r.energy_wh)
            for r in rows
            if r.energy_wh is not None and r.charge_point_id == record.charge_point_id
        ]
        view = TransactionDetailView(
            **self._transaction_view(record, samples),
            meter_values=[
                MeterValueView(
                    timestamp=r.timestamp,
                    connector_id=r.connector_id,
                    source=r.source.value,
                    energy_wh=r.energy_wh,
                    sampled_values=JSON_DECODER.decode(r.sampled_values),
                )
                for r in rows
            ],
        )
        return _json(view)

    # ---- operator access ----------------------------------------------------------------------

    async def me(self, request: Request, caller: Principal) -> Response:
        return _json(
            MeView(
                username=caller.username,
                scope=caller.scope,
                token_id=caller.token_id,
                token_name=caller.token_name,
            )
        )

    @staticmethod
    def _user_view(record: OperatorUserRecord) -> UserView:
        return msgspec.convert(record, UserView, from_attributes=True)

    async def list_users(self, request: Request, caller: Principal) -> Response:
        records = await self.services.store.operators.list_users()
        return _json(Page(items=[self._user_view(r) for r in records]))

    async def add_user(self, request: Request, caller: Principal) -> Response:
        body = await _body(request, NewUser)
        username = _checked(check_username, body.username)
        password, generated = _password_or_new(body.password)
        password_hash = await asyncio.to_thread(hash_secret, password.encode())
        try:
            record = await self.services.store.operators.create_user(
                username, password_hash, body.scope, self.services.clock.now()
            )
        except store_errors.AlreadyExists:
            raise ApiProblem(
                HTTPStatus.CONFLICT, "user-exists", f"user {username!r} exists already"
            ) from None
        log.info("user %r (scope %s) created by %s", username, body.scope.value, caller.describe())
        view = self._user_view(record)
        return _json(
            CreatedUserView(**msgspec.structs.asdict(view), password=generated), status=201
        )

    async def set_password(self, request: Request, caller: Principal) -> Response:
        username: str = request.path_params["username"]
        body = await _body(request, NewPassword)
        password, generated = _password_or_new(body.password)
        password_hash = await asyncio.to_thread(hash_secret, password.encode())
        try:
            await self.services.store.operators.set_password(username, password_hash)
        except store_errors.NotFound:
            raise _unknown_user(username) from None
        self.authenticator.forget(username)
        log.info("password of user %r changed by %s", username, caller.describe())
        return _json(PasswordChangedView(username=username, password=generated))

    async def disable_user(self, request: Request, caller: Principal) -> Response:
        username: str = request.path_params["username"]
        operators = self.services.store.operators
        try:
            check_not_last_admin(username, await operators.enabled_admins())
        except ValueError as exc:
            raise ApiProblem(HTTPStatus.CONFLICT, "last-admin", str(exc)) from None
        try:
            record = await operators.disable_user(username, self.services.clock.now())
        except store_errors.NotFound:
            raise _unknown_user(username) from None
        self.authenticator.forget(username)
        log.info("user %r disabled by %s", username, caller.describe())
        return _json(self._user_view(record))

    @staticmethod
    def _token_view(record: ApiTokenRecord) -> TokenView:
        return msgspec.convert(record, TokenView, from_attributes=True)

    async def list_tokens(self, request: Request, caller: Principal) -> Response:
        records = await self.services.store.operators.list_tokens()
        return _json(Page(items=[self._token_view(r) for r in records]))

    async def add_token(self, request: Request, caller: Principal) -> Response:
        body = await _body(request, NewToken)
        name = _checked(check_token_name, body.name)
        now = self.services.clock.now()
        try:
            expires_at = token_expiry(now, body.expires_days)
        except ValueError as exc:
            raise ApiProblem(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid-body", str(exc)) from None
        owner = body.user if body.user is not None else caller.username
        user_id = None
        if owner is not None:
            user = await self.services.store.operators.get_user(owner)
            if user is None or user.disabled_at is not None:
                raise ApiProblem(
                    HTTPStatus.UNPROCESSABLE_ENTITY,
                    "unknown-user",
                    f"user {owner[:64]!r} does not exist or is disabled",
                )
            _checked(lambda scope: check_token_scope(scope, user.scope, user.username), body.scope)
            user_id = user.id
        token = new_token()
        record = await self.services.store.operators.create_token(
            name=name,
            scope=body.scope,
            token_hash=token_hash(token),
            token_prefix=token_prefix(token),
            now=now,
            user_id=user_id,
            expires_at=expires_at,
        )
        log.info(
            "token %r (id %d, scope %s) created by %s",
            name,
            record.id,
            record.scope.value,
            caller.describe(),
        )
        view = self._token_view(record)
        return _json(CreatedTokenView(**msgspec.structs.asdict(view), token=token), status=201)

    async def revoke_token(self, request: Request, caller: Principal) -> Response:
        text: str = request.path_params["token_id"]
        token_id = _id_number(text, "token-id", "")
        try:
            record = await self.services.store.operators.revoke_token(
                token_id, self.services.clock.now()
            )
        except store_errors.NotFound:
            raise ApiProblem(
                HTTPStatus.NOT_FOUND, "unknown-token", f"there is no token with id {token_id}"
            ) from None
        log.info("token %r (id %d) revoked by %s", record.name, record.id, caller.describe())
        return _json(self._token_view(record))


def _revoked_view(record: RevokedCertificateRecord) -> RevokedCertificateView:
    return RevokedCertificateView(
        serial_number=record.serial_number,
        charge_point_id=record.charge_point_id,
        reason=record.reason,
        revoked_at=record.revoked_at,
    )


# ---- the route table ----------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRoute:
    """One REST route: method, path, the scope a caller needs, handler name on :class:`Api`,
    and documentation."""

    method: str
    path: str
    scope: Scope
    handler: str
    summary: str
    response: Any
    request: Any = None
    status: int = 200
    self_service: bool = False
    """The user named by ``{username}`` in the path may call it too, whatever their scope,
    when they prove their password in the request (HTTP Basic): a token is not enough."""
    media_type: str = "application/json"
    """Of the answer; other than JSON, ``response`` is ``bytes`` (a file download)."""
    public: bool = False
    """No credentials needed: the route authenticates by itself (web UI login/logout); its
    handler gets ``caller=None``."""
    body_optional: bool = False
    """The handler takes an empty body as the request type's defaults (OpenAPI: the request
    body is not required)."""

    def check_caller(self, caller: Principal, path_params: Mapping[str, str]) -> None:
        """Raise ``Forbidden`` unless ``caller`` may use this route."""
        if (
            self.self_service
            and caller.by_password
            and caller.username == path_params.get("username")
        ):
            return
        alternative = " (or Basic authentication as that user)" if self.self_service else ""
        caller.require(self.scope, f"{self.method} {API_PREFIX}{self.path}", alternative)


# Scopes: reading is `read`; commands and charge point / id tag changes are `operate`; accounts
# and tokens are `admin` (DESIGN §8). A user may set their own password (self_service).
READ, OPERATE, ADMIN = Scope.READ, Scope.OPERATE, Scope.ADMIN

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        "/charge-points",
        READ,
        "list_charge_points",
        "List charge points with live state, by id (registration=; with limit or cursor: "
        "cursor pagination, else the whole list)",
        Page[ChargePointView],
    ),
    ApiRoute(
        "POST",
        "/charge-points",
        OPERATE,
        "add_charge_point",
        "Register a charge point",
        ChargePointView,
        NewChargePoint,
        201,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}",
        READ,
        "get_charge_point",
        "One charge point with its connectors",
        ChargePointDetailView,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/status-history",
        READ,
        "status_history",
        "StatusNotification history of a charge point, newest first (limit, default 100; "
        "cursor pagination)",
        Page[StatusHistoryView],
    ),
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/adopt",
        OPERATE,
        "adopt_charge_point",
        "Adopt a charge point waiting in the inbox",
        ChargePointView,
    ),
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/commands/{action}",
        OPERATE,
        "send_command",
        "Send an OCPP command (payload in OCPP camelCase) and return the charger's answer; "
        "values of secret configuration keys are answered as ***",
        CommandResultView,
        dict[str, Any],
        body_optional=True,  # an empty body is {}: ClearCache, GetConfiguration, ...
    ),
    ApiRoute(
        "GET",
        "/inbox",
        READ,
        "inbox",
        "Charge points waiting for adoption (with limit or cursor: cursor pagination)",
        Page[ChargePointView],
    ),
    ApiRoute(
        "GET",
        "/transactions",
        READ,
        "list_transactions",
        "Transactions, newest first (filters: charge_point_id, active; cursor pagination)",
        Page[TransactionView],
    ),
    ApiRoute(
        "GET",
        "/transactions/{transaction_id}",
        READ,
        "get_transaction",
        "One transaction with its meter values",
        TransactionDetailView,
    ),
    ApiRoute(
        "GET",
        "/transactions/{transaction_id}/series",
        READ,
        "transaction_series",
        "A session's power (W; derived from the energy register where the charger sends no "
        "power), energy since start (Wh), current per phase and SoC over time, oldest first; "
        "max_points thins long sessions (server/api/ui_data.py)",
        TransactionSeriesView,
    ),
    # Records: tariffs and reports (server/api/records.py).
    ApiRoute("GET", "/tariffs", READ, "list_tariffs", "Tariffs", Page[TariffView]),
    ApiRoute(
        "POST",
        "/tariffs",
        OPERATE,
        "add_tariff",
        "Add a tariff: price per kWh, currency, optional time-of-day windows; is_default "
        "prices chargers without a tariff of their own",
        TariffView,
        NewTariff,
        201,
    ),
    ApiRoute(
        "PUT",
        "/charge-points/{charge_point_id}/tariff",
        OPERATE,
        "set_charge_point_tariff",
        "Set the charger's tariff (tariff_id null: the default tariff)",
        ChargePointTariffView,
        ChargePointTariff,
    ),
    ApiRoute(
        "GET",
        "/reports/sessions",
        READ,
        "report_sessions",
        "Sessions with energy, duration and cost (from, to, id_tag, owner, group, "
        "charge_point_id, tz; format=json: a page, cursor pagination; format=csv: every "
        "session, streamed)",
        Page[SessionReport],
    ),
    ApiRoute(
        "GET",
        "/reports/summary",
        READ,
        "report_summary",
        "Sessions, kWh, duration and cost per group_by=id_tag|owner|group|charge_point|day|month "
        "(same filters; format=json|csv)",
        Summary,
    ),
    ApiRoute(
        "PUT",
        "/charge-points/{charge_point_id}/password",
        ADMIN,
        "set_charge_point_password",
        "Set or rotate the charger's password (AuthorizationKey); a connected charger is "
        "told first and the password changes only if it accepts",
        SecurityChangeView,
        NewChargePointPassword,
    ),
    ApiRoute(
        "PUT",
        "/charge-points/{charge_point_id}/security-profile",
        ADMIN,
        "set_charge_point_security_profile",
        "Raise (or lower) the charger's security profile; a raised one stays pending until "
        "the charger connects with it",
        SecurityChangeView,
        NewSecurityProfile,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/rejections",
        READ,
        "list_charge_point_rejections",
        "Why this charger's connections were refused, most recent first",
        Page[RejectionView],
    ),
    # OCPP message log (server/api/message_log.py).
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/messages",
        READ,
        "list_charge_point_messages",
        "This charger's OCPP frames in and out, newest first (action=, message_id=, "
        "direction=in|out, since=, until=, q= substring; cursor)",
        Page[MessageView],
    ),
    ApiRoute(
        "GET",
        "/messages",
        READ,
        "list_messages",
        "OCPP frames of every charger, newest first (charge_point_id= and the filters of a "
        "charger's messages; cursor)",
        Page[MessageView],
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/explain",
        READ,
        "explain_charge_point",
        "What happened on this charger in [since, until) (default: the last 24 h), told in "
        "sentences from its logged frames",
        ExplainView,
    ),
    ApiRoute(
        "GET",
        "/rejections",
        READ,
        "list_rejections",
        "Refused charger connections (charge_point_id= filters; '' = unknown id / TLS)",
        Page[RejectionView],
    ),
    ApiRoute(
        "GET",
        "/tls/ca.pem",
        READ,
        "ca_certificate_pem",
        "The CA root certificate to upload to chargers (PEM)",
        bytes,
        media_type="application/x-pem-file",
    ),
    ApiRoute(
        "GET",
        "/tls/ca.der",
        READ,
        "ca_certificate_der",
        "The CA root certificate to upload to chargers (DER, .cer)",
        bytes,
        media_type="application/pkix-cert",
    ),
    ApiRoute(
        "POST",
        "/tls/reload",
        ADMIN,
        "reload_tls",
        "Load the certificate files again now (connected chargers stay connected)",
        TlsReloadView,
    ),
    ApiRoute(
        "GET",
        "/certificates",
        READ,
        "list_certificates",
        "Certificates ChargeDeck's CA issued (charge_point_id= filters)",
        Page[IssuedCertificateView],
    ),
    ApiRoute(
        "GET",
        "/certificates/revoked",
        READ,
        "list_revoked_certificates",
        "The operator-revoked list checked on profile 3 connections",
        Page[RevokedCertificateView],
    ),
    ApiRoute(
        "POST",
        "/certificates/revoked",
        ADMIN,
        "revoke_certificate",
        "Revoke a client certificate by serial (any CA)",
        RevokedCertificateView,
        NewRevokedCertificate,
        201,
    ),
    ApiRoute(
        "GET",
        "/security-events",
        READ,
        "list_security_events",
        "SecurityEventNotifications chargers sent, newest first (charge_point_id= filters; "
        "cursor pagination)",
        Page[SecurityEventView],
    ),
    ApiRoute(
        "GET", "/id-tags", READ, "list_id_tags", "Id tags (cursor pagination)", Page[IdTagView]
    ),
    ApiRoute(
        "POST",
        "/id-tags",
        OPERATE,
        "add_id_tag",
        "Add an id tag by the idTag a charger sends, or by the UID printed on the card",
        IdTagView,
        NewIdTag,
        201,
    ),
    ApiRoute(
        "GET",
        "/id-tags/unknown",
        READ,
        "list_unknown_id_tags",
        "The unknown-tag inbox: idTags chargers presented that no id tag answers to, newest first",
        Page[UnknownIdTagView],
    ),
    ApiRoute(
        "POST",
        "/id-tags/unknown/{id_tag}/adopt",
        OPERATE,
        "adopt_unknown_id_tag",
        "Register a tag of the inbox for an owner (with its card UID when the charger that sent "
        "it reverses UIDs)",
        IdTagView,
        AdoptIdTag,
        201,
    ),
    ApiRoute(
        "POST",
        "/id-tags/unknown/{id_tag}/block",
        OPERATE,
        "block_unknown_id_tag",
        "Register a tag of the inbox as blocked",
        IdTagView,
        status=201,
    ),
    ApiRoute("GET", "/id-tags/{id_tag}", READ, "get_id_tag", "One id tag", IdTagView),
    ApiRoute(
        "PATCH",
        "/id-tags/{id_tag}",
        OPERATE,
        "update_id_tag",
        "Change an id tag (owner, block, expiry, card UID, ...); null clears a field",
        IdTagView,
        IdTagChange,
    ),
    ApiRoute(
        "DELETE", "/id-tags/{id_tag}", OPERATE, "remove_id_tag", "Remove an id tag", IdTagView
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/authorization",
        READ,
        "get_charge_point_authorization",
        "Who charges without a card at this charger, and its free-vend policy",
        ChargePointAuthorizationView,
    ),
    ApiRoute(
        "PUT",
        "/charge-points/{charge_point_id}/authorization",
        OPERATE,
        "set_charge_point_authorization",
        "Set the default owner of sessions without a card and the free-vend policy (a "
        "RemoteStartTransaction when a connector goes Preparing)",
        ChargePointAuthorizationView,
        ChargePointAuthorization,
    ),
    # ---- local authorization lists and reported configuration (server/api/local_lists.py)
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/local-list/sync",
        OPERATE,
        "sync_local_list",
        "Bring the charger's Local Authorization List up to date with the id tags (in parts of "
        "SendLocalListMaxLength; a Full resend after Failed or VersionMismatch)",
        LocalListSyncView,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/local-list",
        READ,
        "get_local_list",
        "The charger's local list version and size, its list and offline-authorization keys "
        "as last reported, and the SendLocalList history (newest first; ?limit=)",
        LocalListView,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/configuration",
        READ,
        "get_configuration",
        "Configuration keys as the charger last reported them (secret values as ***); the ETag "
        "answered goes in If-Match of PUT .../configuration/{key}",
        Page[ConfigurationKeyView],
    ),
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/configuration/refresh",
        OPERATE,
        "refresh_configuration",
        "Read every configuration key now (GetConfiguration) and keep it",
        Page[ConfigurationKeyView],
    ),
    # ---- remote triggers (server/api/triggers.py)
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/trigger",
        OPERATE,
        "trigger_message",
        "Ask the charger to send a message now (TriggerMessage): BootNotification, "
        "DiagnosticsStatusNotification, FirmwareStatusNotification, Heartbeat, MeterValues or "
        "StatusNotification; connector_id only for the last two; answers the charger's status",
        TriggerResultView,
        TriggerBody,
    ),
    ApiRoute(
        "POST",
        "/bulk/trigger",
        OPERATE,
        "trigger_bulk",
        "The same TriggerMessage to each of charge_point_ids (a few at a time); one result per "
        "charger, including NotConnected and UnknownChargePoint",
        BulkTriggerView,
        BulkTriggerBody,
    ),
    # ---- charging profiles (server/api/charging_profiles.py)
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/charging-profiles",
        OPERATE,
        "set_charging_profile",
        "Install a charging profile (SetChargingProfile) after checking every OCPP 1.6 rule; a "
        "refused one is a 422 profile-refused saying what to change and never reaches the "
        "charger; answers the charger's status and the stored profile",
        SetChargingProfileResultView,
        NewChargingProfile,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/charging-profiles",
        READ,
        "list_charging_profiles",
        "The profiles the charger holds, and the latest sent (limit, newest first)",
        ChargingProfilesView,
    ),
    ApiRoute(
        "DELETE",
        "/charge-points/{charge_point_id}/charging-profiles",
        OPERATE,
        "clear_charging_profiles",
        "Clear profiles (ClearChargingProfile): the one with ?id=, or all matching connector_id, "
        "purpose and stack_level (none: all)",
        ClearChargingProfileResultView,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/composite-schedule",
        READ,
        "composite_schedule",
        "The charger's composite schedule (GetCompositeSchedule ?connector_id=&duration=&unit=A|W)"
        ", ChargeDeck's own, and the mismatches",
        CompositeScheduleView,
    ),
    # ---- acceptance check (server/api/acceptance.py)
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/acceptance-check",
        OPERATE,
        "run_acceptance_check",
        "Run the acceptance check against the connected charger: per feature works, refused, "
        "not_supported, ignored or skipped; leaves nothing changed; stored per firmware",
        AcceptanceReportView,
        AcceptanceCheckBody,
        body_optional=True,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/acceptance-checks",
        READ,
        "list_acceptance_checks",
        "The charger's acceptance reports, newest first, compared with the newest report of "
        "another firmware version",
        AcceptanceHistoryView,
    ),
    # ---- configuration memory, templates, bulk commands (server/api/configuration_memory.py);
    # after /bulk/trigger: /bulk/{action} would otherwise take it.
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/configuration/snapshots",
        READ,
        "list_configuration_snapshots",
        "Full configuration reads of the charger, newest first (secret values ***)",
        Page[SnapshotView],
    ),
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/configuration/snapshot",
        OPERATE,
        "take_configuration_snapshot",
        "Read every configuration key now (GetConfiguration) and keep a snapshot",
        SnapshotView,
        None,
        201,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/configuration/snapshots/{snapshot_id}/diff",
        READ,
        "diff_configuration_snapshot",
        "A snapshot against the one before it: keys added, removed, changed (secrets ***)",
        SnapshotDiffView,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/configuration/drift",
        READ,
        "configuration_drift",
        "The charger's last-reported keys against the templates of its model",
        DriftView,
    ),
    ApiRoute(
        "GET",
        "/configuration-templates",
        READ,
        "list_configuration_templates",
        "Wanted configurations, by name",
        Page[TemplateView],
    ),
    ApiRoute(
        "POST",
        "/configuration-templates",
        OPERATE,
        "add_configuration_template",
        "Add a wanted configuration for one charger model (or every model)",
        TemplateView,
        NewTemplate,
        201,
    ),
    ApiRoute(
        "PUT",
        "/configuration-templates/{name}",
        OPERATE,
        "replace_configuration_template",
        "Replace a template's model and keys; If-Match with the template's ETag refuses with 412 "
        "when it changed since it was read",
        TemplateView,
        TemplateChange,
    ),
    ApiRoute(
        "POST",
        "/configuration-templates/{name}/apply",
        OPERATE,
        "apply_configuration_template",
        "ChangeConfiguration of each key on charge_point_ids (or every charger of model); "
        "read-only keys and bad values are refused before sending; per-key answers and the "
        "chargers that need a reboot",
        ApplyResultView,
        ApplyTemplate,
    ),
    ApiRoute(
        "POST",
        "/bulk/{action}",
        OPERATE,
        "bulk_command",
        "ChangeAvailability, Reset or UnlockConnector with one payload to each of "
        "charge_point_ids; per charger: accepted, rejected, not supported, not connected, ...",
        BulkView,
        BulkRequest,
    ),
    # ---- connectors, meter values, configuration writes with ETags (server/api/resources.py)
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/connectors",
        READ,
        "list_connectors",
        "The charger's connectors: last status and error code, the running session, and the "
        "limit in force with the chain of what capped it",
        Page[ConnectorResourceView],
    ),
    ApiRoute(
        "GET",
        "/transactions/{transaction_id}/meter-values",
        READ,
        "list_transaction_meter_values",
        "A session's MeterValue elements in the order stored (limit, default 100; cursor "
        "pagination)",
        Page[TransactionMeterValueView],
    ),
    ApiRoute(
        "PUT",
        "/charge-points/{charge_point_id}/configuration/{key}",
        OPERATE,
        "change_configuration_key",
        "Set one key (ChangeConfiguration) and read it back; If-Match with the ETag of GET "
        ".../configuration refuses with 412 when the configuration changed since; 409 when the "
        "charger rejects the value or does not know the key",
        ConfigurationChangeView,
        ConfigurationChange,
    ),
    ApiRoute(
        "GET",
        "/configuration-templates/{name}",
        READ,
        "get_configuration_template",
        "One template, with its ETag for If-Match on PUT",
        TemplateView,
    ),
    # ---- reservations (server/api/reservations.py)
    ApiRoute(
        "GET",
        "/reservations",
        READ,
        "list_reservations",
        "Reservations, newest first (filters: charge_point_id, status=a,b; cursor pagination)",
        Page[ReservationView],
    ),
    ApiRoute(
        "POST",
        "/reservations",
        OPERATE,
        "add_reservation",
        "Reserve a connector (0 = any, where supported) for an id tag until expiry_date or for "
        "minutes (ReserveNow); 409 when the charger refuses",
        ReservationResultView,
        NewReservation,
        201,
    ),
    ApiRoute(
        "GET",
        "/reservations/{reservation_id}",
        READ,
        "get_reservation",
        "One reservation",
        ReservationView,
    ),
    ApiRoute(
        "DELETE",
        "/reservations/{reservation_id}",
        OPERATE,
        "cancel_reservation",
        "Cancel a reservation on its charger (CancelReservation)",
        ReservationResultView,
    ),
    # ---- sites and load management (server/api/sites.py)
    ApiRoute(
        "GET",
        "/sites",
        READ,
        "list_sites",
        "Sites by name, with their grid connection's limits",
        Page[SiteView],
    ),
    ApiRoute(
        "POST",
        "/sites",
        OPERATE,
        "add_site",
        "Add a site and its grid connection: limit_a one number on phases 1 or 3, or three "
        "(L1, L2, L3); strategy equal, priority or first_come",
        SiteView,
        NewSite,
        201,
    ),
    ApiRoute(
        "GET",
        "/sites/{site_id}",
        READ,
        "get_site",
        "One site: its circuit tree from the grid connection down, the chargers on each "
        "circuit with their limits, and the latest grid and solar readings",
        SiteDetailView,
    ),
    ApiRoute(
        "GET",
        "/sites/{site_id}/load",
        READ,
        "site_load",
        "A site's live load: per circuit (its sub-circuits included) and phase, the limit "
        "against the current load control gives the connectors and what they draw "
        "(Current.Import), each connector's share, and the latest grid and solar readings",
        SiteLoadView,
    ),
    ApiRoute(
        "PATCH",
        "/sites/{site_id}",
        OPERATE,
        "update_site",
        "Change a site (name, strategy, household reserve, meter staleness, grid limit_a)",
        SiteView,
        SiteChange,
    ),
    ApiRoute(
        "DELETE",
        "/sites/{site_id}",
        OPERATE,
        "delete_site",
        "Delete a site with its circuits, placements and readings (its chargers stay)",
        SiteView,
    ),
    ApiRoute(
        "POST",
        "/sites/{site_id}/circuits",
        OPERATE,
        "add_circuit",
        "Add a sub-board under parent_id (default: the grid connection) with per-phase limits",
        CircuitView,
        NewCircuit,
        201,
    ),
    ApiRoute(
        "POST",
        "/sites/{site_id}/readings",
        OPERATE,
        "add_reading",
        "A grid meter reading (kind grid: l1_a, l2_a, l3_a in A, import positive) or solar "
        "production (kind solar: power_w); measured_at default now; acted on in the background",
        ReadingAcceptedView,
        ReadingBody,
        202,
    ),
    ApiRoute(
        "PATCH",
        "/circuits/{circuit_id}",
        OPERATE,
        "update_circuit",
        "Rename a circuit, change its limits or move it under another circuit of its site",
        CircuitView,
        CircuitChange,
    ),
    ApiRoute(
        "DELETE",
        "/circuits/{circuit_id}",
        OPERATE,
        "delete_circuit",
        "Delete a sub-board with no circuits or chargers on it",
        CircuitView,
    ),
    ApiRoute(
        "PUT",
        "/charge-points/{charge_point_id}/placement",
        OPERATE,
        "place_charger",
        "Hang the charger on a circuit (circuit_id, or site and optional circuit names) with "
        "its phase_rotation (default L1L2L3), priority and mode (fast, min_solar, solar)",
        PlacementView,
        NewPlacement,
    ),
    ApiRoute(
        "DELETE",
        "/charge-points/{charge_point_id}/placement",
        OPERATE,
        "unplace_charger",
        "Take the charger off its site",
        PlacementView,
    ),
    ApiRoute(
        "PUT",
        "/charge-points/{charge_point_id}/limit",
        OPERATE,
        "set_charger_limit",
        "Cap the charger: value in unit A (per phase, 0-80 in steps of 0.1) or kW (0-350)",
        ChargerLimitView,
        NewChargerLimit,
    ),
    ApiRoute(
        "DELETE",
        "/charge-points/{charge_point_id}/limit",
        OPERATE,
        "clear_charger_limit",
        "Remove the charger's operator limit",
        ChargerLimitView,
    ),
    ApiRoute(
        "GET",
        "/charge-points/{charge_point_id}/effective-limits",
        READ,
        "effective_limits",
        "The limit in force on each connector and the chain of what capped it",
        Page[EffectiveLimitView],
    ),
    ApiRoute(
        "GET",
        "/limit-alerts",
        READ,
        "list_limit_alerts",
        "Connectors that kept drawing above their limit, newest first (charge_point_id=, "
        "open=true|false; cursor pagination)",
        Page[LimitAlertView],
    ),
    ApiRoute(
        "PUT",
        "/transactions/{transaction_id}/mode",
        OPERATE,
        "set_transaction_mode",
        "A running session's charging mode: fast, min_solar, solar, or null (its charger's)",
        TransactionModeView,
        TransactionMode,
    ),
    # ---- firmware and diagnostics (server/api/operations_files.py)
    ApiRoute(
        "POST",
        "/firmware",
        OPERATE,
        "upload_firmware",
        "Upload a firmware file: the body is the file with ?name=FILE, or multipart/form-data; "
        "stored with its sha256",
        FirmwareFileView,
        status=201,
    ),
    ApiRoute("GET", "/firmware", READ, "list_firmware", "Firmware files", Page[FirmwareFileView]),
    ApiRoute(
        "POST",
        "/firmware-jobs",
        OPERATE,
        "add_firmware_job",
        "Send a firmware file to chargers (ids, or a model and/or firmware version) with "
        "UpdateFirmware or SignedUpdateFirmware and a download URL that expires",
        FirmwareJobView,
        NewFirmwareJob,
        201,
    ),
    ApiRoute(
        "GET",
        "/firmware-jobs",
        READ,
        "list_firmware_jobs",
        "Firmware jobs with each charger's progress, newest first (cursor pagination)",
        Page[FirmwareJobView],
    ),
    ApiRoute(
        "GET",
        "/firmware-jobs/{job_id}",
        READ,
        "get_firmware_job",
        "One firmware job: per charger pending, downloading, downloaded, installing, "
        "installed or failed",
        FirmwareJobView,
    ),
    ApiRoute(
        "POST",
        "/charge-points/{charge_point_id}/diagnostics",
        OPERATE,
        "request_diagnostics",
        "Ask the charger to upload its diagnostics (GetDiagnostics) or a log (GetLog with "
        "log_type) to ChargeDeck's file endpoint",
        DiagnosticsRequestedView,
        NewDiagnosticsRequest,
        201,
    ),
    ApiRoute(
        "GET",
        "/diagnostics",
        READ,
        "list_diagnostics",
        "Diagnostics and log uploads with their files, newest first (charge_point_id=; cursor)",
        Page[DiagnosticsJobView],
    ),
    ApiRoute(
        "GET",
        "/diagnostics/{job_id}/file",
        READ,
        "download_diagnostics",
        "Download an uploaded diagnostics or log file",
        bytes,
        media_type="application/octet-stream",
    ),
    ApiRoute("GET", "/me", READ, "me", "Who the API sees: account, token, scope", MeView),
    # Web UI session (server/api/web_session.py): public, they check credentials themselves.
    ApiRoute(
        "POST",
        "/login",
        READ,
        "login",
        "Log in to the web UI: an operator's username and password open a 12-hour session "
        "(HttpOnly SameSite=Strict cookie chargedeck_session); needs X-ChargeDeck-UI: 1, as "
        "does every cookie-authenticated POST/PUT/PATCH/DELETE",
        SessionView,
        LoginBody,
        public=True,
    ),
    ApiRoute(
        "POST",
        "/logout",
        READ,
        "logout",
        "End the web UI session: revoke its token and clear the cookie (X-ChargeDeck-UI: 1)",
        LoggedOutView,
        public=True,
    ),
    ApiRoute(
        "GET",
        "/setup/charger-url",
        READ,
        "charger_url",
        "What to type into the charger's OCPP settings: the CSMS URL (ws:// and, with TLS, "
        "wss://) with this machine's LAN address or public_host, for charge_point_id= the full "
        "URL (server/api/setup.py)",
        ChargerUrlView,
    ),
    ApiRoute(
        "GET",
        "/settings",
        ADMIN,
        "effective_settings",
        "The settings in force with their defaults and meaning; secrets and URL passwords ***",
        SettingsView,
    ),
    ApiRoute("GET", "/users", ADMIN, "list_users", "Operator accounts", Page[UserView]),
    ApiRoute(
        "POST",
        "/users",
        ADMIN,
        "add_user",
        "Create an operator account; a generated password is answered once",
        CreatedUserView,
        NewUser,
        201,
    ),
    ApiRoute(
        "POST",
        "/users/{username}/password",
        ADMIN,
        "set_password",
        "Set an account's password (scope admin, or the user themself with Basic "
        "authentication); a generated password is answered once",
        PasswordChangedView,
        NewPassword,
        self_service=True,
    ),
    ApiRoute(
        "DELETE",
        "/users/{username}",
        ADMIN,
        "disable_user",
        "Disable an account and its tokens (the last enabled admin cannot be disabled)",
        UserView,
    ),
    ApiRoute(
        "GET", "/tokens", ADMIN, "list_tokens", "API tokens (never their text)", Page[TokenView]
    ),
    ApiRoute(
        "POST",
        "/tokens",
        ADMIN,
        "add_token",
        "Create an API token; its text is in this answer only",
        CreatedTokenView,
        NewToken,
        201,
    ),
    ApiRoute(
        "DELETE", "/tokens/{token_id}", ADMIN, "revoke_token", "Revoke an API token", TokenView
    ),
    # Live events out (server/api/events.py; catalogue in docs/events.md).
    ApiRoute(
        "GET",
        "/events",
        READ,
        "stream_events",
        "Live events as Server-Sent Events (filters: types, a comma list of event types; "
        "charge_point_id); Last-Event-ID resumes from the replay buffer, event: gap when it "
        "cannot",
        bytes,
        media_type="text/event-stream",
    ),
    # Webhooks (server/api/webhooks.py, sent by csms/webhooks.py).
    # Reading webhooks needs admin too: a URL may carry a secret (Home Assistant's webhook id).
    ApiRoute("GET", "/webhooks", ADMIN, "list_webhooks", "Webhooks", Page[WebhookView]),
    ApiRoute(
        "POST",
        "/webhooks",
        ADMIN,
        "add_webhook",
        "Create a webhook; its signing secret is in this answer only",
        CreatedWebhookView,
        NewWebhook,
        201,
    ),
    ApiRoute("GET", "/webhooks/{webhook_id}", ADMIN, "get_webhook", "A webhook", WebhookView),
    ApiRoute(
        "PATCH",
        "/webhooks/{webhook_id}",
        ADMIN,
        "update_webhook",
        "Change a webhook's name, URL, event types, charger or enabled",
        WebhookView,
        WebhookChange,
    ),
    ApiRoute(
        "DELETE",
        "/webhooks/{webhook_id}",
        ADMIN,
        "delete_webhook",
        "Delete a webhook and its delivery log",
        WebhookView,
    ),
    ApiRoute(
        "GET",
        "/webhooks/{webhook_id}/deliveries",
        READ,
        "list_webhook_deliveries",
        "A webhook's delivery log, newest first (cursor pagination)",
        Page[WebhookDeliveryView],
    ),
    ApiRoute(
        "POST",
        "/webhooks/{webhook_id}/test",
        ADMIN,
        "test_webhook",
        "Queue a webhook.ping delivery to the webhook (sent within a second)",
        WebhookDeliveryView,
        status=202,
    ),
    ApiRoute(
        "POST",
        "/webhook-deliveries/{delivery_id}/retry",
        ADMIN,
        "retry_webhook_delivery",
        "Send a failed (or delivered) delivery again, as a new series of attempts",
        WebhookDeliveryView,
        status=202,
    ),
)


def build_api(
    services: CsmsServices,
    *,
    server_tls: ServerTls | None = None,
    guard: ConnectionGuard | None = None,
    ocpp_ports: OcppPorts | None = None,
    metrics: Metrics | None = None,
) -> Starlette:
    """The Starlette app for /api/v1, routes taken from :data:`ROUTES`; ``server_tls`` serves the
    CA download and reload, ``guard`` the refusals counted in memory, ``ocpp_ports`` (as bound)
    the add-a-charger assistant's URLs. The web UI's files are served at / and /web/."""
    from chargedeck.server.api.openapi import build_openapi

    authenticator = Authenticator(services.store.operators, services.clock)
    api = Api(services, authenticator, server_tls, guard)
    api.ocpp_ports = ocpp_ports
    openapi_bytes = ENCODER.encode(build_openapi(ROUTES, API_PREFIX))

    def endpoint(route: ApiRoute) -> Callable[..., Any]:
        handler: Callable[[Request, Principal | None], Awaitable[Response]] = getattr(
            api, route.handler
        )

        async def run(request: Request) -> Response:
            try:
                caller = None
                if not route.public:
                    caller = await authenticator.authenticate_request(
                        request.method, request.headers, request.cookies
                    )
                    route.check_caller(caller, request.path_params)
                return await handler(request, caller)
            except ApiProblem as problem:
                return _problem(request, problem)
            except Unauthenticated as exc:
                return _problem(
                    request,
                    ApiProblem(
                        HTTPStatus.UNAUTHORIZED,
                        "unauthenticated",
                        exc.reason,
                        {
                            "WWW-Authenticate": WWW_AUTHENTICATE_UI
                            if request.headers.get(UI_HEADER) == "1"
                            else WWW_AUTHENTICATE
                        },
                    ),
                )
            except Forbidden as exc:
                return _problem(request, ApiProblem(HTTPStatus.FORBIDDEN, "forbidden", exc.reason))
            except store_errors.StoreUnavailable as exc:
                log.error("API %s %s: store unavailable: %s", request.method, request.url.path, exc)
                return _problem(
                    request,
                    ApiProblem(HTTPStatus.SERVICE_UNAVAILABLE, "store-unavailable", str(exc)),
                )

        return run

    async def openapi(request: Request) -> Response:
        return Response(openapi_bytes, media_type="application/json")

    routes = [Route(API_PREFIX + r.path, endpoint(r), methods=[r.method]) for r in ROUTES]
    routes.append(Route(API_PREFIX + "/openapi.json", openapi, methods=["GET"]))
    if metrics is not None:
        routes.append(metrics_route(metrics, authenticator, services.settings.metrics_public))
    routes.extend(web_routes())

    async def not_found(request: Request, exc: Exception) -> Response:
        return _problem(
            request,
            ApiProblem(HTTPStatus.NOT_FOUND, "not-found", f"no route {request.url.path}"),
        )

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        # RFC 9110 §15.5.6: a 405 names the methods the path has, in Allow; each method of a
        # path is a route of its own here, so they are collected from every route matching it.
        allowed = sorted(
            {
                method
                for route in routes
                if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE
                for method in route.methods or ()
            }
        )
        return _problem(
            request,
            ApiProblem(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method-not-allowed",
                f"{request.method} is not allowed on {request.url.path}",
                {"Allow": ", ".join(allowed)},
            ),
        )

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})
