// The jobs page: a form built from the API's job schema, the job list, and one job's
// progress, live log and records. Model text only ever reaches the page as text
// (textContent), and a record's picture or a report only inside a sandboxed iframe.

const state = { token: sessionStorage.getItem("synthgen-token") || "", job: null, kind: "accepted", offset: 0,
                pageSize: 20, events: null, timer: null, eventsFor: null };
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    $("#token-form").hidden = false;
    throw new Error("this server needs a token: enter it above");
  }
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}
const getJSON = async (path) => (await api(path)).json();

function banner(message) {
  const b = $("#banner");
  b.textContent = message || "";
  b.hidden = !message;
}

function fmt(n, digits = 0) {
  if (n === null || n === undefined) return "–";
  return Number(n).toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return fmt(s) + " s";
  if (s < 5400) return fmt(s / 60, 1) + " min";
  return fmt(s / 3600, 1) + " h";
}

// -- the form, from the OpenAPI schema -------------------------------------------------------

const FORM_FIELDS = ["recipe", "model", "preset", "count", "name", "provider", "strategy", "selected_repos", "multiplier",
                     "merge_mode", "seed", "batch_size", "max_candidates", "max_gpu_hours", "max_cost", "validate_semantics",
                     "judge_model", "recipe_options"];

function plain(prop) {
  if (prop.anyOf) {
    const kept = prop.anyOf.filter((p) => p.type !== "null");
    return Object.assign({}, prop, kept[0] || {}, { nullable: true });
  }
  return prop;
}

async function buildForm() {
  const [schema, recipes, models] = await Promise.all([getJSON("/openapi.json"), getJSON("/api/recipes"), getJSON("/api/models")]);
  const props = schema.components.schemas.JobRequest.properties;
  const box = $("#job-fields");
  box.replaceChildren();
  for (const name of FORM_FIELDS) {
    const prop = plain(props[name] || {});
    let input;
    if (name === "recipe") {
      input = el("select", { name });
      for (const r of recipes.recipes) input.append(el("option", { value: r.name, text: r.name }));
      input.value = prop.default || "nl2dot";
    } else if (name === "model") {
      input = el("select", { name });
      for (const m of models.models) input.append(el("option", { value: m.alias, text: m.alias + " (" + m.backend + ")" }));
      input.value = prop.default || "";
    } else if (prop.enum) {
      input = el("select", { name });
      if (prop.nullable) input.append(el("option", { value: "", text: "–" }));
      for (const v of prop.enum) input.append(el("option", { value: v, text: v }));
      if (prop.default) input.value = prop.default;
    } else if (prop.type === "boolean") {
      input = el("input", { type: "checkbox", name });
    } else if (prop.type === "integer" || prop.type === "number") {
      input = el("input", { type: "number", name, step: prop.type === "integer" ? "1" : "any" });
      if (prop.minimum !== undefined) input.min = prop.minimum;
      if (prop.maximum !== undefined) input.max = prop.maximum;
      if (prop.default !== undefined && prop.default !== null) input.value = prop.default;
    } else if (prop.type === "object") {
      input = el("textarea", { name, rows: "3", placeholder: '{"domains": "game_ai,robotics"}' });
    } else {
      input = el("input", { type: "text", name, placeholder: prop.type === "array" ? "comma list" : "" });
    }
    input.id = "f-" + name;
    input.dataset.kind = prop.type || "string";
    box.append(el("div", { class: "field" }, el("label", { for: input.id, text: name.replace(/_/g, " ") }), input,
                  el("small", { text: prop.description || "" })));
  }
  const preset = $("#f-preset");
  preset.addEventListener("change", () => { $("#f-count").disabled = preset.value && preset.value !== "custom"; });
}

