"""Composition root of ``chargedeck serve``: one process, one event loop (DESIGN §1, §4).

Start order: store (migrations applied), OCPP WebSocket endpoint, operator HTTP. Stop order is
the reverse of what depends on what: stop accepting chargers, let in-flight messages be stored
and answered, close charger connections (1001), stop HTTP, then close the store, which flushes
the group-commit writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

import uvicorn

from chargedeck.clock import SystemClock
from chargedeck.config import Settings
from chargedeck.csms.connection_guard import ConnectionGuard
from chargedeck.csms.context import CsmsServices
from chargedeck.csms.message_log import MessageLogWriter
from chargedeck.csms.stations import Stations
from chargedeck.csms.webhooks import WebhookWorker
from chargedeck.server.accounts import ensure_first_admin, first_admin_notice
from chargedeck.server.api.app import build_api
from chargedeck.server.api.setup import OcppPorts
from chargedeck.server.cluster import Cluster, ClusterError, cluster_settings_problem
from chargedeck.server.files import FileEndpoint, bind_files_socket
from chargedeck.server.ftp import FtpEndpoint
from chargedeck.server.metrics import Metrics
from chargedeck.server.mqtt import MqttInput
from chargedeck.server.mqtt_publish import MqttPublisher
from chargedeck.server.ocpp_ws import OcppServer, transport_factory
from chargedeck.server.tls import ServerTls, TlsConfigError
from chargedeck.server.tls_acceptor import TlsAcceptor
from chargedeck.store import open_store

log = logging.getLogger("chargedeck.server")


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn inside our loop: signals are ours, not uvicorn's."""

    def install_signal_handlers(self) -> None:  # older uvicorn versions
        return None


def _bind_http_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class StartupError(Exception):
    """The server cannot start: the sentence names the setting to change."""


