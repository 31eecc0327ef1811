// Drives the Sluice dashboard in real headless Chromium (Debian's `chromium`, through
// playwright-core). Started by crates/sluice-server/tests/dashboard.rs::browser_dashboard with a
// seeded Sluice in cloud mode:
//
//   node tests/browser/run.mjs <base-url>
//   env: CHROMIUM (binary), SLUICE_PASSWORD, SEEDED (JSON of seeded ids), SCREENSHOTS (dir)
//
// It logs in, screenshots every page in light and dark at laptop and phone widths, opens a failed
// step's error, cancels a run, reruns one, sends an event (after the form refused bad JSON), and
// fails on any console error or uncaught exception.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const base = process.argv[2];
if (!base) throw new Error("usage: node run.mjs <base-url>");
const seeded = JSON.parse(process.env.SEEDED || "{}");
const password = process.env.SLUICE_PASSWORD || "";
const shots = process.env.SCREENSHOTS || "target/screenshots";
mkdirSync(shots, { recursive: true });

const args = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "chromium",
  args,
  headless: true,
});

const problems = [];
let step = "start";
function watch(page, label) {
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${label} @ ${step}: console error: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`${label} @ ${step}: uncaught: ${err.message}`));
  page.on("dialog", (d) => d.accept());
}

function check(cond, message) {
  if (!cond) throw new Error(`check failed at ${step}: ${message}`);
}

const laptop = { width: 1366, height: 860 };
const phone = { width: 390, height: 844 };

// ---- Log in (the first response is a 401 carrying the form). ----
step = "login";
const first = await browser.newContext({ viewport: laptop, colorScheme: "light" });
const login = await first.newPage();
const resp = await login.goto(`${base}/`);
check(resp.status() === 401, `an unauthenticated page answers 401, got ${resp.status()}`);
await login.fill("input[name=password]", "wrong");
await Promise.all([login.waitForLoadState(), login.click("button[type=submit]")]);
check(await login.locator(".flash.error").isVisible(), "a wrong password is refused");
await login.fill("input[name=password]", password);
await Promise.all([login.waitForURL(`${base}/`), login.click("button[type=submit]")]);
check(await login.locator("h1", { hasText: "Runs" }).isVisible(), "logged in, on the runs page");
const storage = await first.storageState();
await first.close();

const pages = [
  ["runs", "/"],
  ["run-failed", `/runs/${seeded.failed}`],
  ["run-running", `/runs/${seeded.running}`],
  ["events", "/events"],
  ["event", `/events/${seeded.event}`],
  ["functions", "/functions"],
  ["function", `/functions/${encodeURIComponent(seeded.function)}`],
  ["apps", "/apps"],
  ["webhooks", "/sources"],
  ["webhook-source", "/sources/clerk"],
];

async function context(viewport, colorScheme) {
  const ctx = await browser.newContext({ viewport, colorScheme, storageState: storage });
  const page = await ctx.newPage();
  watch(page, `${colorScheme}/${viewport.width}`);
  return { ctx, page };
}