function formBody() {
  const body = {};
  for (const input of $("#job-fields").querySelectorAll("input, select, textarea")) {
    const name = input.name, kind = input.dataset.kind;
    if (input.disabled) continue;
    if (kind === "boolean") { if (input.checked) body[name] = true; continue; }
    const raw = input.value.trim();
    if (raw === "") continue;
    if (kind === "integer") body[name] = Number.parseInt(raw, 10);
    else if (kind === "number") body[name] = Number(raw);
    else if (kind === "array") body[name] = raw.split(",").map((s) => s.trim()).filter(Boolean);
    else if (kind === "object") {
      try { body[name] = JSON.parse(raw); } catch (e) { throw new Error(name + ": not JSON (" + e.message + ")"); }
    } else body[name] = raw;
  }
  return body;
}

async function submitJob(event) {
  event.preventDefault();
  $("#form-error").textContent = "";
  try {
    const job = await (await api("/api/jobs", { method: "POST", body: JSON.stringify(formBody()) })).json();
    $("#f-name").value = "";  // a name is the run folder's: the next job needs another
    location.hash = "#/jobs/" + job.id;
  } catch (e) {
    $("#form-error").textContent = e.message;
  }
}

// -- the job list ---------------------------------------------------------------------------

function miniBar(p) {
  const fraction = p ? Math.min(1, p.fraction || 0) : 0;
  const inner = el("span");
  inner.style.width = (100 * fraction).toFixed(1) + "%";
  return el("span", { class: "mini" }, inner);
}

async function refreshList() {
  const data = await getJSON("/api/jobs?limit=100");
  const body = $("#jobs tbody");
  body.replaceChildren();
  for (const job of data.jobs) {
    const p = job.progress;
    const row = el("tr", { class: "clickable", "data-job": job.id, onclick: () => { location.hash = "#/jobs/" + job.id; } },
      el("td", { text: job.name }), el("td", { text: job.recipe }), el("td", { text: job.model }),
      el("td", {}, el("span", { class: "status " + job.status, text: job.status })),
      el("td", {}, miniBar(p), " " + (p ? fmt(p.accepted) + " / " + fmt(p.target) : "0 / " + fmt(job.count))),
      el("td", { class: "muted", text: job.created_at.replace("T", " ").slice(0, 19) }));
    body.append(row);
  }
  $("#no-jobs").hidden = data.jobs.length > 0;
}

// -- one job --------------------------------------------------------------------------------

function facts(job) {
  const p = job.progress || {};
  const spend = p.spend || {};
  const rows = [
    ["status", job.status + (job.error ? ": " + job.error : "")],
    ["accepted", p.accepted === undefined ? "–" : fmt(p.accepted) + " of " + fmt(p.target)],
    ["candidates", fmt(p.candidates)],
    ["acceptance", p.acceptance === null || p.acceptance === undefined ? "–" : fmt(100 * p.acceptance, 1) + "%"],
    ["tokens/s (engine)", fmt(p.tokens_per_s)],
    ["records/s", fmt(p.records_per_s, 2)],
    ["ETA", job.status === "running" ? duration(p.eta_s) : "–"],
    ["GPU-hours", fmt(spend.gpu_hours, 4) + (spend.max_gpu_hours ? " of " + fmt(spend.max_gpu_hours, 2) : "")],
    ["USD", fmt(spend.usd, 4) + (spend.max_cost ? " of " + fmt(spend.max_cost, 2) : "")],
    ["command", job.command],
  ];
  return rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: String(v) })));
}

function funnelRows(funnel) {
  if (!funnel) return [el("tr", {}, el("td", { class: "muted", text: "nothing generated yet" }))];
  const rows = [el("tr", {}, el("th", { text: "candidates" }), el("td", { class: "num", text: fmt(funnel.candidates) }))];
  for (const [side, reasons] of [["failed", funnel.failed], ["rejected", funnel.rejected]]) {
    for (const [reason, n] of Object.entries(reasons).sort((a, b) => b[1] - a[1])) {
      rows.push(el("tr", {}, el("th", { text: side + ": " + reason }), el("td", { class: "num", text: "−" + fmt(n) })));
    }
  }
  rows.push(el("tr", {}, el("th", { text: "accepted" }), el("td", { class: "num", text: fmt(funnel.accepted) })));
  return rows;
}

