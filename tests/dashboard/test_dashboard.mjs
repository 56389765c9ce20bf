// `hookline dashboard` in a real browser (headless Chromium from @sparticuz/chromium, driven by puppeteer-core)
// against the sandbox. Run by `make check-dashboard` (node --test). The test starts what it needs: the sandbox
// through driver.py (tests/sandbox/up.sh when it is not up; SANDBOX_* env picks the ports) and the dashboard on a
// free port, and stops both at the end. Every outcome is checked through AWS APIs (driver.py: ELBv2, CodeDeploy).
// The browser signs in the way an operator does: it opens the link the dashboard printed (/login?secret=...).
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import chromium from "@sparticuz/chromium";
import puppeteer from "puppeteer-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const BIN = path.join(ROOT, "target", "debug", "hookline");
const SHOTS = path.join(ROOT, "docs", "dashboard");
const CALLER = "arn:aws:iam::123456789012:user/sandbox-operator";

const plan = (steps, interval = "1s") => ({ steps, health: { interval, alarms: ["web-5xx"], ready_timeout: "1m" },
  post_traffic: { bake: "1s" }, hook_budget: "10m" });
const W = (weight, bake) => (bake ? { weight, bake } : { weight });
const APPROVAL = { approval: { timeout: "2m" } };

let driver, driverLines, dashboard, url, signIn, secret, browser, page;