// ---- Every page, in light and dark, laptop and phone. ----
for (const [scheme, viewport, size] of [
  ["light", laptop, "laptop"], ["dark", laptop, "laptop"],
  ["light", phone, "phone"], ["dark", phone, "phone"],
]) {
  const { ctx, page } = await context(viewport, scheme);
  for (const [name, path] of pages) {
    step = `${name} ${scheme} ${size}`;
    const r = await page.goto(base + path);
    check(r.status() === 200, `${path} answered ${r.status()}`);
    await page.waitForLoadState("domcontentloaded");
    if (name === "run-failed") {
      // Open the last failed attempt so the screenshot shows an error with its stack.
      await page.locator("details.attempt[data-status=error] > summary").last().click();
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${path} scrolls sideways by ${overflow}px at ${viewport.width}px`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(shots, `${name}-${scheme}-${size}.png`), fullPage: true });
  }
  await ctx.close();
}

const { ctx, page } = await context(laptop, "light");

// ---- Click through to a step's error. ----
step = "step error";
await page.goto(`${base}/`);
await page.locator(`a[href="/runs/${seeded.failed}"]`).first().click();
await page.waitForURL(`**/runs/${seeded.failed}`);
check(await page.locator(".warning.loud", { hasText: "older version" }).isVisible(), "stale sync warning");
const failedStep = page.locator("details.attempt[data-status=error]", { hasText: "send-welcome-email" }).first();
await failedStep.locator(":scope > summary").click();
const errorBox = failedStep.locator(".error-box");
await errorBox.waitFor();
check((await errorBox.innerText()).includes("SMTP 554: relay access denied"), "the error message");
check((await errorBox.innerText()).includes("at insertUser"), "the stack");
check(await page.locator(".badge.retry", { hasText: "retry 1" }).first().isVisible(), "retries are marked");
const localTime = await page.locator("time").first().innerText();
check(!localTime.includes("UTC"), `timestamps are shown in local time (${localTime})`);
check((await page.locator("time").first().getAttribute("title")).includes("UTC"), "UTC on hover");

// ---- Cancel a running run; the page updates live. ----
step = "cancel";
await page.goto(`${base}/runs/${seeded.running}`);
await page.locator("button", { hasText: "Cancel" }).click();
await page.locator("h1 .badge", { hasText: "Cancelled" }).waitFor({ timeout: 20000 });

// ---- Rerun a completed run; the new run completes against the app. ----
step = "rerun";
await page.goto(`${base}/runs/${seeded.completed}`);
await Promise.all([
  page.waitForURL((u) => u.pathname.startsWith("/runs/") && !u.pathname.endsWith(seeded.completed)),
  page.locator("button", { hasText: /^Rerun$/ }).click(),
]);
try {
  await page.locator("h1 .badge", { hasText: "Completed" }).waitFor({ timeout: 20000 });
} catch (e) {
  const shown = await page.locator("h1").innerText();
  const live = await page.evaluate(() => document.body.dataset.live);
  await page.reload();
  throw new Error(`rerun not shown completed: page showed ${shown} (live ${live}); after reload ${await page.locator("h1").innerText()}`);
}
check((await page.locator("section.result").innerText()).includes("done"), "the rerun's output");

// ---- Send an event: bad JSON is refused in the form, good JSON is sent and triggers a run. ----
step = "send event";
await page.goto(`${base}/events`);
await page.locator("#send-event summary").click();
await page.fill("#send-event input[name=name]", "app/crm.sync");
await page.fill("#send-event textarea[name=data]", '{"account": ');
check(await page.locator("#send-event .json-error").isVisible(), "invalid JSON is flagged");
check(await page.locator("#send-event button[type=submit]").isDisabled(), "and cannot be sent");
await page.fill("#send-event textarea[name=data]", '{"account": "initech", "tags": {}}');
check(!(await page.locator("#send-event .json-error").isVisible()), "valid JSON clears the error");
await Promise.all([
  page.waitForURL((u) => u.pathname.startsWith("/events/")),
  page.locator("#send-event button[type=submit]").click(),
]);
check((await page.locator("pre.raw").first().innerText()).includes('{"account":"initech","tags":{}}'), "payload as stored");
let triggered = false;
for (let i = 0; i < 40 && !triggered; i++) {
  await page.reload();
  triggered = (await page.locator("ul.run-list li").count()) > 0;
  if (!triggered) await page.waitForTimeout(250);
}
check(triggered, "the event triggered a run");
await page.screenshot({ path: join(shots, "event-sent-light-laptop.png"), fullPage: true });

// ---- The runs list shows the new runs live. ----
step = "runs live";
await page.goto(`${base}/`);
check((await page.locator("tr[data-href]").count()) >= 6, "the new runs are listed");
await page.screenshot({ path: join(shots, "runs-after-actions-light-laptop.png"), fullPage: true });

await ctx.close();
await browser.close();

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`browser checks passed; screenshots in ${shots}`);