async function refreshJob() {
  if (!state.job) return;
  const job = await getJSON("/api/jobs/" + state.job);
  $("#job-title").textContent = job.name + " · " + job.recipe + " · " + job.model;
  const status = $("#job-status");
  status.textContent = job.status;
  status.className = "status " + job.status;
  const p = job.progress || {};
  $("#job-bar").style.width = (100 * Math.min(1, p.fraction || 0)).toFixed(1) + "%";
  $("#job-facts tbody").replaceChildren(...facts(job));
  $("#funnel tbody").replaceChildren(...funnelRows(p.funnel));
  $("#cells tbody").replaceChildren(...(p.cells || []).map((c) => el("tr", {}, el("td", { text: c.cell }),
    el("td", { class: "num", text: fmt(c.accepted) }), el("td", { class: "num", text: fmt(c.target) }),
    el("td", {}, miniBar({ fraction: c.target ? c.accepted / c.target : 0 })))));
  $("#cancel").disabled = !["queued", "running"].includes(job.status);
  $("#resume").disabled = !job.resumable;
  $("#open-report").disabled = $("#export").disabled = !job.progress;
  return job;
}

async function followEvents(jobId) {
  if (state.eventsFor === jobId) return;
  if (state.events) state.events.abort();
  state.eventsFor = jobId;
  const controller = new AbortController();
  state.events = controller;
  const log = $("#log");
  log.textContent = "";
  let after = 0;
  while (!controller.signal.aborted) {
    try {
      const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
      const response = await fetch("/api/jobs/" + jobId + "/events?after=" + after, { headers, signal: controller.signal });
      if (!response.ok) throw new Error("events: " + response.status);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const fields = {};
          for (const line of block.split("\n")) {
            const i = line.indexOf(":");
            if (i > 0) fields[line.slice(0, i)] = line.slice(i + 1).trimStart();
          }
          if (fields.id) after = Number(fields.id);
          if (fields.event === "end") { appendLog(log, "— job " + JSON.parse(fields.data).status + " —"); return; }
          if (fields.data) appendLog(log, describeEvent(fields.event, fields.data));
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function describeEvent(name, data) {
  try {
    const e = JSON.parse(data);
    const time = (e.ts || "").slice(11, 19);
    const rest = Object.entries(e).filter(([k]) => k !== "ts" && k !== "event").map(([k, v]) => k + "=" + JSON.stringify(v)).join(" ");
    return time + " " + name + " " + rest;
  } catch (err) {
    return data;
  }
}

function appendLog(log, line) {
  log.append(line + "\n");
  while (log.childNodes.length > 400) log.removeChild(log.firstChild);
  log.scrollTop = log.scrollHeight;
}

function recordText(r) {
  return r.request || r.task || r.detail || (r.prompt ? JSON.stringify(r.prompt).slice(0, 200) : "") || JSON.stringify(r).slice(0, 200);
}

async function refreshRecords() {
  const q = "kind=" + state.kind + "&offset=" + state.offset + "&limit=" + state.pageSize;
  const page = await getJSON("/api/jobs/" + state.job + "/records?" + q);
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.kind === state.kind);
  const body = $("#records tbody");
  body.replaceChildren(...page.records.map((r, i) => {
    const index = state.offset + i;
    const cell = [r.domain, r.complexity || r.complexity_requested, r.repository, r.kind].filter(Boolean).join("/");
    return el("tr", { class: "clickable", "data-index": String(index), onclick: () => openRecord(state.kind, index) },
      el("td", { class: "num", text: String(index + 1) }), el("td", { text: cell }),
      el("td", { text: String(recordText(r)).slice(0, 160) }), el("td", { text: r.reason || "" }));
  }));
  $("#prev-page").disabled = state.offset === 0;
  $("#next-page").disabled = page.next_offset === null;
  $("#page-info").textContent = page.records.length ? "records " + (state.offset + 1) + "–" + (state.offset + page.records.length) : "none";
}

async function openRecord(kind, index) {
  const data = await getJSON("/api/jobs/" + state.job + "/records/" + kind + "/" + index);
  $("#record").hidden = false;
  $("#record-title").textContent = kind + " record " + (index + 1);
  // The recipe's picture is escaped HTML (an <img> of the graph); a sandboxed frame runs nothing even if it were not.
  const fit = "<style>img { max-width: 100%; height: auto; }</style>";
  $("#record-preview").srcdoc = fit + (data.preview_html || "<p>no picture</p>");
  $("#record-json").textContent = JSON.stringify(data.record, null, 2);
}

async function openReport() {
  const html = await (await api("/api/jobs/" + state.job + "/report")).text();
  $("#report-title").hidden = false;
  const frame = $("#report");
  frame.hidden = false;
  frame.srcdoc = html;
}

async function exportJob() {
  const format = $("#export-format").value;
  const result = await (await api("/api/jobs/" + state.job + "/export", { method: "POST", body: JSON.stringify({ format }) })).json();
  const box = $("#export-files");
  box.replaceChildren(el("p", { text: result.summary }));
  const list = el("ul");
  for (const f of result.files) {
    list.append(el("li", {}, el("a", { href: "#", text: f.name, onclick: (e) => { e.preventDefault(); download(f.url, f.name); } })));
  }
  box.append(list);
}

async function download(url, name) {
  const blob = await (await api(url)).blob();
  const link = el("a", { href: URL.createObjectURL(blob), download: name.split("/").pop() });
  document.body.append(link);
  link.click();
  link.remove();
}

async function action(fn) {
  $("#job-error").textContent = "";
  try { await fn(); await refreshJob(); } catch (e) { $("#job-error").textContent = e.message; }
}

// -- routing and polling ----------------------------------------------------------------------

async function route() {
  const match = location.hash.match(/^#\/jobs\/([0-9a-f]{1,64})$/);
  state.job = match ? match[1] : null;
  $("#list-view").hidden = !!state.job;
  $("#job-view").hidden = !state.job;
  if (state.job) {
    state.offset = 0;
    $("#record").hidden = true;
    $("#report").hidden = $("#report-title").hidden = true;
    $("#export-files").replaceChildren();
    await refreshJob();
    followEvents(state.job);
    await refreshRecords();
  } else {
    if (state.events) { state.events.abort(); state.events = null; state.eventsFor = null; }
    await refreshList();
  }
}

async function poll() {
  try {
    if (state.job) {
      const job = await refreshJob();
      if (job && ["running", "queued"].includes(job.status)) await refreshRecords();
    } else {
      await refreshList();
    }
    banner("");
  } catch (e) {
    banner(e.message);
  }
}

async function start() {
  $("#token").value = state.token;
  $("#token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    state.token = $("#token").value.trim();
    sessionStorage.setItem("synthgen-token", state.token);
    $("#token-form").hidden = true;
    await init();
  });
  $("#job-form").addEventListener("submit", submitJob);
  $("#cancel").addEventListener("click", () => action(() => api("/api/jobs/" + state.job + "/cancel", { method: "POST" })));
  $("#resume").addEventListener("click", () => action(async () => {
    await api("/api/jobs/" + state.job + "/resume", { method: "POST" });
    state.eventsFor = null;
    followEvents(state.job);
  }));
  $("#open-report").addEventListener("click", () => action(openReport));
  $("#export").addEventListener("click", () => action(exportJob));
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => { state.kind = tab.dataset.kind; state.offset = 0; refreshRecords().catch((e) => banner(e.message)); });
  }
  $("#prev-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.pageSize); refreshRecords(); });
  $("#next-page").addEventListener("click", () => { state.offset += state.pageSize; refreshRecords(); });
  window.addEventListener("hashchange", () => route().catch((e) => banner(e.message)));
  await init();
  state.timer = setInterval(poll, 1000);
}

async function init() {
  try {
    const health = await getJSON("/api/health");
    $("#server").textContent = "synthgen " + health.version + " · " + health.max_jobs + " job(s) at once";
    await buildForm();
    await route();
    banner("");
  } catch (e) {
    banner(e.message);
  }
}

start();
