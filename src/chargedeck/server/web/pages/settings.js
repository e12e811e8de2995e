// Settings: the settings in force, read-only (they are set in chargedeck.toml, CHARGEDECK_*
// environment variables or `chargedeck serve` flags, DESIGN §10), with their defaults and
// meaning; secrets show as ***. Admins only (GET /settings); others see who they are.

import { api, fill, h, table } from "../lib.js";
import { badge } from "../forms.js";

function shown(value) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "(empty)");
  return h("code", null, typeof value === "string" ? value : JSON.stringify(value));
}

export async function render(root, ctx) {
  root.append(h("h1", null, "Settings"));
  const me = h(
    "p",
    { class: "muted" },
    `Signed in as ${ctx.me.username || ctx.me.token_name} with scope ${ctx.me.scope}.`,
  );
  root.append(me);
  if (ctx.me.scope !== "admin") {
    root.append(h("p", { class: "muted", "data-testid": "not-admin" }, "The settings in force are shown to admins."));
    return;
  }
  const { items } = await api("/settings");
  const onlyChanged = h("input", { type: "checkbox", "data-testid": "only-changed" });
  const search = h("input", { type: "search", placeholder: "Search settings", "aria-label": "search settings" });
  const list = h("div", { "data-testid": "settings-list" });
  root.append(
    h("p", { class: "muted" }, "Change them in chargedeck.toml, as CHARGEDECK_<KEY> environment variables or as --key flags of chargedeck serve, then restart."),
    h("div", { class: "card row" }, search, h("label", { class: "row" }, onlyChanged, "only changed from the default")),
    list,
  );

  function draw() {
    const q = search.value.trim().toLowerCase();
    const rows = items.filter(
      (s) => (!onlyChanged.checked || s.changed) && (!q || s.key.includes(q) || s.description.toLowerCase().includes(q)),
    );
    fill(list,
      table(
        [
          { label: "Key", value: (s) => h("code", null, s.key) },
          { label: "Value", value: (s) => [shown(s.value), s.changed ? [" ", badge("changed", "warn")] : null] },
          { label: "Default", value: (s) => shown(s.default) },
          { label: "Meaning", value: (s) => h("span", { class: "muted" }, s.description) },
        ],
        rows,
        { empty: "No setting matches.", testid: "settings-table" },
      ),
    );
  }
  search.addEventListener("input", draw);
  onlyChanged.addEventListener("change", draw);
  draw();
}
