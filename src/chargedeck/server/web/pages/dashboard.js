// Dashboard: every charger with its live state, what waits for the operator (unknown chargers,
// unknown id tags) and alerts (limit not honoured, refused connections, faults).
import { api, fill, h, table, showError, showMessage, fmtAgo, fmtPower, fmtEnergy, fmtTime } from "../lib.js";

const RELOAD_ON = [
  "charger.connected", "charger.disconnected", "charger.booted", "connection.rejected",
  "connector.status", "transaction.started", "transaction.stopped", "alert.raised", "alert.cleared",
];

export function statusBadge(status) {
  const kind = {
    Available: "ok", Charging: "ok", Preparing: "warn", SuspendedEV: "warn", SuspendedEVSE: "warn",
    Finishing: "warn", Reserved: "warn", Unavailable: "off", Faulted: "bad",
  }[status] || "off";
  return h("span", { class: `badge ${kind}`, "data-testid": "status" }, status || "unknown");
}

export function connectionBadge(connection) {
  return connection && connection.connected
    ? h("span", { class: "badge ok", "data-testid": "connection" }, "connected")
    : h("span", { class: "badge off", "data-testid": "connection" }, "offline");
}

export async function render(root, ctx) {
  const power = new Map(); // "id/connector" -> watts, from live meter values
  const faults = []; // live AlertRaised events of kind fault (newest first)
  const body = h("div", { class: "stack" });
  root.append(
    h("div", { class: "card-head" }, h("h1", null, "Dashboard"), h("a", { class: "button", href: "#/add-charger" }, "Add a charger")),
    body,
  );

  let loading = null;
  let again = false;
  async function load() {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      try {
        const [chargers, inbox, unknownTags, alerts, rejections, active] = await Promise.all([
          api("/charge-points", { query: { registration: "registered" } }),
          api("/inbox"),
          api("/id-tags/unknown").catch(() => ({ items: [] })),
          api("/limit-alerts", { query: { open: "true" } }).catch(() => ({ items: [] })),
          api("/rejections", { query: { limit: 20 } }),
          api("/transactions", { query: { active: "true", limit: 200 } }),
        ]);
        const details = await Promise.all(
          chargers.items.map((c) => api(`/charge-points/${encodeURIComponent(c.id)}`).catch(() => ({ ...c, connectors: [] }))),
        );
        fill(body,
          chargerCards(details, active.items),
          waiting(inbox.items, unknownTags.items),
          alertList(alerts.items, rejections.items, details),
        );
      } catch (err) {
        showError(err);
      }
    })();
    await loading;
    loading = null;
    if (again) {
      again = false;
      await load();
    }
  }

  function chargerCards(chargers, sessions) {
    if (!chargers.length) {
      return h(
        "section",
        { class: "card", "data-testid": "no-chargers" },
        h("h2", null, "No chargers yet"),
        h("p", null, "Use the ", h("a", { href: "#/add-charger" }, "add-a-charger assistant"), " to connect your first one."),
      );
    }
    return h(
      "section",
      null,
      h("h2", null, `Chargers (${chargers.length})`),
      h(
        "div",
        { class: "cards" },
        chargers.map((c) => {
          const connectors = (c.connectors || []).filter((k) => k.connector_id > 0);
          const mine = sessions.filter((s) => s.charge_point_id === c.id);
          return h(
            "article",
            { class: "card", "data-testid": `charger-${c.id}` },
            h("div", { class: "card-head" }, h("a", { href: `#/charge-points/${encodeURIComponent(c.id)}` }, h("strong", null, c.id)), connectionBadge(c.connection)),
            h("div", { class: "muted" }, [c.vendor, c.model].filter(Boolean).join(" ") || "not booted yet", c.last_heartbeat_at ? ` · seen ${fmtAgo(c.last_heartbeat_at)}` : ""),
            connectors.length
              ? h(
                  "ul",
                  { class: "stack" },
                  connectors.map((k) => {
                    const session = mine.find((s) => s.connector_id === k.connector_id);
                    const watts = power.get(`${c.id}/${k.connector_id}`);
                    return h(
                      "li",
                      { "data-testid": `connector-${c.id}-${k.connector_id}` },
                      `Connector ${k.connector_id} `,
                      statusBadge(k.status),
                      k.error_code && k.error_code !== "NoError" ? h("span", { class: "badge bad" }, k.error_code) : null,
                      h("span", { class: "power", "data-testid": "power", dataset: { key: `${c.id}/${k.connector_id}` } }, watts === undefined ? "" : ` ${fmtPower(watts)}`),
                      session
                        ? h("div", { class: "muted" }, `Session #${session.id} · ${session.id_tag} · since ${fmtTime(session.started_at)} · ${fmtEnergy(session.register_energy_wh ?? session.energy_wh)}`)
                        : null,
                    );
                  }),
                )
              : h("p", { class: "muted" }, "No connector has reported its status yet."),
          );
        }),
      ),
    );
  }

  function waiting(inbox, unknownTags) {
    return h(
      "section",
      { class: "card", "data-testid": "waiting" },
      h("h2", null, "Waiting for you"),
      h("h3", null, "Unknown chargers"),
      table(
        [
          { label: "Charge Point ID", value: (c) => h("code", null, c.id) },
          { label: "Model", value: (c) => [c.vendor, c.model].filter(Boolean).join(" ") || "—" },
          { label: "From", value: (c) => (c.connection && c.connection.remote_address) || "—" },
          { label: "First seen", value: (c) => fmtAgo(c.first_seen_at) },
          {
            label: "",
            value: (c) => h("button", { type: "button", "data-testid": `adopt-${c.id}`, onclick: (e) => adopt(c.id, e.target) }, "Adopt"),
          },
        ],
        inbox,
        { empty: "No unknown charger is waiting.", testid: "inbox" },
      ),
      h("h3", null, "Unknown id tags"),
      table(
        [
          { label: "Id tag", value: (t) => h("code", null, t.id_tag) },
          { label: "Charger", value: (t) => t.last_charge_point_id },
          { label: "Times", value: (t) => String(t.count) },
          { label: "Last seen", value: (t) => fmtAgo(t.last_seen_at) },
          { label: "", value: () => h("a", { href: "#/id-tags" }, "Review") },
        ],
        unknownTags,
        { empty: "No unknown id tag was presented.", testid: "unknown-tags" },
      ),
    );
  }

  function alertList(limitAlerts, rejections, chargers) {
    const faulted = chargers.flatMap((c) =>
      (c.connectors || []).filter((k) => k.status === "Faulted").map((k) => ({ charge_point_id: c.id, connector_id: k.connector_id, message: `${k.error_code}${k.info ? `: ${k.info}` : ""}` })),
    );
    return h(
      "section",
      { class: "card", "data-testid": "alerts" },
      h("h2", null, "Alerts"),
      h("h3", null, "Limit not honoured"),
      table(
        [
          { label: "Charger", value: (a) => h("a", { href: `#/charge-points/${encodeURIComponent(a.charge_point_id)}` }, `${a.charge_point_id} #${a.connector_id}`) },
          { label: "Limit", value: (a) => `${a.limit_a} A` },
          { label: "Measured", value: (a) => `${a.measured_a} A` },
          { label: "Since", value: (a) => fmtAgo(a.over_since) },
        ],
        limitAlerts,
        { empty: "Every charger keeps to its limit.", testid: "limit-alerts" },
      ),
      h("h3", null, "Refused connections"),
      table(
        [
          { label: "Charge Point ID", value: (r) => h("code", null, r.charge_point_id || "(none)") },
          { label: "Why", value: (r) => h("span", null, h("strong", null, r.reason.replaceAll("_", " ")), h("div", { class: "muted" }, r.detail)) },
          { label: "What to change", value: (r) => r.remedy },
          { label: "Last", value: (r) => `${fmtAgo(r.last_at)} (${r.count}×)` },
        ],
        rejections,
        { empty: "No connection was refused.", testid: "rejections" },
      ),
      h("h3", null, "Faults"),
      table(
        [
          { label: "Charger", value: (f) => `${f.charge_point_id}${f.connector_id ? ` #${f.connector_id}` : ""}` },
          { label: "What", value: (f) => f.message },
          { label: "When", value: (f) => (f.at ? fmtAgo(f.at) : "now") },
        ],
        [...faults, ...faulted],
        { empty: "No faults.", testid: "faults" },
      ),
    );
  }

  async function adopt(id, button) {
    button.disabled = true;
    try {
      await api(`/charge-points/${encodeURIComponent(id)}/adopt`, { method: "POST" });
      showMessage(`${id} adopted: it is accepted at its next BootNotification.`, "ok");
      await load();
    } catch (err) {
      showError(err);
      button.disabled = false;
    }
  }

  ctx.on("meter.values", (event) => {
    if (event.power_w === null || event.power_w === undefined) return;
    const key = `${event.charge_point_id}/${event.connector_id}`;
    power.set(key, event.power_w);
    for (const cell of root.querySelectorAll(".power")) {
      if (cell.dataset.key === key) cell.textContent = ` ${fmtPower(event.power_w)}`;
    }
  });
  ctx.on("alert.raised", (event, envelope) => {
    if (event.kind === "fault") {
      faults.unshift({ ...event, at: envelope.at });
      faults.splice(20);
    }
  });
  ctx.refreshOn(RELOAD_ON, () => load(), { everyMs: 5000 });
  await load();
}