def _cannot_listen(what: str, keys: str, host: str, port: int, exc: OSError) -> StartupError:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)  # uvloop leaves strerror empty
    return StartupError(f"cannot listen for {what} on {host}:{port}: {reason}; change {keys}")


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set), then shut down gracefully."""
    stop_event = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_event.set)

    if settings.cluster_url and (problem := cluster_settings_problem(settings)) is not None:
        raise StartupError(problem)
    try:
        server_tls = ServerTls(settings)
        authority = server_tls.authority()
    except TlsConfigError as exc:
        raise StartupError(str(exc)) from exc
    try:
        files_socket, files_base_url = bind_files_socket(settings)
    except OSError as exc:
        raise _cannot_listen(
            "chargers' file transfers",
            "files_host/files_port",
            settings.files_host,
            settings.files_port,
            exc,
        ) from exc
    try:
        store = await open_store(
            settings.database_url, migrate=True, sqlite_synchronous=settings.sqlite_synchronous
        )
    except BaseException:
        files_socket.close()
        raise
    ftp_endpoint = FtpEndpoint(settings) if settings.ftp_enabled else None
    ftp_host, ftp_port, ftp_base_url = "", 0, ""
    if ftp_endpoint is not None:
        try:
            ftp_host, ftp_port, ftp_base_url = await ftp_endpoint.start()
        except OSError as exc:
            files_socket.close()
            await store.close()
            raise _cannot_listen(
                "chargers' FTP uploads",
                "ftp_host/ftp_port",
                settings.ftp_host or settings.files_host,
                settings.ftp_port,
                exc,
            ) from exc
    services = CsmsServices(
        store=store,
        settings=settings,
        clock=SystemClock(),
        stations=Stations(),
        certificate_authority=authority,
        files_base_url=files_base_url,
        ftp_base_url=ftp_base_url,
    )
    services.load_control.start(services)
    webhooks = WebhookWorker(services)  # this node's events to the operator's URLs
    webhooks.start()
    cluster = Cluster(services) if settings.cluster_url else None
    guard = ConnectionGuard(store, settings, services.clock)
    guard.start()
    # Prometheus metrics (server/metrics.py) and the OCPP message log (csms/message_log.py).
    metrics = Metrics()
    store.writer.observer = metrics.batch_committed
    metrics.start(services.events)
    metrics.watch_webhooks(webhooks)
    message_log = (
        MessageLogWriter(store.message_log, settings, services.clock)
        if settings.message_log_enabled
        else None
    )
    if message_log is not None:
        metrics.watch_message_log(message_log)
        message_log.start()
    ocpp_server = OcppServer(
        services,
        guard,
        transport_factory(settings.ocpp_transport),
        metrics=metrics,
        message_log=message_log,
    )
    http_server: _EmbeddedUvicorn | None = None
    files_endpoint: FileEndpoint | None = None
    mqtt_input: MqttInput | None = None
    mqtt_publisher: MqttPublisher | None = None
    reload_task: asyncio.Task[None] | None = None
    try:
        first_admin_password = await ensure_first_admin(store, services.clock)
        if first_admin_password is not None:  # the console only, never the log (DESIGN §8)
            sys.stderr.write(first_admin_notice(first_admin_password))
        if cluster is not None:  # presence read before the first charger is accepted
            try:
                await cluster.start()
            except ClusterError as exc:
                cluster = None
                raise StartupError(str(exc)) from None
        try:
            host, port = await ocpp_server.start(settings.ocpp_host, settings.ocpp_port)
        except OSError as exc:
            raise _cannot_listen(
                "chargers", "ocpp_host/ocpp_port", settings.ocpp_host, settings.ocpp_port, exc
            ) from exc
        log.info(
            "ocpp listening on %s:%d (chargers connect to ws://HOST:%d/ocpp/<ID>; transport %s)",
            host,
            port,
            port,
            settings.ocpp_transport,
        )
        ocpp_ports = OcppPorts(ws_port=port, wss_port=None)  # for the add-a-charger assistant
        if server_tls.enabled:
            acceptor = TlsAcceptor(
                context=lambda: server_tls.context,
                handshake_timeout_s=settings.tls_handshake_timeout_s,
                on_failure=ocpp_server.refuse_tls,
                refuses_host=guard.refuses_host,
            )
            try:
                tls_host, tls_port = await ocpp_server.start(
                    settings.ocpp_host, settings.ocpp_tls_port, acceptor
                )
            except OSError as exc:
                raise _cannot_listen(
                    "chargers (TLS)",
                    "ocpp_host/ocpp_tls_port",
                    settings.ocpp_host,
                    settings.ocpp_tls_port,
                    exc,
                ) from exc
            log.info(
                "ocpp tls listening on %s:%d (chargers connect to wss://HOST:%d/ocpp/<ID>; "
                "profiles 2 and 3%s)",
                tls_host,
                tls_port,
                tls_port,
                "" if server_tls.client_certificates else "; tls_ca unset: no client certificates",
            )
            ocpp_ports = OcppPorts(ws_port=port, wss_port=tls_port)
            reload_task = loop.create_task(
                _reload_certificates(server_tls, settings.tls_reload_interval_s)
            )
            loop.add_signal_handler(signal.SIGHUP, _reload_now, server_tls)
        try:
            http_socket = _bind_http_socket(settings.http_host, settings.http_port)
        except OSError as exc:
            raise _cannot_listen(
                "the operator API",
                "http_host/http_port",
                settings.http_host,
                settings.http_port,
                exc,
            ) from exc
        http_host, http_port = http_socket.getsockname()[:2]
        config = uvicorn.Config(
            build_api(
                services,
                server_tls=server_tls,
                guard=guard,
                ocpp_ports=ocpp_ports,
                metrics=metrics,
            ),
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        http_server = _EmbeddedUvicorn(config)
        config.load()
        http_server.lifespan = config.lifespan_class(config)
        await http_server.startup(sockets=[http_socket])
        log.info("http listening on %s:%d (API at /api/v1)", http_host, http_port)
        files_endpoint = FileEndpoint(services, files_socket)
        files_host, files_port = await files_endpoint.start()
        log.info(
            "files listening on %s:%d (chargers download firmware and upload diagnostics at %s)",
            files_host,
            files_port,
            files_base_url,
        )
        if ftp_endpoint is not None:
            ftp_endpoint.attach(services)
            log.info(
                "ftp listening on %s:%d (chargers upload diagnostics by FTP at %s)",
                ftp_host,
                ftp_port,
                ftp_base_url,
            )
        if settings.mqtt_url:
            try:
                mqtt_input = MqttInput(
                    services,
                    mqtt_url=settings.mqtt_url,
                    topic_prefix=settings.mqtt_topic_prefix,
                )
            except ValueError as exc:
                raise StartupError(str(exc)) from None
            # Subscribes in the background: a broker that is down is retried, not fatal.
            mqtt_input.start()
            if settings.mqtt_publish:
                try:
                    mqtt_publisher = MqttPublisher(
                        services,
                        mqtt_url=settings.mqtt_url,
                        topic_prefix=settings.mqtt_topic_prefix,
                        discovery_prefix=settings.mqtt_discovery_prefix,
                        commands=settings.mqtt_commands,
                    )
                except ValueError as exc:
                    raise StartupError(str(exc)) from None
                mqtt_publisher.start()  # a connection of its own: see server/mqtt_publish.py
        await stop_event.wait()
        log.info("shutting down: finishing messages in flight")
    finally:
        if reload_task is not None:
            reload_task.cancel()
        await ocpp_server.shutdown(settings.close_timeout_s)
        # After the chargers' last events: ends open SSE streams (uvicorn would wait on them)
        # and the webhook worker's subscription (it then stores what it still holds).
        services.events.close()
        if cluster is not None:  # after the chargers' disconnections: presence deleted
            await cluster.close()
        if http_server is not None:
            http_server.should_exit = True
            await http_server.shutdown()
        if files_endpoint is not None:
            await files_endpoint.stop()
        else:
            files_socket.close()
        if ftp_endpoint is not None:
            await ftp_endpoint.stop()
        if mqtt_input is not None:
            await mqtt_input.stop()
        if mqtt_publisher is not None:  # after the chargers' disconnections, to publish them
            await mqtt_publisher.stop()
        await guard.close()
        await webhooks.stop()  # after events.close(): stores the events it still holds
        await services.load_control.close()
        await metrics.close()
        if message_log is not None:  # its last frames, before the store closes
            await message_log.close()
        await store.close()
        log.info("stopped")


def _reload_now(server_tls: ServerTls) -> None:
    """SIGHUP: load the certificate files now (e.g. from a renewal hook)."""
    try:
        server_tls.reload()
        log.info("TLS certificates reloaded (SIGHUP)")
    except TlsConfigError as exc:
        log.warning("TLS certificates not reloaded, still serving the previous ones: %s", exc)


async def _reload_certificates(server_tls: ServerTls, interval_s: float) -> None:
    """Serve renewed certificate files without a restart; a broken file keeps the old ones."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            # Reading and parsing the files takes milliseconds: off the loop; the swap is one
            # assignment.
            await asyncio.to_thread(server_tls.reload_if_changed)
        except TlsConfigError as exc:
            log.warning("TLS certificates not reloaded, still serving the previous ones: %s", exc)


def run(settings: Settings) -> None:
    """Run :func:`serve` on uvloop where available (DESIGN §4), else the stdlib loop."""
    main: Coroutine[Any, Any, None] = serve(settings)
    try:
        import uvloop
    except ImportError:
        log.warning(
            "uvloop is not installed: using the stdlib event loop (more memory per TLS connection)"
        )
        asyncio.run(main)
        return
    if sys.version_info >= (3, 12):
        asyncio.run(main, loop_factory=uvloop.new_event_loop)
    else:
        uvloop.install()
        asyncio.run(main)
