// hookline dashboard: polls the JSON API, draws the chart in SVG. No framework, no build step.
// The session is an HttpOnly cookie this script never sees; POSTs add the non-secret x-hookline-csrf header.
"use strict";
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let identity = "";
let timer = null;
let current = null;      // the deployment page's last view
let lastAnnounce = "";

function el(tag, attrs = {}, ...children) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
const clock = (s) => new Date(s * 1000).toISOString().slice(11, 19);
function age(s) {
  const d = Math.max(0, Math.floor(Date.now() / 1000 - s));
  if (d < 60) return d + "s"; if (d < 3600) return Math.floor(d / 60) + "m";
  if (d < 86400) return Math.floor(d / 3600) + "h"; return Math.floor(d / 86400) + "d";
}
const weights = (w) => (w ? `${w.blue}% / ${w.green}%` : "–");
function announce(text) { if (text !== lastAnnounce) { lastAnnounce = text; $("live").textContent = text; } }
function showError(msg) { const e = $("error"); e.hidden = !msg; e.textContent = msg || ""; }

async function api(path, opts = {}) {
  const r = await fetch(path, opts);
  let body = null;
  try { body = await r.json(); } catch (_) { body = { error: `HTTP ${r.status}` }; }
  if (!r.ok) throw new Error(body && body.error ? body.error : `HTTP ${r.status}`);
  return body;
}
async function act(path, payload) {
  return api(path, { method: "POST", headers: { "content-type": "application/json", "x-hookline-csrf": "1" },
    body: JSON.stringify(payload || {}) });
}

// ---------------------------------------------------------------- theme
const THEMES = ["auto", "light", "dark"];
function applyTheme(t) {
  if (t === "auto") delete document.documentElement.dataset.theme; else document.documentElement.dataset.theme = t;
  $("theme").textContent = "Theme: " + t;
  $("theme").setAttribute("aria-pressed", String(t !== "auto"));
}
$("theme").addEventListener("click", () => {
  const now = localStorage.getItem("hookline-theme") || "auto";
  const next = THEMES[(THEMES.indexOf(now) + 1) % THEMES.length];
  localStorage.setItem("hookline-theme", next);
  applyTheme(next);
});
applyTheme(localStorage.getItem("hookline-theme") || "auto");

// ---------------------------------------------------------------- list
// A deployment's page: `#/d/<id>`, the id URI-encoded (an ECS service deployment ARN has `/` and `:`).
const deploymentHash = (id) => `#/d/${encodeURIComponent(id)}`;
async function refreshList() {
  const rows = await api("/api/deployments");
  const tbody = $("deployments").querySelector("tbody");
  tbody.replaceChildren(...rows.map((r) => el("tr", { "data-deployment": r.deployment_id },
    el("td", {}, el("a", { href: deploymentHash(r.deployment_id), text: r.deployment_id })),
    el("td", { text: `${r.application} / ${r.deployment_group}` }),
    el("td", {}, el("span", { class: `badge ${r.status}`, text: r.status + (r.waiting_for_approval ? " · approval" : "") })),
    el("td", { text: r.step || "–" }),
    el("td", { class: "weights", text: weights(r.weights) }),
    el("td", { text: r.created ? age(r.created) : "–", title: r.created ? new Date(r.created * 1000).toISOString() : "" }),
  )));
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: 6, text: "No deployments." })));
  const running = rows.filter((r) => !r.terminal).length;
  announce(`${rows.length} deployments, ${running} running`);
}

