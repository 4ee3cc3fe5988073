// Drives Debian's headless Chromium (playwright-core from .browser/, `make browser`) to open the
// test page on its own origin and run every route of the API from it with fetch().
//
//   node tests/browser/e2e.mjs --page http://127.0.0.1:P/page.html --api http://127.0.0.1:A
//                              [--credentials] [--prefix items]
//
// Prints one JSON object on stdout: the browser's version, the page's origin, each step (name,
// method, path, status, the response headers the page could read, body, or the error a blocked
// fetch threw), the console's CORS messages and `failures`. Exits 0 when no fetch threw and the
// console says nothing of CORS, 1 otherwise, 2 when the browser or page could not be used.
// tests/tools/local/test_browser.py runs it and asserts the statuses, headers and bodies.

import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BROWSER_DIR = join(ROOT, ".browser");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// Headless, and nothing of Chromium's own traffic: this machine's network is closed, and its
// background connections (updates, sync, safe browsing...) would be refused, many at a time.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TIMEOUT_MS = 120_000;
const CORS = /CORS|Access-Control|cross-origin/i;

const { values: options } = parseArgs({
  options: {
    page: { type: "string" },
    api: { type: "string" },
    credentials: { type: "boolean", default: false },
    prefix: { type: "string", default: "items" },
  },
});

function finish(result, code) {
  process.stdout.write(JSON.stringify(result, null, 1) + "\n");
  process.exitCode = code;
}

async function main() {
  const result = { chromium: CHROMIUM, page: options.page, api: options.api, steps: [],
                   console: [], cors_messages: [], failures: [] };
  if (!options.page || !options.api) {
    result.failures.push("usage: --page URL --api URL [--credentials] [--prefix items]");
    return finish(result, 2);
  }
  let chromium;
  try {
    ({ chromium } = createRequire(join(BROWSER_DIR, "package.json"))("playwright-core"));
  } catch (error) {
    result.failures.push(`playwright-core is not installed in .browser/: run \`make browser\` ` +
                         `(${error.message.split("\n")[0]})`);
    return finish(result, 2);
  }
  const started = Date.now();
  const profile = mkdtempSync(join(tmpdir(), "items-api-chromium-"));  // a fresh user-data-dir
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 60_000,
    });
    result.version = context.browser()?.version() ?? null;
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(TIMEOUT_MS);
    page.on("console", (message) => {
      const line = `${message.type()}: ${message.text()}`;
      result.console.push(line);
      if (CORS.test(message.text())) result.cors_messages.push(line);
    });
    page.on("pageerror", (error) => result.failures.push(`page error: ${error.message}`));
    const response = await page.goto(options.page, { waitUntil: "load" });
    if (!response || !response.ok()) {
      result.failures.push(`the page ${options.page} answered ${response && response.status()}`);
      return finish(result, 2);
    }
    await page.waitForFunction(() => window.pageReady === true);
    result.origin = await page.evaluate(() => window.location.origin);
    const ran = await page.evaluate(
      ([api, opts]) => window.runSteps(api, opts),
      [options.api, { credentials: options.credentials, prefix: options.prefix }],
    );
    result.id = ran.id;
    result.steps = ran.steps;
    // Console messages arrive asynchronously: give the last ones a moment.
    await page.waitForTimeout(200);
  } catch (error) {
    result.failures.push(`browser: ${error.message}`);
    return finish(result, 2);
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    result.seconds = (Date.now() - started) / 1000;
  }
  for (const step of result.steps) {
    if (step.error) result.failures.push(`${step.name} ${step.method} ${step.path}: ${step.error}`);
  }
  for (const line of result.cors_messages) result.failures.push(`console: ${line}`);
  return finish(result, result.failures.length ? 1 : 0);
}

const timer = setTimeout(() => {
  finish({ failures: [`no result within ${TIMEOUT_MS / 1000} s`] }, 2);
  process.exit(2);
}, TIMEOUT_MS + 60_000);
main().finally(() => clearTimeout(timer));
