// One session: what it was (charger, card, energy, cost) and plots of power, energy and current
// per phase over time. Data: GET /transactions/{id} and GET /transactions/{id}/series; live:
// each `meter.values` event of this session adds a point (power derived from the energy
// register's rise when the charger sends no power, as the API does).

import { api, fill, fmtEnergy, fmtPower, fmtTime, h, showError } from "../lib.js";
import { linePlot } from "../plot.js";
import { badge } from "../forms.js";

// Axis labels with the digits the scale needs: 0.05, 0.1, 0.15 kWh as well as 7.5 kW or 120 kWh.
const tick = (v) => String(Number(v.toPrecision(3)));
const PHASE_COLORS = ["#8a5a00", "#1d232b", "#6e7781"]; // the usual L1 brown, L2 black, L3 grey

function summary(tx, last) {
  const rows = [
    ["Charger", h("a", { href: `#/charge-points/${encodeURIComponent(tx.charge_point_id)}` }, `${tx.charge_point_id} / connector ${tx.connector_id}`)],
    ["Id tag", tx.owner ? `${tx.id_tag} (${tx.owner})` : tx.id_tag],
    ["Started", fmtTime(tx.started_at)],
    ["Stopped", tx.stopped_at ? `${fmtTime(tx.stopped_at)}${tx.stop_reason ? ` (${tx.stop_reason})` : ""}` : badge("charging", "ok")],
    ["Energy", fmtEnergy(tx.energy_wh ?? tx.register_energy_wh ?? last?.energy_wh)],
    ["Power now", tx.active ? fmtPower(last?.power_w) : "—"],
  ];
  if (last?.soc_percent !== null && last?.soc_percent !== undefined) rows.push(["State of charge", `${last.soc_percent} %`]);
  for (const flag of tx.energy_flags || []) rows.push(["Note", flag.sentence]);
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

export async function render(root, ctx) {
  const id = Number(ctx.params.id);
  let tx = await api(`/transactions/${encodeURIComponent(ctx.params.id)}`);
  let series = await api(`/transactions/${encodeURIComponent(ctx.params.id)}/series`);
  let last = series.points[series.points.length - 1] || null;
  let lastEnergy = null; // {at ms, wh register}: for power derived from the register

  const facts = h("div", { class: "card", "data-testid": "session-facts" });
  const powerBox = h("div", { class: "card", "data-testid": "power-plot" }, h("h2", null, "Power"));
  const energyBox = h("div", { class: "card", "data-testid": "energy-plot" }, h("h2", null, "Energy since start"));
  const currentBox = h("div", { class: "card", "data-testid": "current-plot" }, h("h2", null, "Current per phase"));
  root.append(
    h("div", { class: "card-head" }, h("h1", null, `Session #${id}`), h("a", { href: "#/sessions" }, "All sessions")),
    facts,
    powerBox,
    energyBox,
    currentBox,
  );
  const power = linePlot(powerBox, { yLabel: "kW", yFormat: tick, height: 200 });
  const energy = linePlot(energyBox, { yLabel: "kWh", yFormat: tick, height: 160 });
  const current = linePlot(currentBox, { yLabel: "A", yFormat: (v) => v.toFixed(0), height: 160 });

  function draw() {
    fill(facts, summary(tx, last));
    const pts = series.points;
    power.update([{ name: "Power", points: pts.filter((p) => p.power_w !== null).map((p) => [p.at, p.power_w / 1000]) }]);
    energy.update([{ name: "Energy", color: "#1a7f37", points: pts.filter((p) => p.energy_wh !== null).map((p) => [p.at, p.energy_wh / 1000]) }]);
    current.update(
      ["L1", "L2", "L3"].map((name, i) => ({
        name,
        color: PHASE_COLORS[i],
        points: pts.filter((p) => p.current_a && p.current_a[i] !== null).map((p) => [p.at, p.current_a[i]]),
      })),
    );
    const lastRegister = [...pts].reverse().find((p) => p.register_wh !== null);
    lastEnergy = lastRegister ? { at: new Date(lastRegister.at).getTime(), wh: lastRegister.register_wh } : null;
    currentBox.hidden = !pts.some((p) => p.current_a);
  }

  async function reload() {
    try {
      tx = await api(`/transactions/${encodeURIComponent(ctx.params.id)}`);
      series = await api(`/transactions/${encodeURIComponent(ctx.params.id)}/series`);
      last = series.points[series.points.length - 1] || null;
      draw();
    } catch (err) {
      showError(err);
    }
  }

  function ours(event) {
    if (event.transaction_id !== null && event.transaction_id !== undefined) return event.transaction_id === id;
    // MeterValues without a transactionId: the connector's, while this session runs.
    return tx.active && event.charge_point_id === tx.charge_point_id && event.connector_id === tx.connector_id;
  }

  ctx.on("meter.values", (event) => {
    if (!ours(event)) return;
    const at = new Date(event.sampled_at).getTime();
    let powerW = event.power_w;
    let derived = false;
    if (event.energy_wh !== null && event.energy_wh !== undefined) {
      if ((powerW === null || powerW === undefined) && lastEnergy && at > lastEnergy.at && event.energy_wh >= lastEnergy.wh) {
        powerW = ((event.energy_wh - lastEnergy.wh) * 3600 * 1000) / (at - lastEnergy.at);
        derived = true;
      }
      lastEnergy = { at, wh: event.energy_wh };
    }
    const point = {
      at: event.sampled_at,
      power_w: powerW ?? null,
      power_derived: derived,
      energy_wh: event.energy_wh === null || event.energy_wh === undefined ? null : event.energy_wh - tx.meter_start,
      register_wh: event.energy_wh ?? null,
      current_a: event.current_a ?? null,
      soc_percent: event.soc_percent ?? null,
    };
    series.points.push(point);
    last = point;
    draw();
  });
  ctx.refreshOn(["transaction.stopped"], reload, { everyMs: 10000, filter: (e) => e.transaction_id === id });
  draw();
}
