// A headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser) driven by
// playwright-core, taking one JSON command per stdin line and answering one JSON line each.
// Python tests (tests/test_viewer.py) and `twin bench viewer` speak to it, so the browser
// starts once per session.
//
// Commands: {"op": "goto", "url"} | {"op": "eval", "js"} (an expression or async function
// body: `return ...`) | {"op": "wait", "js", "timeout"} | {"op": "click", "selector"} |
// {"op": "clickMap", "x", "y"} | {"op": "type", "selector", "text"} |
// {"op": "screenshot", "path"} | {"op": "download", "selector", "path"} | {"op": "console"} |
// {"op": "network"} | {"op": "fulfil", "url", "body", "contentType"} | {"op": "reset"} |
// {"op": "close"}
//
// The page runs under its own Content-Security-Policy (no bypassCSP): every violation it reports
// is recorded as a `csp` message, and an alert/confirm/prompt as a `dialog` message, so a test
// sees a script the page should not have run, or one the policy stopped.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-dev-shm-usage',
  ],
});
const consoleMessages = [];
const responses = [];
let context;
let page;

// A fresh context is a cold browser cache: what a first-time visitor downloads.
async function openPage() {
  if (context) await context.close();
  context = await browser.newContext({ viewport: { width: 1400, height: 860 }, deviceScaleFactor: 1, acceptDownloads: true });
  // The page's `securitypolicyviolation` events, handed to us as they happen (the binding and
  // the listener are installed by the DevTools protocol, outside the page's policy).
  await context.exposeBinding('twinReportViolation', (source, violation) => {
    consoleMessages.push({ type: 'csp', text: `csp: ${violation.directive} blocked ${violation.blocked} (${violation.source}:${violation.line})`, location: source.page?.url() ?? '', violation });
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      window.twinReportViolation?.({ directive: event.effectiveDirective || event.violatedDirective, blocked: event.blockedURI, source: event.sourceFile, line: event.lineNumber, sample: event.sample });
    });
  });
  page = await context.newPage();
  watch(page);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Poll `js` (an expression, or a function body with `return`) in the page until it is truthy.
// Not page.waitForFunction: Playwright compiles its predicate with eval inside the page, which
// a policy without 'unsafe-eval' (the viewer's) refuses. The expression handed to page.evaluate
// is compiled through the DevTools protocol, outside the page's policy, and the loop runs in
// the page with the predicate already compiled; a navigation in between starts a new loop.
async function waitFor(js, timeout) {
  const deadline = Date.now() + timeout;
  const body = js.includes('return') ? js : `return (${js});`;
  for (;;) {
    const left = Math.max(0, deadline - Date.now());
    try {
      const done = await page.evaluate(`(async () => {
        const until = Date.now() + ${left};
        const check = async () => { ${body}
        };
        for (;;) {
          if (await check()) return true;
          if (Date.now() >= until) return false;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })()`);
      if (done) return;
    } catch (error) {
      if (!/context was destroyed|navigat/i.test(String(error?.message ?? error))) throw error;
    }
    if (Date.now() >= deadline) throw new Error(`Timeout ${timeout}ms exceeded waiting for ${js.slice(0, 300)}`);
    await sleep(100);
  }
}

function watch(page) {
page.on('console', (msg) => {
  consoleMessages.push({ type: msg.type(), text: msg.text(), location: msg.location()?.url ?? '' });
  // a refusal the page's policy logs without an event (e.g. in a worker) still counts
  if (msg.text().includes('Content Security Policy')) consoleMessages.push({ type: 'csp', text: `csp: ${msg.text()}`, location: msg.location()?.url ?? '' });
});
page.on('pageerror', (error) => consoleMessages.push({ type: 'error', text: `pageerror: ${error.message}` }));
// an alert/confirm/prompt is recorded (a script the page should not run, e.g. injected), then dismissed
page.on('dialog', (dialog) => { consoleMessages.push({ type: 'dialog', text: `dialog: ${dialog.type()} ${dialog.message()}` }); dialog.dismiss().catch(() => {}); });
page.on('requestfailed', (request) => consoleMessages.push({ type: 'requestfailed', text: `${request.url()} ${request.failure()?.errorText ?? ''}` }));
page.on('response', async (response) => {
  const request = response.request();
  const entry = { url: response.url(), status: response.status(), type: request.resourceType(), bytes: 0, encoded: 0 };
  responses.push(entry);
  try {
    const sizes = await request.sizes();
    entry.bytes = sizes.responseBodySize;
    entry.encoded = sizes.responseBodySize + sizes.responseHeadersSize;
    const body = await response.body();
    entry.bytes = body.length;
  } catch {
    /* redirects and aborted requests have no body */
  }
});
}
await openPage();

