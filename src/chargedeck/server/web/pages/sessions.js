// Sessions: the list with filters (charger, id tag, period) and exports in CSV and JSON.
// Data: GET /reports/sessions (the same report as `chargedeck export sessions`): oldest first
// with cursor pagination; the page shows the newest first.

import { apiUrl, fill, fmtEnergy, fmtTime, h, showError, table } from "../lib.js";
import { allItems, badge, downloadText, field, input, onSubmit } from "../forms.js";

const MAX_SHOWN = 2500; // five pages; the exports have no such cap
const DEFAULT_DAYS = 30; // without a period the list shows the last month, not all history
const FILTERS = ["charge_point_id", "id_tag", "from", "to"];

function isoDate(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

function filtersFrom(params) {
  const filters = {};
  for (const key of FILTERS) if (params[key]) filters[key] = params[key];
  if (!filters.from && !filters.to) filters.from = isoDate(new Date(Date.now() - DEFAULT_DAYS * 86400000));
  return filters;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const h_ = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h_ ? `${h_} h ${m} min` : `${m} min`;
}

export async function render(root, ctx) {
  const filters = filtersFrom(ctx.params);
  const form = h(
    "form",
    { class: "card row", "data-testid": "session-filters" },
    field("Charger", input("charge_point_id", { value: filters.charge_point_id || "", placeholder: "any" })),
    field("Id tag", input("id_tag", { value: filters.id_tag || "", placeholder: "any" })),
    field("From", input("from", { type: "date", value: filters.from || "" })),
    field("To (not included)", input("to", { type: "date", value: filters.to || "" })),
    h("button", { type: "submit" }, "Show"),
  );
  onSubmit(form, async (values) => {
    const query = new URLSearchParams();
    for (const key of FILTERS) if (values[key]) query.set(key, values[key]);
    const text = query.toString();
    ctx.navigate(`#/sessions${text ? `?${text}` : ""}`);
  });

  const csvLink = h(
    "a",
    { class: "button secondary", href: apiUrl("/reports/sessions", { ...filters, format: "csv" }), download: "sessions.csv", "data-testid": "export-csv" },
    "Export CSV",
  );
  const jsonButton = h("button", { type: "button", class: "secondary", "data-testid": "export-json" }, "Export JSON");
  const list = h("div", { "data-testid": "sessions-list" }, h("p", { class: "muted" }, "Loading…"));
  root.append(
    h("div", { class: "card-head" }, h("h1", null, "Sessions"), h("div", { class: "row" }, csvLink, jsonButton)),
    form,
    list,
  );

  jsonButton.addEventListener("click", async () => {
    jsonButton.disabled = true;
    try {
      const { items } = await allItems("/reports/sessions", filters);
      downloadText("sessions.json", JSON.stringify(items, null, 2));
    } catch (err) {
      showError(err);
    } finally {
      jsonButton.disabled = false;
    }
  });

  async function load() {
    const { items: sessions, more } = await allItems("/reports/sessions", filters, MAX_SHOWN);
    const newestFirst = [...sessions].reverse();
    const count = `${sessions.length} session${sessions.length === 1 ? "" : "s"}`;
    fill(list,
      h("p", { class: "muted" }, more ? `The first ${count} of the period: narrow it to see the rest (the exports hold all).` : count),
      table(
        [
          { label: "Session", value: (s) => h("a", { href: `#/sessions/${s.transaction_id}` }, `#${s.transaction_id}`) },
          { label: "Charger", value: (s) => h("a", { href: `#/charge-points/${encodeURIComponent(s.charge_point_id)}` }, `${s.charge_point_id} / ${s.connector_id}`) },
          { label: "Id tag", value: (s) => (s.owner ? `${s.id_tag} (${s.owner})` : s.id_tag) },
          { label: "Started", value: (s) => fmtTime(s.started_at) },
          { label: "Duration", value: (s) => (s.stopped_at ? duration(s.duration_s) : badge("charging", "ok")) },
          { label: "Energy", value: (s) => fmtEnergy(s.energy_wh ?? s.register_energy_wh) },
          { label: "Cost", value: (s) => (s.cost === null ? "—" : `${s.cost} ${s.currency || ""}`) },
        ],
        newestFirst,
        { empty: "No sessions match.", testid: "sessions-table" },
      ),
    );
  }

  await load();
  ctx.refreshOn(["transaction.started", "transaction.stopped"], () => load().catch(showError), {
    everyMs: 15000,
  });
}
