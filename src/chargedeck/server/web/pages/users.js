// Users and API tokens (scope admin): create an account (a generated password is shown once),
// disable one; create a token for a script (its text is shown once), revoke one.
// Data: /users, /tokens.

import { api, fill, fmtAgo, fmtTime, h, showMessage, table } from "../lib.js";
import { actionButton, badge, field, input, onSubmit, select, shownOnce, textOrNull } from "../forms.js";

const SCOPES = [["read", "read: look only"], ["operate", "operate: commands and changes"], ["admin", "admin: users and tokens too"]];

export async function render(root, ctx) {
  root.append(h("h1", null, "Users and tokens"));
  if (!ctx.me || ctx.me.scope !== "admin") {
    root.append(h("p", { class: "muted", "data-testid": "not-admin" }, `Accounts and tokens are for admins; you have scope ${ctx.me ? ctx.me.scope : "?"}.`));
    return;
  }
  const secret = h("div", { "data-testid": "shown-once" });
  const users = h("div", { class: "card", "data-testid": "users" });
  const tokens = h("div", { class: "card", "data-testid": "tokens" });
  const newUser = h(
    "form",
    { class: "card stack", "data-testid": "add-user" },
    h("h2", null, "New account"),
    field("User name", input("username", { required: true, autocomplete: "off" })),
    field("Scope", select("scope", SCOPES)),
    field("Password", input("password", { type: "password", autocomplete: "new-password", placeholder: "leave empty: generate one" })),
    h("button", { type: "submit" }, "Create account"),
  );
  const newToken = h(
    "form",
    { class: "card stack", "data-testid": "add-token" },
    h("h2", null, "New API token"),
    field("Name", input("name", { required: true, placeholder: "home-assistant" })),
    field("Scope", select("scope", SCOPES)),
    field("Expires after (days)", input("expires_days", { type: "number", min: 1, max: 3650, placeholder: "never" })),
    h("button", { type: "submit" }, "Create token"),
  );
  root.append(secret, users, tokens, h("div", { class: "cards" }, newUser, newToken));

  async function load() {
    const [userPage, tokenPage] = await Promise.all([api("/users"), api("/tokens")]);
    fill(users,
      h("h2", null, "Accounts"),
      table(
        [
          { label: "User", value: (u) => u.username },
          { label: "Scope", value: (u) => u.scope },
          { label: "Created", value: (u) => fmtTime(u.created_at) },
          { label: "State", value: (u) => (u.disabled_at ? badge("disabled", "off") : badge("enabled", "ok")) },
          {
            label: "",
            value: (u) =>
              u.disabled_at
                ? null
                : actionButton("Disable", async () => {
                    if (!confirm(`Disable ${u.username} and revoke their tokens?`)) return;
                    await api(`/users/${encodeURIComponent(u.username)}`, { method: "DELETE" });
                    await load();
                  }, { testid: `disable-${u.username}` }),
          },
        ],
        userPage.items,
        { testid: "users-table" },
      ),
    );
    fill(tokens,
      h("h2", null, "API tokens"),
      table(
        [
          { label: "Name", value: (t) => [t.name, t.id === ctx.me.token_id ? [" ", badge("this session", "ok")] : null] },
          { label: "Starts with", value: (t) => h("code", null, `${t.token_prefix}…`) },
          { label: "Account", value: (t) => t.username || "—" },
          { label: "Scope", value: (t) => t.scope },
          { label: "Last used", value: (t) => fmtAgo(t.last_used_at) },
          { label: "Expires", value: (t) => (t.expires_at ? fmtTime(t.expires_at) : "never") },
          {
            label: "",
            value: (t) =>
              t.revoked_at
                ? badge("revoked", "off")
                : actionButton("Revoke", async () => {
                    await api(`/tokens/${t.id}`, { method: "DELETE" });
                    await load();
                  }, { testid: `revoke-${t.name}` }),
          },
        ],
        tokenPage.items.filter((t) => !t.revoked_at || Date.now() - new Date(t.revoked_at) < 7 * 86400000),
        { testid: "tokens-table" },
      ),
    );
  }

  onSubmit(newUser, async (values) => {
    const created = await api("/users", {
      method: "POST",
      body: { username: values.username, scope: values.scope, password: textOrNull(values.password) },
    });
    newUser.reset();
    fill(secret,
      created.password
        ? shownOnce(`Password of ${created.username}`, created.password, "new-password")
        : h("p", { class: "message ok" }, `Account ${created.username} created with the password you chose.`),
    );
    await load();
  });
  onSubmit(newToken, async (values) => {
    const created = await api("/tokens", {
      method: "POST",
      body: {
        name: values.name,
        scope: values.scope,
        expires_days: values.expires_days ? Number(values.expires_days) : null,
      },
    });
    newToken.reset();
    fill(secret, shownOnce(`Token ${created.name} (send it as Authorization: Bearer …)`, created.token, "new-token"));
    showMessage("Token created: copy it now.", "ok");
    await load();
  });
  await load();
}