function asFunction(js) {
  return js.includes('return') ? `(async () => { ${js} })()` : js;
}

async function handle(cmd) {
  switch (cmd.op) {
    case 'goto':
      // Through a blank page: a URL differing only in its #hash must still load afresh.
      await page.goto('about:blank');
      consoleMessages.length = 0;
      responses.length = 0;
      await page.goto(cmd.url, { waitUntil: 'load', timeout: cmd.timeout ?? 60000 });
      return { url: page.url() };
    case 'page': {
      // Open `html` as if the server had answered it at `url` (a same-origin page for a
      // benchmark's comparison, e.g. MapLibre on a blank style), without touching the server.
      await page.goto('about:blank');
      consoleMessages.length = 0;
      responses.length = 0;
      await page.route(cmd.url, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: cmd.html }));
      try {
        await page.goto(cmd.url, { waitUntil: 'load', timeout: cmd.timeout ?? 60000 });
      } finally {
        await page.unroute(cmd.url);
      }
      return { url: page.url() };
    }
    case 'eval':
      return { value: await page.evaluate(asFunction(cmd.js)) };
    case 'wait': {
      const started = Date.now();
      await waitFor(cmd.js, cmd.timeout ?? 30000);
      return { waited_ms: Date.now() - started };
    }
    case 'click':
      await page.click(cmd.selector, { timeout: cmd.timeout ?? 60000, noWaitAfter: true });
      return {};
    case 'clickMap': {
      const box = await page.locator('#map canvas').boundingBox();
      await page.mouse.click(box.x + cmd.x, box.y + cmd.y);
      return {};
    }
    case 'type':
      await page.fill(cmd.selector, '');
      await page.type(cmd.selector, cmd.text, { delay: 10 });
      return {};
    case 'press':
      await page.press(cmd.selector, cmd.key);
      return {};
    case 'drag': {
      // Drag an element (the swipe handle) to a fraction `to` of the map's width.
      const handle = await page.locator(cmd.selector).boundingBox();
      const map = await page.locator('#map').boundingBox();
      await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
      await page.mouse.down();
      await page.mouse.move(map.x + map.width * cmd.to, handle.y + handle.height / 2, { steps: 8 });
      await page.mouse.up();
      return {};
    }
    case 'download': {
      // Click, wait for the browser's download and keep it: size and first bytes for the caller.
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: cmd.timeout ?? 180000 }),
        page.click(cmd.selector, { noWaitAfter: true }),
      ]);
      await download.saveAs(cmd.path);
      const { readFileSync } = await import('node:fs');
      const bytes = readFileSync(cmd.path);
      return { path: cmd.path, filename: download.suggestedFilename(), size: bytes.length, magic: bytes.subarray(0, 4).toString('latin1') };
    }
    case 'screenshot':
      await page.screenshot({ path: cmd.path, fullPage: false });
      return { path: cmd.path };
    case 'console':
      return { messages: consoleMessages };
    case 'network':
      return { responses };
    case 'reset':
      await openPage();
      return {};
    case 'fulfil':
      // Answer every request matching `url` (a glob) with `body` until the next reset: a CDN
      // script the offline test machine cannot reach (e.g. Leaflet on pygeoapi's HTML pages).
      await page.route(cmd.url, (route) => route.fulfill({ status: 200, contentType: cmd.contentType ?? 'text/javascript', body: cmd.body }));
      return {};
    case 'close':
      await browser.close();
      return { closed: true };
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
process.stdout.write(`${JSON.stringify({ ready: true, version: browser.version() })}\n`);
for await (const line of lines) {
  if (!line.trim()) continue;
  let reply;
  try {
    const cmd = JSON.parse(line);
    reply = { ok: true, ...(await handle(cmd)) };
    if (cmd.op === 'close') { process.stdout.write(`${JSON.stringify(reply)}\n`); break; }
  } catch (error) {
    reply = { ok: false, error: String(error?.message ?? error) };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
process.exit(0);
