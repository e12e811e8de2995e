// Id tags: the cards chargers may start with. Add one by the UID printed on the card (any
// usual notation: 04:A2:2B:1A:5C:3D:80, "04 a2 2b ..."), or by the idTag a charger sends;
// block, unblock and remove; the inbox of tags a charger presented that nobody registered,
// to adopt (with an owner) or block. Data: /id-tags, /id-tags/unknown.

import { api, fill, fmtAgo, fmtTime, h, showError, showMessage, table } from "../lib.js";
import { actionButton as action, allItems, badge, field, input, onSubmit, textOrNull } from "../forms.js";

export async function render(root, ctx) {
  const canOperate = ctx.me && ctx.me.scope !== "read";
  const inbox = h("div", { class: "card", "data-testid": "unknown-tags" });
  const list = h("div", { "data-testid": "id-tags-list" });
  const search = h("input", { type: "search", placeholder: "Search tag, UID, owner", "aria-label": "search id tags", "data-testid": "id-tag-search" });
  const form = h(
    "form",
    { class: "card stack", "data-testid": "add-id-tag" },
    h("h2", null, "Add a card"),
    field("UID as printed on the card", input("uid", { placeholder: "04:A2:2B:1A:5C:3D:80", autocomplete: "off" }), "4, 7 or 10 bytes in hex; colons and spaces are fine."),
    field("or the idTag a charger sends", input("id_tag", { placeholder: "optional", autocomplete: "off" })),
    field("Owner", input("owner", { placeholder: "who pays for its sessions" })),
    field("Label", input("label", { placeholder: "e.g. blue key fob" })),
    h("button", { type: "submit", disabled: canOperate ? null : true }, "Add card"),
  );
  root.append(h("h1", null, "Id tags"), inbox, h("div", { class: "card" }, search, list), form);

  let tags = [];

  function drawList() {
    const q = search.value.trim().toLowerCase();
    const shown = q
      ? tags.filter((t) => [t.id_tag, t.card_uid, t.owner, t.label].some((v) => v && v.toLowerCase().includes(q)))
      : tags;
    fill(list,
      table(
        [
          { label: "Id tag", value: (t) => h("code", null, t.id_tag) },
          { label: "Card UID", value: (t) => (t.card_uid ? h("code", null, t.card_uid) : "—") },
          { label: "Owner", value: (t) => [t.owner || "—", t.label ? h("span", { class: "muted" }, ` (${t.label})`) : null] },
          { label: "State", value: (t) => (t.blocked ? badge("blocked", "bad") : t.expiry_date && new Date(t.expiry_date) < new Date() ? badge("expired", "warn") : badge("accepted", "ok")) },
          {
            label: "",
            value: (t) =>
              canOperate
                ? h(
                    "span",
                    { class: "row" },
                    action(t.blocked ? "Unblock" : "Block", async () => {
                      await api(`/id-tags/${encodeURIComponent(t.id_tag)}`, { method: "PATCH", body: { blocked: !t.blocked } });
                      await load();
                    }, { testid: `block-${t.id_tag}` }),
                    action("Remove", async () => {
                      if (!confirm(`Remove id tag ${t.id_tag}? Its past sessions stay.`)) return;
                      await api(`/id-tags/${encodeURIComponent(t.id_tag)}`, { method: "DELETE" });
                      await load();
                    }, { danger: true }),
                  )
                : null,
          },
        ],
        shown,
        { empty: q ? "No tag matches." : "No card registered yet.", testid: "id-tags-table" },
      ),
    );
  }

  async function drawInbox() {
    const unknown = (await api("/id-tags/unknown")).items;
    fill(inbox,
      h("h2", null, "Unknown cards"),
      unknown.length
        ? h("p", { class: "muted" }, "Presented at a charger but registered nowhere. Adopt one to let it charge.")
        : null,
      table(
        [
          { label: "Id tag", value: (u) => h("code", null, u.id_tag) },
          { label: "Seen", value: (u) => `${u.count}× · last ${fmtAgo(u.last_seen_at)} at ${u.last_charge_point_id}` },
          { label: "First", value: (u) => fmtTime(u.first_seen_at) },
          {
            label: "",
            value: (u) => {
              if (!canOperate) return null;
              const adopt = h(
                "form",
                { class: "row inline-form", "data-testid": `adopt-${u.id_tag}` },
                input("owner", { placeholder: "owner", required: true, size: 10, "aria-label": `owner of ${u.id_tag}` }),
                h("button", { type: "submit", class: "secondary" }, "Adopt"),
                action("Block", async () => {
                  await api(`/id-tags/unknown/${encodeURIComponent(u.id_tag)}/block`, { method: "POST" });
                  await load();
                }),
              );
              onSubmit(adopt, async (values) => {
                await api(`/id-tags/unknown/${encodeURIComponent(u.id_tag)}/adopt`, { method: "POST", body: { owner: values.owner } });
                showMessage(`${u.id_tag} adopted for ${values.owner}.`, "ok");
                await load();
              });
              return adopt;
            },
          },
        ],
        unknown,
        { empty: "No unknown card waiting.", testid: "unknown-tags-table" },
      ),
    );
  }

  async function load() {
    [{ items: tags }] = await Promise.all([allItems("/id-tags"), drawInbox()]);
    drawList();
  }

  onSubmit(form, async (values) => {
    const body = { uid: textOrNull(values.uid), id_tag: textOrNull(values.id_tag), owner: textOrNull(values.owner), label: textOrNull(values.label) };
    const tag = await api("/id-tags", { method: "POST", body });
    form.reset();
    showMessage(`Card ${tag.card_uid || tag.id_tag} added${tag.owner ? ` for ${tag.owner}` : ""}.`, "ok");
    await load();
  });
  search.addEventListener("input", drawList);
  await load();
  // An unknown card shows up when a charger asks about it: Authorize or StartTransaction.
  ctx.refreshOn(["transaction.started"], () => load().catch(showError), { everyMs: 15000 });
}
