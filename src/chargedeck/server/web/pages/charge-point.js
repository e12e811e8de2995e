// One charger: connectors and the current session, the effective limit and what capped it,
// configuration with drift, security profile and recent refusals, command buttons, live power,
// and the OCPP message timeline (GET .../messages, when the message log is there).
import { api, fill, h, table, showError, showMessage, fmtAgo, fmtPower, fmtEnergy, fmtTime, fmtCurrent } from "../lib.js";
import { linePlot } from "../plot.js";
import { statusBadge, connectionBadge } from "./dashboard.js";

const RELOAD_ON = ["charger.connected", "charger.disconnected", "charger.booted", "connector.status", "transaction.started", "transaction.stopped", "limit.changed", "connection.rejected"];

export async function render(root, ctx) {
  const id = ctx.params.id;
  const path = `/charge-points/${encodeURIComponent(id)}`;
  const head = h("div");
  const overview = h("div", { class: "cards" });
  const limits = h("section", { class: "card", "data-testid": "limits" });
  const commands = h("section", { class: "card", "data-testid": "commands" });
  const powerCard = h("section", { class: "card", "data-testid": "power-plot" }, h("h2", null, "Power (live)"));
  const config = h("section", { class: "card", "data-testid": "configuration" });
  const security = h("section", { class: "card", "data-testid": "security" });
  const timeline = h("section", { class: "card", "data-testid": "timeline" });
  for (const [card, title] of [[limits, "Effective limit"], [commands, "Commands"], [config, "Configuration"], [security, "Security"]]) {
    card.append(h("h2", null, title), h("p", { class: "muted" }, "Loading…"));
  }
  root.append(head, overview, limits, powerCard, commands, config, security, timeline);
  const plot = linePlot(powerCard, { yLabel: "kW", yFormat: (v) => v.toFixed(1) });
  const samples = new Map(); // connector -> [[time, kW]]
  let charger = null;
  let sessions = [];

  async function loadMain() {
    try {
      const [cp, active, effective] = await Promise.all([
        api(path),
        api("/transactions", { query: { charge_point_id: id, active: "true" } }),
        api(`${path}/effective-limits`).catch(() => ({ items: [] })),
      ]);
      charger = cp;
      sessions = active.items;
      renderHead(cp);
      renderOverview(cp, sessions);
      renderLimits(effective.items);
      renderCommands(cp, sessions);
      await seedPlot(sessions);
    } catch (err) {
      showError(err);
    }
  }

  // A running session's stored power starts the plot; live meter values extend it.
  const seeded = new Set();
  async function seedPlot(active) {
    for (const session of active.filter((s) => !seeded.has(s.id))) {
      seeded.add(session.id);
      const series = await api(`/transactions/${session.id}/series`, { query: { max_points: 300 } }).catch(() => null);
      if (!series) continue;
      const stored = series.points.filter((p) => p.power_w !== null).map((p) => [p.at, p.power_w / 1000]);
      const live = samples.get(session.connector_id) || [];
      samples.set(session.connector_id, [...stored, ...live]);
    }
    if (samples.size) drawPlot();
  }

  function drawPlot() {
    plot.update([...samples.entries()].map(([k, points]) => ({ name: `Connector ${k}`, points })));
  }

  function renderHead(cp) {
    fill(head,
      h("div", { class: "card-head" }, h("h1", { "data-testid": "cp-title" }, cp.id), connectionBadge(cp.connection)),
      h(
        "p",
        { class: "muted" },
        [cp.vendor, cp.model].filter(Boolean).join(" ") || "not booted yet",
        cp.firmware_version ? ` · firmware ${cp.firmware_version}` : "",
        cp.charge_point_serial_number ? ` · serial ${cp.charge_point_serial_number}` : "",
        cp.last_heartbeat_at ? ` · last heartbeat ${fmtAgo(cp.last_heartbeat_at)}` : "",
      ),
      cp.registration === "pending"
        ? h("p", null, "This charger is waiting for adoption. ", h("button", { type: "button", "data-testid": "adopt", onclick: adopt }, "Adopt"))
        : null,
    );
  }

  function renderOverview(cp, active) {
    const connectors = (cp.connectors || []).filter((k) => k.connector_id > 0);
    fill(overview,
      ...(connectors.length ? connectors : [null]).map((k) => {
        if (!k) return h("section", { class: "card" }, h("h2", null, "Connectors"), h("p", { class: "muted" }, "No connector has reported its status yet."));
        const session = active.find((s) => s.connector_id === k.connector_id);
        return h(
          "section",
          { class: "card", "data-testid": `connector-${k.connector_id}` },
          h("div", { class: "card-head" }, h("h2", null, `Connector ${k.connector_id}`), statusBadge(k.status)),
          k.error_code && k.error_code !== "NoError" ? h("p", { class: "state bad" }, `${k.error_code}${k.info ? `: ${k.info}` : ""}`) : null,
          h("p", { class: "muted" }, `since ${fmtTime(k.status_timestamp || k.updated_at)}`),
          session
            ? h(
                "div",
                { "data-testid": "session" },
                h("strong", null, `Session #${session.id}`),
                h("div", null, `Id tag ${session.id_tag} · started ${fmtTime(session.started_at)}`),
                h("div", null, `Energy ${fmtEnergy(session.register_energy_wh ?? session.energy_wh)}`),
                h("a", { href: `#/sessions/${session.id}` }, "Session page"),
              )
            : h("p", { class: "muted" }, "No session."),
        );
      }),
    );
  }

  function renderLimits(items) {
    fill(limits,
      h("h2", null, "Effective limit"),
      items.length
        ? h(
            "div",
            { class: "stack" },
            items.map((l) =>
              h(
                "div",
                { "data-testid": `limit-${l.connector_id}` },
                h("strong", null, `Connector ${l.connector_id}: ${l.limit_a === null ? "no limit set by ChargeDeck" : l.limit_a === 0 ? "paused (0 A)" : fmtCurrent(l.limit_a)}`),
                l.measured_a !== null ? h("span", { class: "muted" }, ` · drawing ${fmtCurrent(l.measured_a)}`) : null,
                l.steps.length ? h("ol", null, l.steps.map((s) => h("li", null, s))) : null,
                l.profile_status ? h("div", { class: "muted" }, `Charger answered ${l.profile_status}${l.sent_at ? ` at ${fmtTime(l.sent_at)}` : ""}`) : null,
              ),
            ),
          )
        : h("p", { class: "muted" }, "ChargeDeck sets no limit on this charger (it is on no site and has no operator limit)."),
    );
  }

  function renderCommands(cp, active) {
    const connectorIds = (cp.connectors || []).map((k) => k.connector_id).filter((n) => n > 0);
    const connector = h("select", { "data-testid": "command-connector" }, (connectorIds.length ? connectorIds : [1]).map((n) => h("option", { value: n }, `Connector ${n}`)));
    const idTag = h("input", { placeholder: "id tag for a remote start", maxlength: 20, "data-testid": "command-id-tag" });
    const trigger = h(
      "select",
      { "data-testid": "trigger-message" },
      ["StatusNotification", "MeterValues", "Heartbeat", "BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification"].map((m) => h("option", { value: m }, m)),
    );
    const result = h("pre", { class: "mono", "data-testid": "command-result", hidden: true });
    const connectorNumber = () => Number(connector.value);
    const send = async (action, body, button) => {
      button.disabled = true;
      try {
        const answer = await api(`${path}/commands/${action}`, { method: "POST", body });
        result.hidden = false;
        result.textContent = `${action}: ${JSON.stringify(answer.response)}`;
        showMessage(`${action}: ${answer.response.status || "answered"}`, "ok");
      } catch (err) {
        showError(err);
      } finally {
        button.disabled = false;
      }
    };
    const button = (label, action, body, kind) =>
      h("button", { type: "button", class: kind, "data-testid": `cmd-${action}-${label.toLowerCase().replaceAll(" ", "-")}`, onclick: (e) => send(action, body(), e.target) }, label);
    const disabled = !(cp.connection && cp.connection.connected);
    fill(commands,
      h("h2", null, "Commands"),
      disabled ? h("p", { class: "muted" }, "The charger is offline: commands need a connection.") : null,
      h("div", { class: "row" }, connector, idTag),
      h(
        "div",
        { class: "row" },
        button("Start", "RemoteStartTransaction", () => ({ connectorId: connectorNumber(), idTag: idTag.value.trim() })),
        button("Stop", "RemoteStopTransaction", () => {
          const session = active.find((s) => s.connector_id === connectorNumber()) || active[0];
          return { transactionId: session ? session.id : 0 };
        }),
        button("Unlock", "UnlockConnector", () => ({ connectorId: connectorNumber() }), "secondary"),
        button("Make available", "ChangeAvailability", () => ({ connectorId: connectorNumber(), type: "Operative" }), "secondary"),
        button("Make unavailable", "ChangeAvailability", () => ({ connectorId: connectorNumber(), type: "Inoperative" }), "secondary"),
        button("Soft reset", "Reset", () => ({ type: "Soft" }), "secondary"),
        button("Hard reset", "Reset", () => ({ type: "Hard" }), "danger"),
      ),
      h("div", { class: "row" }, trigger, button("Trigger", "TriggerMessage", () => ({ requestedMessage: trigger.value, connectorId: connectorNumber() }), "secondary")),
      result,
    );
    for (const b of commands.querySelectorAll("button")) b.disabled = disabled;
  }

  async function loadConfiguration() {
    try {
      const [keys, drift] = await Promise.all([
        api(`${path}/configuration`).catch((err) => (err.status === 404 ? { items: [] } : Promise.reject(err))),
        api(`${path}/configuration/drift`).catch(() => null),
      ]);
      const driftOf = new Map((drift ? drift.keys : []).map((d) => [d.key, d]));
      const rows = keys.items.map((k) => ({ ...k, drift: driftOf.get(k.key) }));
      for (const d of drift ? drift.keys : []) if (!keys.items.some((k) => k.key === d.key)) rows.push({ key: d.key, value: null, readonly: false, drift: d });
      fill(config,
        h("div", { class: "card-head" }, h("h2", null, "Configuration"), drift ? h("span", { class: `badge ${drift.drifted ? "warn" : "ok"}`, "data-testid": "drift" }, drift.drifted ? "drifted from template" : "matches templates") : null),
        table(
          [
            { label: "Key", value: (k) => h("code", null, k.key) },
            { label: "Value", value: (k) => (k.value === null ? "—" : k.value) },
            { label: "Wanted", value: (k) => (k.drift ? `${k.drift.wanted ?? "—"} (${k.drift.state})` : "") },
            { label: "", value: (k) => (k.readonly ? "read-only" : "") },
          ],
          rows,
          { empty: "The charger has not reported its configuration yet.", testid: "configuration-table" },
        ),
      );
    } catch (err) {
      showError(err);
    }
  }

  async function loadSecurity() {
    try {
      const rejections = await api(`${path}/rejections`, { query: { limit: 10 } });
      const cp = charger || (await api(path));
      fill(security,
        h("h2", null, "Security"),
        h(
          "p",
          null,
          `Security profile ${cp.security_profile}`,
          cp.pending_security_profile !== null ? ` (changing to ${cp.pending_security_profile})` : "",
          cp.has_password ? ` · password set ${fmtAgo(cp.authorization_key_set_at)}` : " · no password",
        ),
        h("h3", null, "Recent refused connections"),
        table(
          [
            { label: "Why", value: (r) => h("span", null, h("strong", null, r.reason.replaceAll("_", " ")), h("div", { class: "muted" }, r.detail)) },
            { label: "What to change", value: (r) => r.remedy },
            { label: "From", value: (r) => r.remote_host },
            { label: "Last", value: (r) => `${fmtAgo(r.last_at)} (${r.count}×)` },
          ],
          rejections.items,
          { empty: "No connection of this charger was refused.", testid: "cp-rejections" },
        ),
      );
    } catch (err) {
      showError(err);
    }
  }

  const actionFilter = h("input", { placeholder: "action, e.g. MeterValues", "data-testid": "timeline-action" });
  const textFilter = h("input", { placeholder: "search text in frames", "data-testid": "timeline-q" });
  const timelineBody = h("div");
  async function loadTimeline() {
    try {
      const page = await api(`${path}/messages`, { query: { action: actionFilter.value.trim(), q: textFilter.value.trim(), limit: 100 } });
      fill(timelineBody, 
        table(
          [
            { label: "Time", value: (m) => fmtTime(m.at || m.timestamp) },
            { label: "", value: (m) => (m.direction === "in" ? "charger →" : "→ charger") },
            { label: "Action", value: (m) => m.action || "—" },
            { label: "Frame", value: (m) => h("code", null, typeof m.frame === "string" ? m.frame : JSON.stringify(m.frame ?? m.payload ?? m)) },
          ],
          page.items || [],
          { empty: "No messages match.", testid: "timeline-table" },
        ),
      );
    } catch (err) {
      if (err.status === 404 && err.kind === "not-found") {
        fill(timelineBody, h("p", { class: "muted" }, "The message log is not available on this server."));
      } else showError(err);
    }
  }
  const timelineForm = h("form", { class: "row" }, actionFilter, textFilter, h("button", { type: "submit", class: "secondary" }, "Search"));
  timelineForm.addEventListener("submit", (e) => {
    e.preventDefault();
    loadTimeline();
  });
  timeline.append(h("h2", null, "OCPP messages"), timelineForm, timelineBody);

  async function adopt(event) {
    event.target.disabled = true;
    try {
      await api(`${path}/adopt`, { method: "POST" });
      showMessage(`${id} adopted.`, "ok");
      await loadMain();
    } catch (err) {
      showError(err);
      event.target.disabled = false;
    }
  }

  ctx.on("meter.values", (event) => {
    if (event.charge_point_id !== id || event.power_w === null || event.power_w === undefined) return;
    if (!samples.has(event.connector_id)) samples.set(event.connector_id, []);
    const list = samples.get(event.connector_id);
    list.push([event.sampled_at, event.power_w / 1000]);
    list.splice(0, Math.max(0, list.length - 600));
    drawPlot();
    powerCard.dataset.last = fmtPower(event.power_w);
  });
  ctx.refreshOn(RELOAD_ON, () => Promise.all([loadMain(), loadTimeline()]), { everyMs: 5000, filter: (e) => !e || e.charge_point_id === id });
  // Frames are stored by a batching writer and commands raise no event: the timeline polls.
  const timelineTimer = setInterval(() => document.visibilityState === "visible" && loadTimeline(), 5000);
  ctx.onCleanup(() => clearInterval(timelineTimer));
  ctx.refreshOn(["connection.rejected"], () => loadSecurity(), { everyMs: 15000, filter: (e) => e.charge_point_id === id });
  await loadMain();
  await Promise.all([loadConfiguration(), loadSecurity(), loadTimeline()]);
}
