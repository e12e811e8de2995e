// A small SVG line plot written for ChargeDeck (no chart library, no build step).
//
//   const plot = linePlot(container, {yLabel: "kW", yFormat: (v) => v.toFixed(1), height: 220});
//   plot.update([{name: "Power", color: "#0b6bcb", points: [[Date | ms | ISO string, value], ...]}]);
//   plot.add(seriesIndex, [time, value])   // append one point and redraw (live updates)
//
// x is time (ms since epoch, Date or ISO text); y starts at 0 unless values go below. The SVG
// scales with its container (viewBox), so it works on a phone as well as a desktop.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const MARGIN = { top: 12, right: 12, bottom: 26, left: 52 };
const COLORS = ["#0b6bcb", "#1a7f37", "#bf5b04", "#8250df", "#cf222e"];

function svg(tag, attrs) {
  const element = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) element.setAttribute(key, String(value));
  return element;
}

function toMs(x) {
  if (x instanceof Date) return x.getTime();
  if (typeof x === "string") return new Date(x).getTime();
  return Number(x);
}

// Round numbers for axis ticks, 1, 2 or 5 times a power of ten apart, from the last one at or
// below `low` to the first one at or above `high` (so the axis encloses every value).
export function niceTicks(low, high, count = 5) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  const last = Math.ceil(high / step - 1e-9) * step;
  for (let v = Math.floor(low / step + 1e-9) * step; v <= last + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

// Time ticks on whole seconds, minutes, hours or days (local time for days).
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

export function timeTicks(x0, x1, count = 4) {
  const step = TIME_STEPS.find((s) => s >= (x1 - x0) / count) || Math.ceil((x1 - x0) / count / 86400000) * 86400000;
  const ticks = [];
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) ticks.push(t);
  return ticks;
}

function timeLabel(ms, spanMs) {
  const date = new Date(ms);
  if (spanMs > 36 * 3600 * 1000) return date.toLocaleDateString([], { month: "short", day: "numeric" });
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: spanMs < 600000 ? "2-digit" : undefined });
}

export function linePlot(container, { yLabel = "", yFormat = (v) => String(v), height = 220 } = {}) {
  const root = document.createElement("div");
  root.className = "plot";
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": yLabel });
  const legend = document.createElement("div");
  legend.className = "legend";
  root.append(chart, legend);
  container.append(root);
  let series = [];

  function draw() {
    chart.replaceChildren();
    const points = series.flatMap((s) => s.points);
    const innerW = WIDTH - MARGIN.left - MARGIN.right;
    const innerH = height - MARGIN.top - MARGIN.bottom;
    if (!points.length) {
      const empty = svg("text", { x: WIDTH / 2, y: height / 2, "text-anchor": "middle", class: "tick" });
      empty.textContent = "no data yet";
      chart.append(empty);
      legend.replaceChildren();
      root.dataset.points = "0";
      return;
    }
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    if (x1 === x0) [x0, x1] = [x0 - 30000, x1 + 30000];
    let [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
    if (y1 === y0) y1 = y0 + 1;
    const yTicks = niceTicks(y0, y1);
    [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
    const sx = (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * innerW;
    const sy = (y) => MARGIN.top + innerH - ((y - y0) / (y1 - y0)) * innerH;
    for (const tick of yTicks) {
      chart.append(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: sy(tick), y2: sy(tick), class: "axis" }));
      const label = svg("text", { x: MARGIN.left - 6, y: sy(tick) + 4, "text-anchor": "end", class: "tick" });
      label.textContent = yFormat(tick);
      chart.append(label);
    }
    for (const tick of timeTicks(x0, x1)) {
      // A label near the right edge ends at its tick, so it is not cut off.
      const anchor = sx(tick) > WIDTH - MARGIN.right - 40 ? "end" : "middle";
      const label = svg("text", { x: sx(tick), y: height - 6, "text-anchor": anchor, class: "tick" });
      label.textContent = timeLabel(tick, x1 - x0);
      chart.append(label);
    }
    series.forEach((s, i) => {
      if (!s.points.length) return;
      const color = s.color || COLORS[i % COLORS.length];
      const d = s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
      chart.append(svg("polyline", { points: d, class: "series", stroke: color, "data-series": s.name }));
    });
    legend.replaceChildren(
      ...series.map((s, i) => {
        const item = document.createElement("span");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = s.color || COLORS[i % COLORS.length];
        item.append(swatch, `${s.name}${yLabel ? ` (${yLabel})` : ""}`);
        return item;
      }),
    );
    root.dataset.points = String(points.length);
  }

  function normalise(list) {
    return list.map((s) => ({
      ...s,
      points: s.points.map(([x, y]) => [toMs(x), Number(y)]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).sort((a, b) => a[0] - b[0]),
    }));
  }

  draw();
  return {
    element: root,
    update(list) {
      series = normalise(list);
      draw();
    },
    add(index, point) {
      if (!series[index]) return;
      series[index].points.push(...normalise([{ points: [point] }])[0].points);
      draw();
    },
  };
}
