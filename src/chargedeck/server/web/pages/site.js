// One site (DESIGN §7): the circuit tree from the grid connection down with the live load per
// phase against each circuit's limit (bars: measured draw, the current load control gives out,
// the limit), a plot of the grid connection's load since the page opened, the grid and solar
// inputs, the chargers on it with their operator limits, and forms to change limits, add a
// sub-board and hang a charger. Data: GET /sites/{id}, GET /sites/{id}/load (server/api/
// ui_data.py), GET /charge-points; live: refreshed on the site's chargers' events.

import { api, fill, fmtAgo, fmtCurrent, fmtPower, h, showError, table } from "../lib.js";
import { linePlot } from "../plot.js";
import { actionButton, badge, field, input, numberOrNull, onSubmit, select, throttled } from "../forms.js";

const PHASES = ["L1", "L2", "L3"];
const ROTATIONS = ["L1L2L3", "L2L3L1", "L3L1L2", "L1", "L2", "L3"];
const MODES = [["fast", "fast"], ["min_solar", "minimum + solar"], ["solar", "solar only"]];
const HISTORY_POINTS = 720; // an hour at one refresh per 5 s
const POLL_MS = 10000; // grid meter readings arrive without events (MQTT, API)

function limitBody(text) {
  const parts = String(text).split(/[\s,/]+/).filter(Boolean).map(Number);
  return parts.length === 1 ? { limit_a: parts[0], phases: 3 } : { limit_a: parts, phases: 3 };
}

// Through the CSSOM: the UI's Content-Security-Policy (style-src 'self') refuses style
// attributes, not style properties set by script.
function styled(element, properties) {
  Object.assign(element.style, properties);
  return element;
}

function phaseBar(phase) {
  const scale = Math.max(phase.limit_a, phase.allocated_a, phase.measured_a, 1);
  const pct = (v) => `${Math.min(100, (v / scale) * 100).toFixed(1)}%`;
  const over = phase.limit_a > 0 && phase.measured_a > phase.limit_a;
  return h(
    "div",
    { class: "phase-load", "data-phase": phase.phase, title: `${phase.phase}: drawing ${fmtCurrent(phase.measured_a)}, given ${fmtCurrent(phase.allocated_a)}, limit ${fmtCurrent(phase.limit_a)}` },
    h("span", { class: "phase-name" }, phase.phase),
    h(
      "span",
      { class: "bar" },
      styled(h("span", { class: "given" }), { width: pct(phase.allocated_a) }),
      styled(h("span", { class: `drawn${over ? " over" : ""}` }), { width: pct(phase.measured_a) }),
      styled(h("span", { class: "limit" }), { left: pct(phase.limit_a) }),
    ),
    h("span", { class: "phase-figures", "data-testid": "phase-figures" }, `${fmtCurrent(phase.measured_a)} / ${fmtCurrent(phase.allocated_a)} / ${fmtCurrent(phase.limit_a)}`),
  );
}

function readingLine(label, reading, text) {
  if (!reading) return h("p", null, h("strong", null, `${label}: `), h("span", { class: "muted" }, "no reading yet"));
  return h(
    "p",
    null,
    h("strong", null, `${label}: `),
    text(reading),
    " ",
    h("span", { class: "muted" }, `(${reading.source}, ${fmtAgo(reading.measured_at)})`),
    " ",
    reading.stale ? badge("stale: not used", "warn") : badge("in use", "ok"),
  );
}

