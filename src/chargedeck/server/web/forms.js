// Small form helpers shared by the operator pages (sessions, sites, id tags, users, jobs,
// settings): labelled fields, a submit that shows the API's sentence on failure, secrets shown
// once, downloads of data fetched by the page. Plain DOM through `h` (lib.js): text never HTML.
//
//   field(label, input, hint)          -> <label><span>label</span>input<small>hint</small></label>
//   input(name, attrs) / select(name, options, attrs)   options: [[value, text], ...] or values
//   onSubmit(form, fn, {ok})           -> runs fn(values) on submit, button disabled meanwhile;
//       values = {name: trimmed text}; an error shows the API's sentence; `ok` a message on success.
//   numberOrNull(text)                 -> Number or null for "" (NaN stays NaN: the API says why)
//   shownOnce(label, secret, testid)   -> a card with the secret, a copy button and the warning
//   downloadText(name, text, type)     -> save text as a file (a JSON export built in the page)
//   badge(text, kind)                  -> <span class="badge kind">
//   actionButton(label, fn, {danger, testid}) -> a link-style button running fn (errors shown)
//   allItems(path, query, max)         -> {items, more}: every page of a cursor-paginated list
//       (up to `max` items; `more` when there were further pages)

import { api, h, showError, showMessage } from "./lib.js";

export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", null, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

export function input(name, attrs = {}) {
  return h("input", { name, id: attrs.id || `f-${name}`, ...attrs });
}

export function select(name, options, attrs = {}) {
  return h(
    "select",
    { name, id: attrs.id || `f-${name}`, ...attrs },
    options.map((option) => {
      const [value, text] = Array.isArray(option) ? option : [option, option];
      return h("option", { value, selected: attrs.value === value ? true : null }, text);
    }),
  );
}

export function formValues(form) {
  const values = {};
  for (const element of form.elements) {
    if (!element.name) continue;
    if (element.type === "checkbox") values[element.name] = element.checked;
    else if (element.type !== "file") values[element.name] = element.value.trim();
  }
  return values;
}

export function onSubmit(form, fn, { ok } = {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll("button")];
    buttons.forEach((b) => (b.disabled = true));
    try {
      await fn(formValues(form), form);
      if (ok) showMessage(typeof ok === "function" ? ok() : ok, "ok");
    } catch (err) {
      showError(err);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return form;
}

export function numberOrNull(text) {
  if (text === undefined || text === null || String(text).trim() === "") return null;
  return Number(String(text).replace(",", "."));
}

export function textOrNull(text) {
  return text === undefined || text === null || String(text).trim() === "" ? null : String(text).trim();
}

export function shownOnce(label, secret, testid) {
  const code = h("code", { "data-testid": testid }, secret);
  const copy = h("button", {
    type: "button",
    class: "secondary",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        showMessage("Copied.", "ok");
      } catch {
        showMessage("Copy it by hand: the browser refused the clipboard.", "info");
      }
    },
  }, "Copy");
  return h(
    "div",
    { class: "card remedy" },
    h("strong", null, label),
    h("div", { class: "type-this" }, h("div", { class: "value" }, code, copy)),
    h("p", { class: "muted" }, "Shown this once: ChargeDeck keeps only a hash of it."),
  );
}

export function downloadText(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function actionButton(label, fn, { danger = false, testid } = {}) {
  return h("button", {
    type: "button",
    class: danger ? "link danger-link" : "link",
    "data-testid": testid,
    onclick: async () => {
      try {
        await fn();
      } catch (err) {
        showError(err);
      }
    },
  }, label);
}

const PAGE_SIZE = 500; // the API's largest page

export async function allItems(path, query = {}, max = Infinity) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, limit: PAGE_SIZE, cursor } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return { items, more: Boolean(cursor) };
}

export function badge(text, kind = "off") {
  return h("span", { class: `badge ${kind}` }, text);
}

// Throttle page refreshes driven by bursts of live events: at most one run per `ms`, and one
// more after a burst ends so the last event is never lost.
export function throttled(fn, ms = 1000) {
  let last = 0;
  let timer = null;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const call = () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(run, wait);
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}
