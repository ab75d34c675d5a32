#!/usr/bin/env node
// A person at the pages, in Debian's headless Chromium driven by
// playwright-core (installed into tests/.node by ensure-tools.sh):
//
//   node tests/harness/browser.js acknowledge BASE_URL TOKEN INCIDENT_PATH PERSON COMMENT SCREENSHOT
//
// logs in at /login with TOKEN, opens the incident, fills the
// acknowledgement form, submits it, waits for the page to say who
// acknowledged it, saves a screenshot and prints what the page says as
// JSON ({"acknowledged": "...", "url": "..."}). Exits non-zero with the
// reason when any step fails.
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", ".node", "node_modules", "playwright-core"));

async function acknowledge(base, token, incident, person, comment, screenshot) {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
    await page.goto(base + "/login");
    await page.fill("input[name=token]", token);
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    await page.goto(base + incident);
    await page.fill("input[name=person]", person);
    await page.fill("input[name=comment]", comment);
    await Promise.all([page.waitForNavigation(), page.click("#acknowledgement button[type=submit]")]);
    const said = await page.locator("#acknowledgement .ack").innerText({ timeout: 10000 });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ acknowledged: said, url: page.url() }));
  } finally {
    await browser.close();
  }
}

const [command, ...args] = process.argv.slice(2);
if (command !== "acknowledge" || args.length !== 6) {
  console.error("usage: browser.js acknowledge BASE_URL TOKEN INCIDENT_PATH PERSON COMMENT SCREENSHOT");
  process.exit(2);
}
acknowledge(...args).catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
