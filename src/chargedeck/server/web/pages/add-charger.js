// The add-a-charger assistant: the owner's first five minutes.
// 1. register the charger with a generated password (POST /charge-points);
// 2. show exactly what to type into the Wallbox app (GET /setup/charger-url), with the CA root
//    certificate for Security Profile 2;
// 3. wait live for the charger: connected, booted, or the precise reason it was refused with
//    what to change (connection.rejected events + GET /rejections for the remedy).
// Chargers that connected unannounced are listed for adoption below.
import { api, fill, apiUrl, h, table, showError, showMessage, fmtAgo } from "../lib.js";

const WALLBOX_PATH = "Wallbox app → your charger → Settings (cogwheel) → External Management → OCPP";

function copyable(label, value, testid) {
  const code = h("code", { "data-testid": testid }, value);
  const button = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(value);
          showMessage(`${label} copied.`, "ok");
        } catch {
          const range = document.createRange();
          range.selectNodeContents(code);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          showMessage(`${label} selected: copy it with Ctrl+C.`, "info");
        }
      },
    },
    "Copy",
  );
  return h("div", null, h("span", { class: "muted" }, label), h("div", { class: "value" }, code, button));
}

export async function render(root, ctx) {
  const urls = await api("/setup/charger-url");
  const idInput = h("input", { name: "charge_point_id", required: true, maxlength: 48, placeholder: "e.g. wallbox-garage or the serial number", "data-testid": "cp-id" });
  const profile = h(
    "select",
    { name: "security_profile", "data-testid": "profile" },
    h("option", { value: "1" }, "1 – password over ws:// (home LAN)"),
    h("option", { value: "2", disabled: !urls.tls_enabled }, urls.tls_enabled ? "2 – TLS (wss://) and password" : "2 – TLS (configure TLS first: chargedeck certs init)"),
  );
  const create = h("button", { type: "submit", "data-testid": "create" }, "Create charger and password");
  const form = h(
    "form",
    { class: "card stack", "data-testid": "assistant-form" },
    h("h2", null, "1. Name the charger"),
    h("p", { class: "muted" }, "Choose the Charge Point ID the charger will use (1 to 48 characters, no “/”). ChargeDeck generates its password."),
    h("label", null, h("span", null, "Charge Point ID"), idInput),
    h("label", null, h("span", null, "Security profile"), profile),
    create,
  );
  const typeThis = h("section", { class: "card", hidden: true, "data-testid": "type-this" });
  const waiting = h("section", { class: "card", hidden: true, "data-testid": "waiting-card" });
  const inboxBox = h("section", { class: "card", "data-testid": "assistant-inbox" });
  root.append(h("h1", null, "Add a charger"), form, typeThis, waiting, inboxBox);

  let chargePointId = null;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    create.disabled = true;
    const id = idInput.value.trim();
    const securityProfile = Number(profile.value);
    try {
      const created = await api("/charge-points", {
        method: "POST",
        body: { id, generate_password: true, security_profile: securityProfile },
      });
      const detail = await api("/setup/charger-url", { query: { charge_point_id: created.id } });
      showInstructions(created.id, created.password, securityProfile, detail);
      startWaiting(created.id);
      form.hidden = true;
    } catch (err) {
      showError(err);
    } finally {
      create.disabled = false;
    }
  });

  function showInstructions(id, password, securityProfile, detail) {
    const url = securityProfile >= 2 ? detail.wss_url : detail.ws_url;
    typeThis.hidden = false;
    fill(typeThis, 
      h("h2", null, "2. Type this into the Wallbox app"),
      h("p", { class: "muted" }, WALLBOX_PATH, ". If ChargeDeck is not in the provider list, type the URL by hand."),
      h(
        "div",
        { class: "type-this" },
        copyable("URL (CSMS URL)", url, "csms-url"),
        copyable("Charge Point ID", id, "charge-point-id"),
        copyable("Password", password, "password"),
      ),
      h("p", { class: "muted" }, "The password is shown only now. The charger adds its ID to the URL itself and restarts after you save."),
      detail.warning ? h("p", { class: "remedy", "data-testid": "url-warning" }, detail.warning) : null,
      detail.host_source === "lan_address"
        ? h("p", { class: "muted" }, `${detail.host} is this machine's LAN address. If the charger reaches it by another name, set public_host.`)
        : null,
      securityProfile >= 2
        ? h(
            "div",
            { class: "stack" },
            h("h3", null, "CA root certificate (Security Profile 2)"),
            h("p", null, "Connect to the charger by Bluetooth in the Wallbox app and upload this certificate, so it trusts ChargeDeck's TLS certificate."),
            h("a", { class: "button secondary", href: apiUrl("/tls/ca.pem"), download: "chargedeck-ca.pem", "data-testid": "ca-download" }, "Download CA certificate"),
          )
        : null,
    );
  }

  const state = h("p", { class: "state wait", "data-testid": "assistant-state" });
  const reasonBox = h("div", { "data-testid": "assistant-reason" });
  const history = h("ul", { class: "timeline muted" });

  function setState(kind, text) {
    state.className = `state ${kind}`;
    state.textContent = text;
  }

  function note(text) {
    history.prepend(h("li", null, `${new Date().toLocaleTimeString()} ${text}`));
  }

  async function showRefusal(event) {
    setState("bad", `Refused: ${event.reason.replaceAll("_", " ")}`);
    note(`refused from ${event.remote_host}: ${event.reason}`);
    let remedy = null;
    try {
      const found = await api("/rejections", { query: { charge_point_id: event.charge_point_id, limit: 5 } });
      remedy = found.items.find((r) => r.reason === event.reason) || null;
    } catch (err) {
      showError(err);
    }
    fill(reasonBox, 
      h(
        "div",
        { class: "remedy stack" },
        h("p", null, event.detail),
        remedy ? h("p", null, h("strong", null, "What to change: "), remedy.remedy) : null,
        remedy ? h("p", { class: "muted" }, `The charger's app shows “${remedy.charger_shows}”.`) : null,
      ),
    );
  }

  function startWaiting(id) {
    chargePointId = id;
    waiting.hidden = false;
    setState("wait", `Waiting for ${id} to connect… (the charger restarts after saving: allow a minute)`);
    fill(waiting, h("h2", null, "3. Waiting for the charger"), state, reasonBox, history);
    const mine = (event) => event.charge_point_id === id;
    ctx.on("connection.rejected", (event) => {
      if (mine(event)) {
        showRefusal(event);
      } else if (event.reason === "unknown_charge_point") {
        // Most often the owner's charger with a mistyped Charge Point ID.
        note(`a charger from ${event.remote_host} tried the unknown ID “${event.charge_point_id}”: if it is this one, type the Charge Point ID “${id}” exactly`);
      }
    });
    ctx.on("charger.connected", (event) => {
      if (!mine(event)) return;
      fill(reasonBox);
      setState("ok", `Connected from ${event.remote_address} (security profile ${event.security_profile}); waiting for its BootNotification…`);
      note("connected");
    });
    ctx.on("charger.booted", (event) => {
      if (!mine(event)) return;
      setState(event.status === "Accepted" ? "ok" : "wait", `Connected: ${[event.vendor, event.model].filter(Boolean).join(" ")} booted (${event.status}).`);
      note(`booted: ${event.status}`);
      fill(reasonBox, h("p", null, h("a", { href: `#/charge-points/${encodeURIComponent(id)}`, class: "button" }, "Open the charger page")));
    });
    ctx.on("charger.disconnected", (event) => {
      if (!mine(event)) return;
      setState("wait", `Disconnected (${event.reason || "closed"}); waiting for it to come back…`);
      note("disconnected");
    });
    // Without the live stream, ask the API every few seconds instead.
    ctx.refreshOn([], async () => {
      try {
        const cp = await api(`/charge-points/${encodeURIComponent(id)}`);
        if (cp.connection && cp.connection.connected) {
          setState("ok", `Connected from ${cp.connection.remote_address} (security profile ${cp.connection.security_profile}).`);
          return;
        }
        const found = await api("/rejections", { query: { charge_point_id: id, limit: 1 } });
        if (found.items.length) {
          const r = found.items[0];
          setState("bad", `Refused: ${r.reason.replaceAll("_", " ")}`);
          fill(reasonBox, h("div", { class: "remedy stack" }, h("p", null, r.detail), h("p", null, h("strong", null, "What to change: "), r.remedy)));
        }
      } catch (err) {
        showError(err);
      }
    }, { everyMs: 3000 });
  }

  async function loadInbox() {
    try {
      const inbox = await api("/inbox");
      fill(inboxBox, 
        h("h2", null, "Chargers that connected unannounced"),
        h("p", { class: "muted" }, "A charger whose ID ChargeDeck did not know waits here. Adopt it if it is yours; it is accepted at its next boot."),
        table(
          [
            { label: "Charge Point ID", value: (c) => h("code", null, c.id) },
            { label: "Model", value: (c) => [c.vendor, c.model].filter(Boolean).join(" ") || "—" },
            { label: "First seen", value: (c) => fmtAgo(c.first_seen_at) },
            { label: "", value: (c) => h("button", { type: "button", "data-testid": `adopt-${c.id}`, onclick: (e) => adopt(c.id, e.target) }, "Adopt") },
          ],
          inbox.items,
          { empty: "None waiting.", testid: "assistant-inbox-table" },
        ),
      );
    } catch (err) {
      showError(err);
    }
  }

  async function adopt(id, button) {
    button.disabled = true;
    try {
      await api(`/charge-points/${encodeURIComponent(id)}/adopt`, { method: "POST" });
      showMessage(`${id} adopted.`, "ok");
      if (!chargePointId) startWaiting(id);
      await loadInbox();
    } catch (err) {
      showError(err);
      button.disabled = false;
    }
  }

  ctx.refreshOn(["charger.booted", "charger.connected"], loadInbox, { everyMs: 5000, filter: (e) => e.charge_point_id !== chargePointId });
  if (ctx.params.id) idInput.value = ctx.params.id;
  await loadInbox();
}