export async function render(root, ctx) {
  const siteId = ctx.params.id;
  let detail = await api(`/sites/${encodeURIComponent(siteId)}`);
  let load = await api(`/sites/${encodeURIComponent(siteId)}/load`);
  const history = [];

  const head = h("div", { class: "card-head" });
  const inputs = h("div", { class: "card", "data-testid": "site-inputs" });
  const plotBox = h("div", { class: "card", "data-testid": "site-plot" }, h("h2", null, "Grid connection load"));
  const tree = h("div", { class: "card", "data-testid": "circuit-tree" });
  const chargers = h("div", { class: "card", "data-testid": "site-chargers" });
  const forms = h("div", { class: "cards" });
  root.append(head, plotBox, tree, inputs, chargers, forms);
  const plot = linePlot(plotBox, { yLabel: "A", yFormat: (v) => v.toFixed(0) });

  function remember() {
    const grid = load.circuits[0];
    if (!grid) return;
    history.push({ at: load.at, phases: grid.phases });
    if (history.length > HISTORY_POINTS) history.shift();
  }

  function drawPlot() {
    const grid = load.circuits[0];
    const colors = ["#8a5a00", "#1d232b", "#6e7781"];
    const list = PHASES.map((name, i) => ({ name: `${name} drawn`, color: colors[i], points: history.map((p) => [p.at, p.phases[i].measured_a]) }));
    if (grid) {
      const limit = Math.max(...grid.phases.map((p) => p.limit_a));
      list.push({ name: "limit", color: "#cf222e", points: history.map((p) => [p.at, limit]) });
    }
    plot.update(list);
  }

  function drawHead() {
    const site = detail;
    fill(head,
      h("h1", null, site.name),
      h("span", { class: "muted" }, `strategy ${site.strategy} · household reserve ${site.household_reserve_a} A · meter stale after ${site.meter_stale_after_s} s`),
    );
  }

  function drawTree() {
    const circuitForms = (circuit) => {
      const form = h(
        "form",
        { class: "row inline-form", "data-testid": `circuit-limit-${circuit.name}` },
        input("limit", { value: circuit.phases.map((p) => p.limit_a).join(" "), "aria-label": `limit of ${circuit.name}`, inputmode: "decimal", size: 10 }),
        h("button", { type: "submit", class: "secondary" }, "Set limit"),
      );
      onSubmit(
        form,
        async (values) => {
          await api(`/circuits/${circuit.circuit_id}`, { method: "PATCH", body: limitBody(values.limit) });
          await refresh();
        },
        { ok: `Limit of ${circuit.name} changed.` },
      );
      return form;
    };
    fill(tree,
      h("h2", null, "Circuits"),
      h("p", { class: "muted" }, "Per phase: drawn / given by load control / limit. A red bar draws above its limit."),
      ...load.circuits.map((circuit) =>
        styled(h(
          "div",
          { class: "circuit", "data-testid": `circuit-${circuit.name}` },
          h("div", { class: "card-head" }, h("strong", null, circuit.name), circuit.charge_point_ids.length ? h("span", { class: "muted" }, circuit.charge_point_ids.join(", ")) : null),
          circuit.phases.map(phaseBar),
          circuitForms(circuit),
        ), { marginLeft: `${circuit.depth * 1.25}rem` }),
      ),
    );
  }

  function drawInputs() {
    fill(inputs,
      h("h2", null, "Grid and solar"),
      readingLine("Grid meter", load.grid, (r) => PHASES.map((p, i) => `${p} ${fmtCurrent([r.l1_a, r.l2_a, r.l3_a][i])}`).join(" · ")),
      readingLine("Solar", load.solar, (r) => fmtPower(r.power_w)),
      household(),
    );
  }

  // What the house takes besides the chargers: the grid meter minus what they draw (DESIGN §7).
  function household() {
    const grid = load.grid;
    const main = load.circuits[0];
    if (!grid || grid.stale || !main) return null;
    const meter = [grid.l1_a, grid.l2_a, grid.l3_a];
    const rest = PHASES.map((p, i) => (meter[i] === null ? null : meter[i] - main.phases[i].measured_a));
    return h("p", { class: "muted", "data-testid": "household" }, `Household and other loads: ${PHASES.map((p, i) => `${p} ${fmtCurrent(rest[i])}`).join(" · ")}`);
  }

  function placedChargers() {
    const placed = [];
    const walk = (circuit) => {
      for (const charger of circuit.chargers) placed.push({ ...charger, circuit: circuit.name });
      circuit.circuits.forEach(walk);
    };
    walk(detail.grid);
    return placed;
  }

  function drawChargers() {
    const byCharger = new Map();
    for (const c of load.connectors) {
      if (!byCharger.has(c.charge_point_id)) byCharger.set(c.charge_point_id, []);
      byCharger.get(c.charge_point_id).push(c);
    }
    const limitForm = (charger) => {
      const form = h(
        "form",
        { class: "row inline-form", "data-testid": `limit-form-${charger.charge_point_id}` },
        input("value", { value: charger.limit ? charger.limit.value : "", placeholder: "none", inputmode: "decimal", size: 5, "aria-label": `operator limit of ${charger.charge_point_id}` }),
        select("unit", [["A", "A"], ["kW", "kW"]], { value: charger.limit ? charger.limit.unit : "A", "aria-label": "unit" }),
        h("button", { type: "submit", class: "secondary" }, "Set"),
        charger.limit
          ? actionButton("Clear", async () => {
              await api(`/charge-points/${encodeURIComponent(charger.charge_point_id)}/limit`, { method: "DELETE" });
              await refresh();
            })
          : null,
      );
      onSubmit(
        form,
        async (values) => {
          await api(`/charge-points/${encodeURIComponent(charger.charge_point_id)}/limit`, {
            method: "PUT",
            body: { value: numberOrNull(values.value), unit: values.unit },
          });
          await refresh();
        },
        { ok: `Limit of ${charger.charge_point_id} set.` },
      );
      return form;
    };
    fill(chargers,
      h("h2", null, "Chargers"),
      table(
        [
          { label: "Charger", value: (c) => h("a", { href: `#/charge-points/${encodeURIComponent(c.charge_point_id)}` }, c.charge_point_id) },
          { label: "Circuit", value: (c) => `${c.circuit} (${c.phase_rotation})` },
          { label: "Mode", value: (c) => `${c.mode}, priority ${c.priority}` },
          {
            label: "Now",
            value: (c) =>
              (byCharger.get(c.charge_point_id) || []).map((k) =>
                h("div", { "data-testid": `now-${c.charge_point_id}-${k.connector_id}` },
                  `#${k.connector_id}: `,
                  k.active ? `${k.limit_a === null ? "no limit" : k.limit_a === 0 ? "paused" : `${fmtCurrent(k.limit_a)} given`}, drawing ${k.measured_a.length ? k.measured_a.map(fmtCurrent).join(" / ") : "—"}` : "idle",
                ),
              ),
          },
          { label: "Operator limit", value: limitForm },
          {
            label: "",
            value: (c) =>
              actionButton("Take off site", async () => {
                await api(`/charge-points/${encodeURIComponent(c.charge_point_id)}/placement`, { method: "DELETE" });
                await refresh(true);
              }),
          },
        ],
        placedChargers(),
        { empty: "No charger on this site yet: hang one below.", testid: "site-chargers-table" },
      ),
    );
  }

  async function drawForms() {
    const circuitOptions = load.circuits.map((c) => [String(c.circuit_id), `${"— ".repeat(c.depth)}${c.name}`]);
    const placed = new Set(placedChargers().map((c) => c.charge_point_id));
    let candidates = [];
    try {
      candidates = (await api("/charge-points")).items.map((c) => c.id).filter((id) => !placed.has(id));
    } catch (err) {
      showError(err);
    }
    const place = h(
      "form",
      { class: "card stack", "data-testid": "place-charger" },
      h("h2", null, "Hang a charger on this site"),
      candidates.length
        ? field("Charger", select("charge_point_id", candidates))
        : h("p", { class: "muted" }, "Every registered charger hangs on this site already."),
      field("Circuit", select("circuit_id", circuitOptions)),
      field("Phase rotation", select("phase_rotation", ROTATIONS), "Which grid phases its L1, L2, L3 are wired to; one phase for a single-phase charger."),
      field("Priority", input("priority", { type: "number", value: "0", min: -1000, max: 1000 })),
      field("Mode", select("mode", MODES)),
      h("button", { type: "submit", disabled: candidates.length ? null : true }, "Hang it here"),
    );
    onSubmit(place, async (values) => {
      await api(`/charge-points/${encodeURIComponent(values.charge_point_id)}/placement`, {
        method: "PUT",
        body: { circuit_id: Number(values.circuit_id), phase_rotation: values.phase_rotation, priority: Number(values.priority || 0), mode: values.mode },
      });
      await refresh(true);
    });
    const board = h(
      "form",
      { class: "card stack", "data-testid": "add-circuit" },
      h("h2", null, "Add a sub-board"),
      field("Name", input("name", { required: true, placeholder: "garage" })),
      field("Under", select("parent_id", circuitOptions)),
      field("Limit (A per phase, or L1 L2 L3)", input("limit", { required: true, inputmode: "decimal", placeholder: "16" })),
      h("button", { type: "submit" }, "Add"),
    );
    onSubmit(board, async (values) => {
      await api(`/sites/${encodeURIComponent(siteId)}/circuits`, {
        method: "POST",
        body: { name: values.name, parent_id: Number(values.parent_id), ...limitBody(values.limit) },
      });
      await refresh(true);
    });
    const reading = h(
      "form",
      { class: "card stack", "data-testid": "add-reading" },
      h("h2", null, "Enter a meter reading"),
      h("p", { class: "muted" }, "Usually a meter sends these over MQTT or the API; this is for a test or a meter without one."),
      field("Kind", select("kind", [["grid", "grid meter (A per phase)"], ["solar", "solar production (W)"]])),
      field("Value (grid: L1 L2 L3 in A, import positive; solar: W)", input("value", { required: true, placeholder: "12 10 9" })),
      h("button", { type: "submit", class: "secondary" }, "Send"),
    );
    onSubmit(reading, async (values) => {
      const numbers = values.value.split(/[\s,/]+/).filter(Boolean).map(Number);
      const body = values.kind === "solar"
        ? { kind: "solar", power_w: numbers[0] }
        : { kind: "grid", l1_a: numbers[0], l2_a: numbers[1] ?? null, l3_a: numbers[2] ?? null };
      await api(`/sites/${encodeURIComponent(siteId)}/readings`, { method: "POST", body });
      await refresh();
    }, { ok: "Reading sent." });
    fill(forms, place, board, reading);
  }

  async function refresh(layoutChanged = false) {
    [detail, load] = await Promise.all([
      api(`/sites/${encodeURIComponent(siteId)}`),
      api(`/sites/${encodeURIComponent(siteId)}/load`),
    ]);
    remember();
    drawHead();
    // A live refresh must not wipe what the operator is typing into a limit field.
    if (!editing(tree)) drawTree();
    drawInputs();
    if (!editing(chargers)) drawChargers();
    drawPlot();
    if (layoutChanged) await drawForms();
  }

  function editing(section) {
    const active = document.activeElement;
    return section.contains(active) && active.tagName !== "BUTTON";
  }

  remember();
  drawHead();
  drawTree();
  drawInputs();
  drawChargers();
  drawPlot();
  await drawForms();

  const later = throttled(() => refresh().catch(showError), 1000);
  ctx.onCleanup(() => later.cancel());
  ctx.refreshOn(
    ["meter.values", "limit.changed", "connector.status", "transaction.started", "transaction.stopped"],
    later,
    { everyMs: 5000, filter: (e) => load.connectors.some((c) => c.charge_point_id === e.charge_point_id) || placedChargers().some((c) => c.charge_point_id === e.charge_point_id) },
  );
  const poll = setInterval(later, POLL_MS);
  ctx.onCleanup(() => clearInterval(poll));
}
