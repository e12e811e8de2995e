// Firmware and diagnostics jobs: upload a firmware file, send it to chargers (UpdateFirmware)
// and follow each charger's progress; ask a charger for its diagnostics or a log and download
// the upload. Data: /firmware, /firmware-jobs, /charge-points/{id}/diagnostics, /diagnostics.

import { api, ApiError, apiUrl, fill, fmtTime, h, showError, showMessage, table, UI_HEADER } from "../lib.js";
import { badge, field, input, onSubmit, select, textOrNull } from "../forms.js";

const STATUS_KIND = {
  installed: "ok", uploaded: "ok", downloaded: "ok",
  failed: "bad", no_diagnostics: "warn",
  pending: "off", downloading: "warn", installing: "warn", uploading: "warn",
};

function statusBadge(status) {
  return badge(status, STATUS_KIND[status] || "off");
}

function sizeText(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  if (bytes >= 1048576) return `${(bytes / 1048576).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${bytes} B`;
}

async function upload(file) {
  // The file is the body (POST /firmware?name=FILE): no multipart encoding of a large file.
  const response = await fetch(apiUrl("/firmware", { name: file.name }), {
    method: "POST",
    credentials: "same-origin",
    headers: { [UI_HEADER]: "1", "Content-Type": "application/octet-stream", Accept: "application/json" },
    body: file,
  });
  const payload = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
  if (!response.ok) throw new ApiError(response.status, payload);
  return payload;
}

