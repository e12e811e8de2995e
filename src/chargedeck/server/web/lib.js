// Shared helpers of every page: the API client, the live event stream, DOM building, formatting.
// Interface (pages import what they need from "../lib.js"):
//
//   api(path, {method, body, query})  -> Promise of the JSON answer (null for 204).
//       `path` is under /api/v1 ("/charge-points"). The session cookie goes along; every request
//       carries X-ChargeDeck-UI: 1 (the CSRF header the API requires of cookie-authenticated
//       POST/PUT/PATCH/DELETE). A problem+json answer rejects with an ApiError whose `.message`
//       is the API's sentence (`detail`) and `.status`, `.kind` (the type's last segment).
//       A 401 sends the browser to the login page.
//   apiUrl(path, query)               -> "/api/v1/..." (for links: downloads, exports).
//   events.on(type, fn)               -> unsubscribe function. `type` is an event type of
//       csms/events.py ("charger.connected", "connection.rejected", ...) or "*" for all;
//       fn(event, envelope) gets the event fields ({type, charge_point_id, ...}) and the
//       envelope {id, at, node}. One EventSource (/api/v1/events) serves every page.
//   events.isOpen()                   -> true while the stream is connected.
//   h(tag, attrs, ...children)        -> an element: attrs {class, text, html: never, onclick,
//       dataset: {...}, any attribute}; children are nodes, strings, arrays, null (skipped).
//   fill(element, ...children)        -> replace the children the same way (use it instead of
//       element.replaceChildren, which turns a null child into the text "null").
//   showMessage(text, kind)           -> a message line at the top ("info", "ok", "error").
//   showError(err)                    -> the sentence of an ApiError/Error as an error message.
//   fmtTime, fmtPower, fmtEnergy, fmtCurrent, fmtAgo -> display strings ("—" for null).
//   table(columns, rows, {empty})     -> a <table>: columns [{label, value(row) -> node|string}].

export const API_PREFIX = "/api/v1";
export const UI_HEADER = "X-ChargeDeck-UI";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || "";
    this.kind = (problem.type || "").split("/").pop();
    this.problem = problem;
  }
}

export function apiUrl(path, query) {
  const url = new URL(API_PREFIX + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}

export async function api(path, { method = "GET", body, query } = {}) {
  const headers = { Accept: "application/json", [UI_HEADER]: "1" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiUrl(path, query), init);
  } catch (err) {
    throw new ApiError(0, { detail: `ChargeDeck is not reachable (${err.message})` });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const payload = type.includes("json") ? await response.json() : { detail: await response.text() };
  if (!response.ok) {
    const error = new ApiError(response.status, payload);
    if (response.status === 401 && path !== "/login" && !location.hash.startsWith("#/login")) {
      const back = location.hash || "#/dashboard";
      location.hash = `#/login?next=${encodeURIComponent(back)}`;
    }
    throw error;
  }
  return payload;
}

// ---- live events (Server-Sent Events) -------------------------------------------------------

// Types of csms/events.py EVENT_TYPES; EventSource delivers `event: <type>` only to listeners
// of that type, so each is listened to once on the shared source.
export const EVENT_TYPES = [
  "charger.connected", "charger.disconnected", "connection.rejected", "charger.booted",
  "connector.status", "transaction.started", "transaction.stopped", "meter.values",
  "limit.changed", "alert.raised", "alert.cleared",
];

class LiveEvents {
  constructor() {
    this.listeners = new Map(); // type -> Set(fn)
    this.source = null;
    this.statusListeners = new Set();
    this.retryTimer = null;
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    this.open();
    return () => this.listeners.get(type)?.delete(fn);
  }

  onStatus(fn) {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  isOpen() {
    return this.source !== null && this.source.readyState === EventSource.OPEN;
  }

  open() {
    if (this.source !== null) return;
    const source = new EventSource(apiUrl("/events"), { withCredentials: true });
    this.source = source;
    const deliver = (message) => {
      let envelope;
      try {
        envelope = JSON.parse(message.data);
      } catch {
        return; // not ours: comments and keep-alives carry no JSON
      }
      const event = envelope.event || {};
      for (const key of [event.type, "*"]) {
        for (const fn of this.listeners.get(key) || []) {
          try {
            fn(event, envelope);
          } catch (err) {
            console.error("event listener failed", err);
          }
        }
      }
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, deliver);
    source.addEventListener("message", deliver);
    source.onopen = () => this.status();
    source.onerror = () => {
      // The browser reconnects by itself unless the answer was not a stream (404, 401): then
      // try again later; pages poll meanwhile (see `refreshOn`).
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.open(), 15000);
      }
      this.status();
    };
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
    clearTimeout(this.retryTimer);
    this.status();
  }

  status() {
    for (const fn of this.statusListeners) fn(this.isOpen());
  }
}

export const events = new LiveEvents();

// ---- DOM ------------------------------------------------------------------------------------

export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

// Replace an element's children the way `h` adds them (null/false skipped, arrays flattened);
// the DOM's own replaceChildren would print "null".
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

export function table(columns, rows, { empty = "Nothing yet.", testid } = {}) {
  if (!rows.length) return h("p", { class: "muted", "data-testid": testid }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "data-testid": testid },
      h("thead", null, h("tr", null, columns.map((c) => h("th", null, c.label)))),
      h(
        "tbody",
        null,
        rows.map((row) =>
          h("tr", null, columns.map((c) => h("td", { "data-label": c.label }, c.value(row)))),
        ),
      ),
    ),
  );
}

export function showMessage(text, kind = "info") {
  const box = document.querySelector(".messages");
  if (!box) return;
  const line = h(
    "div",
    { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", null, text),
    h("button", { type: "button", class: "link", "aria-label": "Dismiss", onclick: () => line.remove() }, "×"),
  );
  box.append(line);
  if (kind !== "error") setTimeout(() => line.remove(), 6000);
}

export function showError(err) {
  showMessage(err && err.message ? err.message : String(err), "error");
}

export function clearMessages() {
  const box = document.querySelector(".messages");
  if (box) box.replaceChildren();
}

// ---- formatting -----------------------------------------------------------------------------

const DASH = "—";

export function fmtTime(iso) {
  if (!iso) return DASH;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function fmtAgo(iso, now = Date.now()) {
  if (!iso) return DASH;
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function fmtPower(watts) {
  if (watts === null || watts === undefined) return DASH;
  return watts >= 1000 ? `${(watts / 1000).toFixed(2)} kW` : `${Math.round(watts)} W`;
}

export function fmtEnergy(wh) {
  if (wh === null || wh === undefined) return DASH;
  return wh >= 1000 ? `${(wh / 1000).toFixed(2)} kWh` : `${Math.round(wh)} Wh`;
}

export function fmtCurrent(amps) {
  if (amps === null || amps === undefined) return DASH;
  return `${Number(amps).toFixed(1)} A`;
}