// ---------------------------------------------------------------- chart
function drawChart(v) {
  const box = $("chart");
  const W = Math.max(box.clientWidth || 700, 320), H = 260, L = 40, R = 12, T = 12, B = 28;
  const samples = v.samples.map((s) => ({ t: s.at_ms / 1000, blue: s.blue, green: s.green }));
  const times = samples.map((s) => s.t).concat(v.marks.map((m) => m.at));
  let t0 = times.length ? Math.min(...times) : v.now - 60;
  let t1 = Math.max(v.now, ...(times.length ? times : [v.now]));
  t1 = t0 + Math.max(20, (t1 - t0) * 1.1);   // a little room on the right for what comes next
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (p) => T + (1 - p / 100) * (H - T - B);
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, "aria-hidden": "true", focusable: "false" });
  for (const p of [0, 25, 50, 75, 100]) {
    svg.append(el("svg:line", { class: "axis", x1: L, x2: W - R, y1: y(p), y2: y(p) }));
    svg.append(el("svg:text", { x: 4, y: y(p) + 4, text: p + "%" }));
  }
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const t = t0 + ((t1 - t0) * i) / ticks;
    const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle";
    svg.append(el("svg:text", { x: x(t), y: H - 8, "text-anchor": anchor, text: clock(t) }));
  }
  const marks = el("svg:g", { class: "marks" });
  for (const m of v.marks) {
    const kind = m.kind === "health" && m.healthy === false ? "alarm" : m.kind;
    const line = el("svg:line", { class: `mark m-${kind}`, x1: x(m.at), x2: x(m.at), y1: T, y2: H - B, "data-kind": kind });
    line.append(el("svg:title", { text: `${clock(m.at)} ${m.label}` }));
    marks.append(line);
  }
  svg.append(marks);
  for (const side of ["blue", "green"]) {
    if (!samples.length) continue;
    let d = `M${x(samples[0].t)},${y(samples[0][side])}`;
    for (let i = 1; i < samples.length; i++) d += ` H${x(samples[i].t)} V${y(samples[i][side])}`;
    d += ` H${x(Math.max(samples[samples.length - 1].t, Math.min(v.now, t1)))}`;   // up to now, not beyond
    svg.append(el("svg:path", { class: side, d }));
  }
  // Before this server's first reading: the weights the history says the canary set (dashed).
  const firstRead = samples.length ? samples[0].t : t1;
  const told = v.marks.filter((m) => m.green !== null && m.green !== undefined && m.at < firstRead);
  if (told.length) {
    for (const side of ["blue", "green"]) {
      const val = (m) => (side === "green" ? m.green : 100 - m.green);
      let d = `M${x(told[0].at)},${y(val(told[0]))}`;
      for (let i = 1; i < told.length; i++) d += ` H${x(told[i].at)} V${y(val(told[i]))}`;
      d += ` H${x(firstRead)}`;
      const p = el("svg:path", { class: `${side} from-history`, d });
      p.append(el("svg:title", { text: "from the execution history (before this dashboard read the listener)" }));
      svg.append(p);
    }
  }
  const pts = el("svg:g", { class: "points" });
  for (const s of samples) {
    const c = el("svg:circle", { class: "pt-green", cx: x(s.t), cy: y(s.green), r: 2.5,
      "data-at": Math.round(s.t * 1000), "data-blue": s.blue, "data-green": s.green });
    c.append(el("svg:title", { text: `${clock(s.t)} blue ${s.blue}% / green ${s.green}%` }));
    pts.append(c);
  }
  svg.append(pts);
  box.replaceChildren(svg);
  const w = v.status.weights;
  box.setAttribute("aria-label", `Production weights chart, ${samples.length} readings` +
    (w ? `; now blue ${w.blue}%, green ${w.green}%` : ""));
}

// ---------------------------------------------------------------- deployment page
function renderDetail(v) {
  current = v;
  const s = v.status;
  $("detail-title").textContent = `Deployment ${s.deployment_id}`;
  $("crumbs").replaceChildren(el("a", { href: "#/", text: "Deployments" }), document.createTextNode(` › ${s.deployment_id}`));
  const step = s.step ? `step ${s.step.index + 1}${s.step.step_count ? "/" + s.step.step_count : ""}` : "no step yet";
  const summary = $("summary");
  summary.replaceChildren(
    el("span", { class: `badge ${s.status}`, id: "status-badge", text: s.status }),
    document.createTextNode(`  ${s.application || "?"} / ${s.deployment_group || "?"} · ${step} · weights `),
    el("strong", { id: "weights-now", text: s.weights ? `blue ${s.weights.blue}% / green ${s.weights.green}%` : (s.weights_error || "unknown") }),
    document.createTextNode(s.created ? ` · started ${age(s.created)} ago` : ""),
    document.createTextNode(s.error ? ` · ${s.error}` : ""),
  );
  drawChart(v);

  const plan = $("plan");
  if (v.plan) {
    plan.replaceChildren(...v.plan.steps.map((st) => {
      const cls = v.plan.current === st.index ? "current" : (s.step && st.index < s.step.steps_done ? "done" : "");
      const li = el("li", { class: cls, text: `${st.describe} (by +${Math.round(st.ends_by)}s)` });
      if (cls === "current") li.setAttribute("aria-current", "step");
      return li;
    }));
    $("worst").textContent = v.plan.worst_case_end
      ? `Worst-case end of the canary: ${new Date(v.plan.worst_case_end * 1000).toISOString().replace("T", " ").slice(0, 19)}Z` +
        ` (hook budget ${v.plan.hook_budget_seconds}s; then bake ${v.plan.post_traffic_bake_seconds}s under full traffic)`
      : "";
  } else {
    plan.replaceChildren(el("li", { text: "No canary execution yet: the plan shows once the BeforeAllowTraffic hook starts it." }));
    $("worst").textContent = "";
  }
  $("timeline").replaceChildren(...v.marks.slice().reverse().map((m) =>
    el("li", { class: `k-${m.kind}` }, el("time", { text: clock(m.at) }), document.createTextNode(m.label))));

  const p = s.pending_approval;
  // An ECS PAUSE hook awaiting action: approve / reject answer it (ContinueServiceDeployment).
  const pause = s.controller_pause;
  $("approval-state").textContent = p
    ? `Waiting since ${clock(p.since)}${p.step_index !== null && p.step_index !== undefined ? ` (step ${p.step_index + 1})` : ""}` +
      (p.timeout_seconds ? `, times out after ${p.timeout_seconds}s` : "")
    : pause
      ? `ECS pause hook ${pause.hook_id} waiting${pause.stage ? ` at ${pause.stage}` : ""}` +
        (pause.expires_at ? `, times out at ${clock(pause.expires_at)}` : "") +
        (pause.timeout_action ? ` (then ${pause.timeout_action})` : "")
      : "No approval waiting.";
  $("approve").disabled = !p && !pause; $("reject").disabled = !p && !pause;
  $("rollback").disabled = v.terminal;
  $("decisions").replaceChildren(...s.approvals.map((d) => el("li", {
    text: `${clock(d.at)} step ${d.step_index !== null ? d.step_index + 1 : "?"}: ${d.outcome}` +
      (d.by ? ` by ${d.by}` : "") + (d.reason ? ` (${d.reason})` : "") })));

  const h = s.health;
  $("health").textContent = h ? `${h.summary} at ${clock(h.at)} [${h.state}]` : "No verdict yet.";
  $("checks").replaceChildren(...v.checks.map((c) => el("li", { class: c.ok ? "good" : "bad",
    text: `${c.name || "check"}: ${c.ok ? "ok" : (c.reason || "failed")}` })));
  announce(`${s.deployment_id} ${s.status}, ${step}, ${s.weights ? `blue ${s.weights.blue}% green ${s.weights.green}%` : ""}` +
    (p || pause ? ", approval waiting" : ""));
}