export async function render(root, ctx) {
  const canOperate = ctx.me && ctx.me.scope !== "read";
  const files = h("div", { class: "card", "data-testid": "firmware-files" });
  const jobs = h("div", { class: "card", "data-testid": "firmware-jobs" });
  const diagnostics = h("div", { class: "card", "data-testid": "diagnostics" });
  const forms = h("div", { class: "cards" });
  root.append(h("h1", null, "Firmware and diagnostics"), jobs, files, diagnostics, forms);

  let chargerIds = [];
  let firmware = [];

  async function load() {
    const [filePage, jobPage, diagPage, chargers] = await Promise.all([
      api("/firmware"),
      api("/firmware-jobs"),
      api("/diagnostics"),
      api("/charge-points", { query: { registration: "registered" } }),
    ]);
    firmware = filePage.items;
    chargerIds = chargers.items.map((c) => c.id);
    fill(files,
      h("h2", null, "Firmware files"),
      table(
        [
          { label: "File", value: (f) => f.name },
          { label: "Size", value: (f) => sizeText(f.size) },
          { label: "SHA-256", value: (f) => h("code", { title: f.sha256 }, `${f.sha256.slice(0, 16)}…`) },
          { label: "Uploaded", value: (f) => fmtTime(f.uploaded_at) },
        ],
        firmware,
        { empty: "No firmware uploaded yet.", testid: "firmware-table" },
      ),
    );
    const names = new Map(firmware.map((f) => [f.id, f.name]));
    fill(jobs,
      h("h2", null, "Firmware jobs"),
      jobPage.items.length
        ? jobPage.items.map((job) =>
            h(
              "div",
              { class: "stack job", "data-testid": `firmware-job-${job.id}` },
              h("div", { class: "card-head" },
                h("strong", null, `#${job.id} ${names.get(job.firmware_file_id) || `file ${job.firmware_file_id}`}`),
                h("span", { class: "muted" }, `${job.kind === "signed_update" ? "signed, " : ""}from ${fmtTime(job.retrieve_date)}${job.expected_version ? `, expects ${job.expected_version}` : ""}`),
              ),
              table(
                [
                  { label: "Charger", value: (c) => h("a", { href: `#/charge-points/${encodeURIComponent(c.charge_point_id)}` }, c.charge_point_id) },
                  { label: "Status", value: (c) => [statusBadge(c.status), c.detail ? h("span", { class: "muted" }, ` ${c.detail}`) : null] },
                  { label: "Firmware", value: (c) => `${c.firmware_before || "?"} → ${c.firmware_after || "…"}` },
                  { label: "Updated", value: (c) => fmtTime(c.updated_at) },
                ],
                job.chargers,
              ),
            ),
          )
        : h("p", { class: "muted" }, "No firmware job yet."),
    );
    fill(diagnostics,
      h("h2", null, "Diagnostics and logs"),
      table(
        [
          { label: "Charger", value: (d) => d.charge_point_id },
          { label: "Kind", value: (d) => d.kind },
          { label: "Status", value: (d) => [statusBadge(d.status), d.detail ? h("span", { class: "muted" }, ` ${d.detail}`) : null] },
          { label: "Requested", value: (d) => fmtTime(d.requested_at) },
          {
            label: "File",
            value: (d) =>
              d.file_name ? h("a", { href: apiUrl(`/diagnostics/${d.id}/file`), download: d.file_name }, `${d.file_name} (${sizeText(d.file_size)})`) : "—",
          },
        ],
        diagPage.items,
        { empty: "No diagnostics requested yet.", testid: "diagnostics-table" },
      ),
    );
  }

  function drawForms() {
    if (!canOperate) {
      fill(forms);
      return;
    }
    const fileInput = h("input", { type: "file", name: "file", required: true, "data-testid": "firmware-file" });
    const uploadForm = h("form", { class: "card stack", "data-testid": "upload-firmware" }, h("h2", null, "Upload firmware"), field("File", fileInput), h("button", { type: "submit" }, "Upload"));
    onSubmit(uploadForm, async () => {
      const file = fileInput.files[0];
      if (!file) throw new Error("Choose a firmware file first.");
      const stored = await upload(file);
      showMessage(`${stored.name} stored (${sizeText(stored.size)}).`, "ok");
      uploadForm.reset();
      await refresh();
    });

    const chargerBoxes = h(
      "div",
      { class: "stack" },
      chargerIds.length
        ? chargerIds.map((id) => h("label", { class: "row" }, h("input", { type: "checkbox", name: `cp:${id}` }), id))
        : h("p", { class: "muted" }, "No registered charger."),
    );
    const jobForm = h(
      "form",
      { class: "card stack", "data-testid": "start-firmware-job" },
      h("h2", null, "Send firmware to chargers"),
      field("Firmware", select("firmware_id", firmware.map((f) => [String(f.id), f.name]))),
      h("div", null, h("span", { class: "muted" }, "Chargers"), chargerBoxes),
      field("or every charger of model", input("model", { placeholder: "e.g. PLUS" })),
      field("Expected firmware version after the update", input("expected_version", { placeholder: "optional" })),
      h("button", { type: "submit", disabled: firmware.length ? null : true }, "Start job"),
    );
    onSubmit(jobForm, async (values) => {
      const ids = Object.entries(values).filter(([k, v]) => k.startsWith("cp:") && v).map(([k]) => k.slice(3));
      const job = await api("/firmware-jobs", {
        method: "POST",
        body: {
          firmware_id: Number(values.firmware_id),
          charge_point_ids: ids.length ? ids : null,
          model: textOrNull(values.model),
          expected_version: textOrNull(values.expected_version),
        },
      });
      showMessage(`Firmware job #${job.id} started for ${job.chargers.length} charger(s).`, "ok");
      await refresh();
    });

    const diagForm = h(
      "form",
      { class: "card stack", "data-testid": "request-diagnostics" },
      h("h2", null, "Ask for diagnostics"),
      field("Charger", select("charge_point_id", chargerIds)),
      field("What", select("log_type", [["", "diagnostics (GetDiagnostics)"], ["DiagnosticsLog", "diagnostics log (GetLog)"], ["SecurityLog", "security log (GetLog)"]])),
      h("button", { type: "submit", disabled: chargerIds.length ? null : true }, "Request"),
    );
    onSubmit(diagForm, async (values) => {
      await api(`/charge-points/${encodeURIComponent(values.charge_point_id)}/diagnostics`, {
        method: "POST",
        body: values.log_type ? { log_type: values.log_type } : {},
      });
      showMessage(`Asked ${values.charge_point_id} for its diagnostics.`, "ok");
      await refresh();
    });
    fill(forms, uploadForm, jobForm, diagForm);
  }

  async function refresh() {
    await load();
    drawForms();
  }

  await refresh();
  // Job progress arrives as FirmwareStatusNotification / DiagnosticsStatusNotification, which
  // publish no event of their own: poll while the page is open.
  const timer = setInterval(() => load().catch(showError), 10000);
  ctx.onCleanup(() => clearInterval(timer));
}
