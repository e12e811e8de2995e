// Log in: POST /api/v1/login opens a cookie session (server/api/web_session.py).
import { api, h, showError, clearMessages } from "../lib.js";
import { whoAmI, navigate } from "../app.js";

export async function render(root, ctx) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h(
    "form",
    { class: "stack card", "data-testid": "login-form" },
    h("h1", null, "Log in to ChargeDeck"),
    h("label", null, h("span", null, "Username"), username),
    h("label", null, h("span", null, "Password"), password),
    submit,
    h(
      "p",
      { class: "muted" },
      "First start? The admin password was printed once on the console of `chargedeck serve`.",
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    clearMessages();
    try {
      await api("/login", { method: "POST", body: { username: username.value, password: password.value } });
      await whoAmI();
      const next = ctx.params.next && ctx.params.next.startsWith("#/") ? ctx.params.next : "#/dashboard";
      navigate(next.startsWith("#/login") ? "#/dashboard" : next);
    } catch (err) {
      showError(err);
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  root.append(form);
}
