// ChargeDeck web UI: the shell. No build step (DESIGN §8): plain ES modules served by
// `chargedeck serve` under /web/, all data through the REST API (/api/v1) with the session
// cookie of POST /api/v1/login, live updates from one EventSource on /api/v1/events.
//
// How to add a page (the whole contract):
//   1. A row in PAGES below: `path` is the hash route ("sites/:id" matches #/sites/7 and gives
//      params.id = "7"), `module` the file web/pages/<module>.js, `title`, and `nav: true` to
//      show it in the top menu. Rows for the planned pages exist already; a page whose module
//      is missing shows "not available yet" instead of failing.
//   2. web/pages/<module>.js exports `async function render(root, ctx)`; it fills `root`.
//      ctx = {
//        params,      // path params and the query of the hash (#/sessions?charge_point_id=A)
//        me,          // GET /api/v1/me: {username, scope, token_id, token_name}
//        navigate,    // navigate("#/charge-points/A")
//        onCleanup,   // onCleanup(fn): run when the page is left (timers, subscriptions)
//        refreshOn,   // refreshOn(types, fn, {everyMs, filter}): fn() on each event of
//                     //   `types` (filter(event) -> bool) and every `everyMs` while the event
//                     //   stream is down; removed when the page is left
//        on,          // on(type, fn): events.on that is removed when the page is left
//      }
//   Shared helpers (api, events, h, table, formatting, messages) are in web/lib.js; the SVG
//   line plot is web/plot.js. Pages use plain DOM through `h`; text goes in as text, never as
//   HTML, so nothing a charger or user sends can inject markup.

import { api, events, h, showError, clearMessages } from "./lib.js";

export const PAGES = [
  { path: "dashboard", module: "dashboard", title: "Dashboard", nav: true },
  { path: "add-charger", module: "add-charger", title: "Add a charger", nav: true },
  { path: "charge-points/:id", module: "charge-point", title: "Charger" },
  { path: "sessions", module: "sessions", title: "Sessions", nav: true },
  { path: "sessions/:id", module: "session", title: "Session" },
  { path: "sites", module: "sites", title: "Sites", nav: true },
  { path: "sites/:id", module: "site", title: "Site" },
  { path: "id-tags", module: "id-tags", title: "Id tags", nav: true },
  { path: "jobs", module: "jobs", title: "Jobs", nav: true },
  { path: "users", module: "users", title: "Users", nav: true },
  { path: "settings", module: "settings", title: "Settings", nav: true },
  { path: "login", module: "login", title: "Log in", public: true },
];

const DEFAULT_ROUTE = "#/dashboard";

let me = null;
let cleanups = [];
let renderCount = 0;

function match(hash) {
  const [pathPart, queryPart = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = pathPart.split("/").filter(Boolean);
  for (const page of PAGES) {
    const pattern = page.path.split("/");
    if (pattern.length !== parts.length) continue;
    const params = Object.fromEntries(new URLSearchParams(queryPart));
    if (
      pattern.every((segment, i) => {
        if (segment.startsWith(":")) {
          params[segment.slice(1)] = decodeURIComponent(parts[i]);
          return true;
        }
        return segment === parts[i];
      })
    ) {
      return { page, params };
    }
  }
  return null;
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function leavePage() {
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch (err) {
      console.error("cleanup failed", err);
    }
  }
}

function renderNav(current) {
  const nav = document.querySelector(".nav");
  const who = document.querySelector(".who");
  if (!me) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  nav.replaceChildren(
    ...PAGES.filter((p) => p.nav).map((p) =>
      h("a", { href: `#/${p.path}`, class: p === current ? "active" : null }, p.title),
    ),
  );
  who.replaceChildren(
    h("span", { class: "live-dot", title: "live updates", "data-testid": "live" }),
    h("span", null, `${me.username || me.token_name} (${me.scope})`),
    h("button", { type: "button", class: "link", onclick: logout, "data-testid": "logout" }, "Log out"),
  );
  updateLiveDot(events.isOpen());
}

function updateLiveDot(open) {
  const dot = document.querySelector(".live-dot");
  if (dot) {
    dot.classList.toggle("on", open);
    dot.title = open ? "live updates on" : "live updates off: refreshing periodically";
  }
}

async function logout() {
  try {
    await api("/logout", { method: "POST" });
  } catch (err) {
    showError(err);
  }
  me = null;
  events.close();
  navigate("#/login");
}

export async function whoAmI() {
  me = await api("/me");
  return me;
}

async function route() {
  const ticket = ++renderCount;
  leavePage();
  const found = match(location.hash || DEFAULT_ROUTE);
  if (!found) {
    location.replace(DEFAULT_ROUTE);
    return;
  }
  const { page, params } = found;
  if (page.public) {
    me = null; // the login page: whoever was signed in is asked again afterwards
  } else if (!me) {
    try {
      await whoAmI();
    } catch (err) {
      // A 401 has sent us to the login page already; anything else is said on this page.
      if (err.status !== 401) {
        showError(err);
        document.getElementById("page").replaceChildren(h("p", { class: "muted" }, "ChargeDeck did not answer: reload the page to try again."));
      }
      return;
    }
    if (ticket !== renderCount) return;
  }
  document.title = `${page.title} · ChargeDeck`;
  renderNav(page);
  const root = document.getElementById("page");
  root.replaceChildren();
  root.dataset.page = page.module;
  const ctx = {
    params,
    me,
    navigate,
    onCleanup: (fn) => cleanups.push(fn),
    on: (type, fn) => cleanups.push(events.on(type, fn)),
    refreshOn: (types, fn, { everyMs = 5000, filter = () => true } = {}) => {
      for (const type of types) cleanups.push(events.on(type, (e) => filter(e) && fn(e)));
      const timer = setInterval(() => {
        if (!events.isOpen()) fn(null);
      }, everyMs);
      cleanups.push(() => clearInterval(timer));
    },
  };
  let module;
  try {
    module = await import(`./pages/${page.module}.js`);
  } catch (err) {
    console.error(err);
    root.append(h("h1", null, page.title), h("p", { class: "muted" }, "This page is not available yet."));
    return;
  }
  if (ticket !== renderCount) return;
  try {
    await module.render(root, ctx);
  } catch (err) {
    if (ticket === renderCount) {
      showError(err);
      root.append(h("p", { class: "muted" }, "This page could not be shown: see the message above."));
    }
  }
}

export function setSignedIn(who) {
  me = who;
}

function setupMenu() {
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.querySelector(".nav");
  toggle.addEventListener("click", () => {
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  nav.addEventListener("click", () => {
    nav.classList.remove("open");
    toggle.setAttribute("aria-expanded", "false");
  });
}

events.onStatus(updateLiveDot);
window.addEventListener("hashchange", () => {
  clearMessages();
  route();
});
setupMenu();
route();