function startDriver() {
  const py = path.join(ROOT, ".venv", "bin", "python");
  driver = spawn(py, [path.join(HERE, "driver.py")], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  const rl = createInterface({ input: driver.stdout });
  const waiting = [];
  rl.on("line", (line) => { const w = waiting.shift(); if (w) w(JSON.parse(line)); });
  driverLines = waiting;
  driver.on("exit", (code) => { for (const w of waiting.splice(0)) w({ ok: false, error: `driver exited ${code}` }); });
}
function call(cmd) {
  return new Promise((resolve, reject) => {
    driverLines.push((r) => (r.ok ? resolve(r) : reject(new Error(`driver ${cmd.cmd}: ${r.error}`))));
    driver.stdin.write(JSON.stringify(cmd) + "\n");
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(pred, what, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await pred();
    if (last) return last;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// A request with headers fetch() would not send (a foreign Host), straight to the dashboard's port. One
// connection each (agent: false): a refusal answers before reading a body, and a kept-alive connection would
// hand the unread rest to the next request.
function raw(method, p, headers, body) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers, agent: false }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => { data += c; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

before(async () => {
  startDriver();
  const up = await call({ cmd: "up" });
  dashboard = spawn(BIN, ["dashboard", "--port", "0"], { cwd: ROOT, env: { ...process.env, ...up.env },
    stdio: ["ignore", "pipe", "inherit"] });
  [signIn, url, secret] = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: dashboard.stdout });
    rl.on("line", (l) => {
      const m = l.match(/open ((http:\/\/127\.0\.0\.1:\d+\/)login\?secret=([0-9a-f]{64}))/);
      if (m) resolve([m[1], m[2], m[3]]);
    });
    dashboard.on("exit", (code) => reject(new Error(`hookline dashboard exited ${code}`)));
  });
  browser = await puppeteer.launch({ args: chromium.args, executablePath: await chromium.executablePath(),
    headless: true, defaultViewport: { width: 1366, height: 860 } });
  page = await browser.newPage();
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
  mkdirSync(SHOTS, { recursive: true });
  // Before signing in, the browser gets the sign-in page: no script, no secret, no data.
  await page.goto(url, { waitUntil: "domcontentloaded" });
  assert.match(await page.$eval("h1", (e) => e.textContent), /sign-in link/);
  assert.equal(await page.$("script"), null);
  // Open the printed link, as the operator does: it lands on / with the secret gone from the address bar.
  await page.goto(signIn, { waitUntil: "domcontentloaded" });
  assert.equal(page.url(), url);
  await page.waitForSelector("#list-view:not([hidden])");
});

after(async () => {
  if (browser) await browser.close();
  if (dashboard && dashboard.exitCode === null) dashboard.kill("SIGINT");
  if (driver) {
    driver.stdin.write(JSON.stringify({ cmd: "quit" }) + "\n");
    await new Promise((r) => driver.on("exit", r));
  }
});

// A failed test must not leave a deployment running into the next one.
beforeEach(async () => { await call({ cmd: "clean" }); });

async function openDeployment(id) {
  await page.goto(`${url}#/d/${id}`, { waitUntil: "domcontentloaded" });
  await page.waitForSelector("#detail-view:not([hidden])");
}
async function confirmDialog(reason) {
  await page.waitForSelector("#confirm[open]");
  const who = await page.$eval("#confirm-who", (e) => e.textContent);
  assert.equal(who, CALLER, "the dialog shows the identity that acts");
  if (reason !== undefined) await page.type("#reason", reason);
  await page.click("#confirm-ok");
}
const chartPoints = () => page.$$eval("#chart circle", (cs) => cs.map((c) =>
  ({ at: Number(c.dataset.at), blue: Number(c.dataset.blue), green: Number(c.dataset.green) })));

test("list, chart against the listener, approve advances the canary", async () => {
  const d = await call({ cmd: "deploy", plan: plan([W(10, "3s"), APPROVAL, W(50, "2s"), W(100)]) });
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForSelector(`tr[data-deployment="${d.id}"]`, { timeout: 30000 });
  await openDeployment(d.id);
  await page.waitForSelector("#approve:not([disabled])", { timeout: 60000 });
  // The canary waits at step 2 with production at 90/10 (ELBv2 says so); the page says the same.
  const live = await call({ cmd: "weights" });
  assert.deepEqual([live.blue, live.green], [90, 10]);
  await until(async () => (await page.$eval("#weights-now", (e) => e.textContent)) === "blue 90% / green 10%",
    "the page showing 90/10");
  await sleep(2500);   // a few more readings at 90/10 for the chart

  // Every point of the chart is a weight the listener really had at (about) that time.
  const points = await chartPoints();
  const { readings } = await call({ cmd: "readings" });
  assert.ok(points.length >= 3, `chart has ${points.length} points`);
  assert.ok(points.some((p) => p.green === 10), "the chart shows the 10% step");
  for (const p of points) {
    assert.equal(p.blue + p.green, 100, JSON.stringify(p));
    const near = readings.filter(([t]) => Math.abs(t - p.at) <= 1500);
    assert.ok(near.length > 0, `no listener reading near ${p.at}`);
    assert.ok(near.some(([, b, g]) => b === p.blue && g === p.green),
      `chart point ${JSON.stringify(p)} is not what the listener had then: ${JSON.stringify(near)}`);
  }
  const last = points[points.length - 1];
  assert.deepEqual([last.blue, last.green], [90, 10]);
  const marks = await page.$$eval("#chart line.mark", (ls) => ls.map((l) => l.dataset.kind));
  for (const k of ["step", "bake", "health"]) assert.ok(marks.includes(k), `mark ${k} on the time axis: ${marks}`);
  assert.match(await page.$eval("#plan li.current", (e) => e.textContent), /approval/);
  assert.match(await page.$eval("#worst", (e) => e.textContent), /Worst-case end/);
  await page.screenshot({ path: path.join(SHOTS, "deployment.png") });
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.waitForFunction((id) => document.querySelector(`tr[data-deployment="${id}"] .weights`)?.textContent
    === "90% / 10%", {}, d.id);
  await page.screenshot({ path: path.join(SHOTS, "list.png") });

  // Approve: confirmed in the dialog, then CodeDeploy finishes the deployment (the canary went on to 50 and 100).
  await openDeployment(d.id);
  await page.waitForSelector("#approve:not([disabled])");
  await page.click("#approve");
  await confirmDialog();
  await page.waitForFunction(() => /approved step 2\/4/.test(document.querySelector("#result").textContent));
  assert.match(await page.$eval("#result", (e) => e.textContent), new RegExp(`acted as ${CALLER}`));
  await until(async () => (await call({ cmd: "weights" })).green >= 50, "green at 50% after the approval", 30000);
  const done = await call({ cmd: "wait_status", id: d.id, statuses: ["Succeeded"], timeout: 90 });
  assert.equal(done.status, "Succeeded");
  await page.waitForFunction(() => /approved by/.test(document.querySelector("#decisions").textContent));
});

test("reject ends the canary with blue 100%", async () => {
  const d = await call({ cmd: "deploy", plan: plan([W(10, "1s"), APPROVAL, W(100)]) });
  await openDeployment(d.id);
  await page.waitForSelector("#reject:not([disabled])", { timeout: 60000 });
  await page.click("#reject");
  await confirmDialog("latency looks off");
  await page.waitForFunction(() => /rejected step 2\/3/.test(document.querySelector("#result").textContent));
  const end = await call({ cmd: "wait_status", id: d.id, statuses: ["Failed", "Stopped"], timeout: 90 });
  assert.equal(end.status, "Failed");
  const w = await call({ cmd: "weights" });
  assert.deepEqual([w.blue, w.green, w.rules], [100, 0, 0]);
  await until(async () => (await page.$eval("#status-badge", (e) => e.textContent)) === "Failed", "page: Failed");
});

test("roll back mid-bake ends it with blue 100%", async () => {
  const d = await call({ cmd: "deploy", plan: plan([W(10, "2m"), W(100)], "2s") });
  await openDeployment(d.id);
  await until(async () => (await call({ cmd: "weights" })).green === 10, "listener at 10%", 60000);
  await page.waitForSelector("#rollback:not([disabled])");
  await page.click("#rollback");
  await confirmDialog("dashboard e2e");
  await page.waitForFunction(() => /rolled back/.test(document.querySelector("#result").textContent), { timeout: 30000 });
  const w = await call({ cmd: "weights" });
  assert.deepEqual([w.blue, w.green, w.rules], [100, 0, 0]);
  const end = await call({ cmd: "wait_status", id: d.id, statuses: ["Stopped"], timeout: 60 });
  assert.equal(end.status, "Stopped");
});

// An ECS-native deployment held by a PAUSE hook (tests/e2e/test_ecs_gate.py's set-up, through driver.py):
// its page is opened from the list (the link carries the service deployment ARN URI-encoded), shows the hook
// waiting, and Approve / Reject answer it as `hookline approve` / `reject` do (ContinueServiceDeployment
// CONTINUE / ROLLBACK); the outcome is read from ECS (DescribeServiceDeployments) and the production rule.
for (const verb of ["approve", "reject"]) {
  test(`an ECS PAUSE hook shows waiting on its page and ${verb} answers it with ContinueServiceDeployment`, async () => {
    const d = await call({ cmd: "ecs_pause", image: `example/api:dashboard-${verb}` });
    await page.goto(url, { waitUntil: "domcontentloaded" });
    const row = `tr[data-deployment="${d.arn}"]`;
    await page.waitForSelector(row, { timeout: 30000 });
    assert.match(await page.$eval(`${row} .badge`, (e) => e.textContent), /· approval$/);
    await page.click(`${row} a`);
    await page.waitForSelector("#detail-view:not([hidden])");
    assert.equal(new URL(page.url()).hash, `#/d/${encodeURIComponent(d.arn)}`);
    await page.waitForSelector(`#${verb}:not([disabled])`, { timeout: 60000 });
    const hookId = d.hook_id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(await page.$eval("#approval-state", (e) => e.textContent),
      new RegExp(`^ECS pause hook ${hookId} waiting at POST_TEST_TRAFFIC_SHIFT, times out at \\d\\d:\\d\\d:\\d\\d \\(then ROLLBACK\\)$`));
    assert.equal(await page.$eval("#detail-title", (e) => e.textContent), `Deployment ${d.arn}`);
    const held = await call({ cmd: "ecs_deployment", arn: d.arn });
    assert.equal(held.status, "IN_PROGRESS");
    assert.ok(held.hooks.some((h) => h.hook_id === d.hook_id && h.status === "AWAITING_ACTION"), JSON.stringify(held));

    await page.click(`#${verb}`);
    assert.match(await page.$eval("#confirm-text", (e) => e.textContent),
      new RegExp(`pause hook ${hookId}.*ContinueServiceDeployment ${verb === "approve" ? "CONTINUE" : "ROLLBACK"}`));
    await confirmDialog(verb === "reject" ? "the dashboard says no" : undefined);
    await page.waitForFunction(() => /ContinueServiceDeployment/.test(document.querySelector("#result").textContent),
      { timeout: 30000 });
    const result = await page.$eval("#result", (e) => e.textContent);
    assert.ok(result.includes(`pause hook ${d.hook_id}`) && result.includes(`as ${CALLER}`), result);
    assert.match(result, verb === "approve" ? /ContinueServiceDeployment CONTINUE/ : /the dashboard says no.*ContinueServiceDeployment ROLLBACK/);

    const end = await call({ cmd: "ecs_wait", arn: d.arn, timeout: 120 });
    if (verb === "approve") {
      assert.equal(end.status, "SUCCESSFUL", JSON.stringify(end));
      assert.equal(end.weights[d.green], 100, JSON.stringify(end.weights));
    } else {
      assert.equal(end.status, "ROLLBACK_SUCCESSFUL", JSON.stringify(end));
      assert.match(end.rollback_reason || "", /ROLLBACK/, JSON.stringify(end));
      assert.equal(end.weights[d.blue], 100, JSON.stringify(end.weights));
      assert.ok(!end.weights[d.green], JSON.stringify(end.weights));
    }
    assert.ok(!end.hooks.some((h) => h.status === "AWAITING_ACTION"), JSON.stringify(end.hooks));
    // The page follows: nothing waits any more.
    await page.waitForSelector("#approve[disabled]", { timeout: 30000 });
    assert.equal(await page.$eval("#approval-state", (e) => e.textContent), "No approval waiting.");
  });
}

test("a malformed deployment id on the page: the API's 400 names it", async () => {
  for (const bad of ["d-nope", "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api"]) {
    await page.goto(`${url}#/d/${encodeURIComponent(bad)}`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector("#error:not([hidden])", { timeout: 15000 });
    assert.ok((await page.$eval("#error", (e) => e.textContent)).includes(JSON.stringify(bad)), bad);
    const r = await page.evaluate(async (p) => { const x = await fetch(p); return { status: x.status, body: await x.json() }; },
      `/api/deployments/${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400);
    assert.ok(r.body.error.includes(JSON.stringify(bad)), r.body.error);
  }
});

test("access: Host on every route, the HttpOnly SameSite=Strict session cookie, CSRF; no task token leaks", async () => {
  const d = await call({ cmd: "deploy", plan: plan([W(10, "1s"), APPROVAL, W(100)]) });
  await openDeployment(d.id);
  await page.waitForSelector("#approve:not([disabled])", { timeout: 60000 });
  // Keyboard: Tab to Approve, Enter opens the confirmation, Escape cancels it; nothing is approved.
  await page.focus("#reject");
  await page.keyboard.down("Shift"); await page.keyboard.press("Tab"); await page.keyboard.up("Shift");
  assert.equal(await page.evaluate(() => document.activeElement.id), "approve");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#confirm[open]");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#confirm:not([open])");
  assert.equal((await call({ cmd: "weights" })).green, 10, "Escape approved nothing");
  // Theme toggle: auto -> light -> dark, announced with aria-pressed.
  await page.click("#theme");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "light");
  assert.equal(await page.$eval("#theme", (b) => b.getAttribute("aria-pressed")), "true");
  await page.click("#theme");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.click("#theme");
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), undefined);
  assert.equal(await page.$eval("#live", (e) => e.getAttribute("aria-live")), "polite");
  // The session is a cookie the page's script cannot read (HttpOnly) and no other site's request carries.
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.name.startsWith("hookline_session_"));
  assert.ok(session, `a session cookie: ${JSON.stringify(cookies)}`);
  assert.equal(session.value, secret);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(session.path, "/");
  assert.equal(await page.evaluate(() => document.cookie), "", "the script sees no cookie");
  assert.ok(!(await page.content()).includes(secret), "the secret is not on the page");
  const cookie = `${session.name}=${session.value}`;
  const approvePath = `/api/deployments/${d.id}/approve`;
  // A foreign Host (DNS rebinding, or a remote client claiming localhost) gets 421 on every route, even with
  // the cookie; the cookie alone is not enough for a POST (no CSRF header / another origin); no cookie, no API.
  for (const host of ["evil.example:" + new URL(url).port, "evil.example", "127.0.0.1:1"]) {
    for (const [method, p] of [["GET", "/"], ["GET", "/app.js"], ["GET", "/api/deployments"],
      ["GET", `/api/deployments/${d.id}`], ["GET", `/login?secret=${secret}`], ["POST", approvePath]]) {
      const r = await raw(method, p, { host, cookie, "x-hookline-csrf": "1" }, method === "POST" ? "{}" : undefined);
      assert.equal(r.status, 421, `${method} ${p} with Host ${host}`);
      assert.ok(!r.body.includes(secret) && !r.body.includes(d.id), `${method} ${p}: ${r.body}`);
    }
  }
  let r = await raw("GET", "/", {});
  assert.equal(r.status, 403);
  assert.ok(!r.body.includes(secret) && !/<script/.test(r.body), r.body);
  for (const p of ["/api/identity", "/api/deployments", `/api/deployments/${d.id}`]) {
    r = await raw("GET", p, {});
    assert.equal(r.status, 403, p);
    assert.match(JSON.parse(r.body).error, /not signed in/);
    assert.ok(!r.body.includes(d.id) && !r.body.includes(CALLER), r.body);
  }
  r = await raw("POST", approvePath, { "content-type": "application/json", "x-hookline-csrf": "1" }, "{}");
  assert.equal(r.status, 403);
  assert.match(JSON.parse(r.body).error, /not signed in/);
  r = await raw("POST", approvePath, { cookie, "content-type": "application/json" }, "{}");
  assert.equal(r.status, 403);
  assert.match(JSON.parse(r.body).error, /x-hookline-csrf/);
  r = await raw("POST", approvePath, { cookie, "x-hookline-csrf": "1", origin: "https://evil.example" }, "{}");
  assert.equal(r.status, 403);
  r = await raw("POST", approvePath, { cookie, "x-hookline-csrf": "1", "sec-fetch-site": "same-site" }, "{}");
  assert.equal(r.status, 403);
  // Still waiting: none of those approved anything.
  assert.equal((await call({ cmd: "weights" })).green, 10);
  // What the signed-in page reads carries the approval but no task token or credential.
  const read = (p) => page.evaluate(async (p) => (await fetch(p)).text(), p);
  const body = await read(`/api/deployments/${d.id}`);
  assert.ok(body.includes('"pending_approval":{'), "the approval is in the JSON");
  assert.ok(!/task_token|taskToken|AWS_SECRET|aws_secret_access_key/i.test(body), "no task token or credential");
  const list = await read("/api/deployments");
  assert.ok(list.includes(d.id), "the signed-in page reads the list");
  assert.ok(!/task_token|taskToken/i.test(list));
  await call({ cmd: "clean" });
});

test("a non-loopback --bind without --allow-remote is refused and starts nothing", async () => {
  for (const bind of ["0.0.0.0", "::"]) {
    const p = spawn(BIN, ["dashboard", "--bind", bind, "--port", "0"], { cwd: ROOT,
      env: { ...process.env, AWS_REGION: "us-east-1" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (c) => { out += c; });
    p.stderr.on("data", (c) => { err += c; });
    let timer;
    const code = await Promise.race([new Promise((r) => p.on("exit", r)),
      new Promise((r) => { timer = setTimeout(() => r("still running"), 15000); })]);
    clearTimeout(timer);
    if (code === "still running") p.kill("SIGINT");
    assert.notEqual(code, "still running", `--bind ${bind} started a server: ${out}`);
    assert.notEqual(code, 0);
    assert.match(err, /--allow-remote/);
    assert.ok(!/login\?secret=/.test(out), `no sign-in link printed: ${out}`);
  }
});