// The page asks every second; under load an answer can come after a newer one (the approval
// waiting, then an older "nothing waiting" drawn over it): only the newest answer is drawn.
let detailAsked = 0, detailDrawn = 0;
async function refreshDetail(id) {
  const asked = ++detailAsked;
  const v = await api(`/api/deployments/${encodeURIComponent(id)}`);
  if (asked < detailDrawn) return;
  detailDrawn = asked;
  renderDetail(v);
}

// ---------------------------------------------------------------- actions with confirmation
function confirmAction(text, withReason) {
  return new Promise((resolve) => {
    const dlg = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-who").textContent = identity || "(unknown identity)";
    $("reason-row").hidden = !withReason;
    $("reason").value = "";
    const done = (ok) => { dlg.close(); resolve(ok ? { reason: $("reason").value } : null); };
    $("confirm-form").onsubmit = (e) => { e.preventDefault(); done(true); };
    $("confirm-cancel").onclick = () => done(false);
    dlg.oncancel = () => resolve(null);
    dlg.showModal();
    (withReason ? $("reason") : $("confirm-cancel")).focus();
  });
}
async function run(kind, text, withReason) {
  const id = current && current.status.deployment_id;
  if (!id) return;
  const answer = await confirmAction(text, withReason);
  if (!answer) { $("result").textContent = "Cancelled."; return; }
  $("result").textContent = "Working…";
  try {
    const r = await act(`/api/deployments/${encodeURIComponent(id)}/${kind}`, answer.reason ? { reason: answer.reason } : {});
    $("result").textContent = `${r.message} — acted as ${r.by}`;
    showError("");
  } catch (e) {
    $("result").textContent = "";
    showError(`${kind} failed: ${e.message}`);
  }
  refreshDetail(id).catch((e) => showError(e.message));
}
// An ECS PAUSE hook (no approval of hookline's waiting) is answered with ContinueServiceDeployment.
const pauseOnly = () => current && !current.status.pending_approval && current.status.controller_pause;
$("approve").addEventListener("click", () => run("approve", pauseOnly()
  ? `Continue the deployment held by ECS pause hook ${pauseOnly().hook_id}? ECS goes on with it (ContinueServiceDeployment CONTINUE).`
  : "Approve the waiting step? The canary goes on to the next step.", false));
$("reject").addEventListener("click", () => run("reject", pauseOnly()
  ? `Roll back the deployment held by ECS pause hook ${pauseOnly().hook_id}? ECS rolls it back (ContinueServiceDeployment ROLLBACK).`
  : "Reject the waiting step? The canary rolls back to blue 100%.", true));
$("rollback").addEventListener("click", () => run("rollback",
  "Roll back this deployment? Production goes back to blue 100% and the deployment stops.", true));

// ---------------------------------------------------------------- routing and polling
function route() {
  clearInterval(timer);
  // Any controller's id (d-..., an ECS service deployment ARN, dns-...): the server checks it (400 naming it).
  const m = location.hash.match(/^#\/d\/(.+)$/);
  let id = null;
  if (m) { try { id = decodeURIComponent(m[1]); } catch (_) { id = m[1]; } }
  $("list-view").hidden = !!m; $("detail-view").hidden = !m;
  $("result").textContent = "";
  const tick = async () => {
    try { if (m) await refreshDetail(id); else await refreshList(); showError(""); }
    catch (e) { showError(e.message); }
  };
  if (!m) { $("crumbs").textContent = ""; current = null; }
  tick();
  timer = setInterval(tick, m ? 1000 : 2000);
  $("main").focus({ preventScroll: true });
}
window.addEventListener("hashchange", route);
api("/api/identity").then((r) => { identity = r.caller; $("identity").textContent = "acting as " + r.caller; })
  .catch((e) => { $("identity").textContent = "identity unknown: " + e.message; });
route();
