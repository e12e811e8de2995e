// Sites: each with its grid connection's limit per phase and strategy; add a site. A site's
// page (site.js) has the circuit tree with live load.

import { api, fill, h, table } from "../lib.js";
import { field, input, numberOrNull, onSubmit, select } from "../forms.js";

function limits(site) {
  return site.limit_a.map((a, i) => `L${i + 1} ${a} A`).join(" · ");
}

export async function render(root, ctx) {
  const list = h("div", { "data-testid": "sites-list" });
  const form = h(
    "form",
    { class: "card stack", "data-testid": "add-site" },
    h("h2", null, "Add a site"),
    field("Name", input("name", { required: true, placeholder: "home" })),
    field("Main fuse (A per phase)", input("limit_a", { required: true, inputmode: "decimal", placeholder: "25" })),
    field("Phases", select("phases", [["3", "3"], ["1", "1"]])),
    field("Strategy", select("strategy", [["equal", "equal shares"], ["priority", "by priority"], ["first_come", "first come"]])),
    field("Household reserve (A)", input("household_reserve_a", { inputmode: "decimal", placeholder: "0" }), "Taken by the house when no grid meter reading is fresh."),
    h("button", { type: "submit" }, "Add site"),
  );
  onSubmit(form, async (values) => {
    const site = await api("/sites", {
      method: "POST",
      body: {
        name: values.name,
        limit_a: numberOrNull(values.limit_a),
        phases: Number(values.phases),
        strategy: values.strategy,
        household_reserve_a: numberOrNull(values.household_reserve_a) ?? 0,
      },
    });
    ctx.navigate(`#/sites/${site.id}`);
  });
  root.append(h("h1", null, "Sites"), list, form);

  const page = await api("/sites");
  fill(list,
    table(
      [
        { label: "Site", value: (s) => h("a", { href: `#/sites/${s.id}` }, s.name) },
        { label: "Grid limit", value: limits },
        { label: "Strategy", value: (s) => s.strategy },
        { label: "Household reserve", value: (s) => `${s.household_reserve_a} A` },
      ],
      page.items,
      { empty: "No site yet: add one below, then hang chargers on it.", testid: "sites-table" },
    ),
  );
}
