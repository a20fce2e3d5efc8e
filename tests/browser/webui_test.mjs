// The browser test of ADK's dev UI served by our server (docs/web-ui.md).
//
//   node webui_test.mjs BASE_URL SCREENSHOT_PATH
//
// Debian's headless chromium, driven by puppeteer-core, opens
// BASE_URL/dev-ui/ (the official UI from @google/adk-devtools, served by
// adk::serve_web_ui), picks the app (ADK_WEBUI_APP, default hello_agent),
// turns on the UI's "Streaming" option, sends "please add 2 and 3" and waits
// for what the scripted app answers: a call of the tool `add`, its response,
// then "The sum of 2 and 3 is 5." streamed in partial events, each rendered
// by the UI. It then reads the session back through the API, saves a
// screenshot to SCREENSHOT_PATH (printed) and exits 0; on any failure it
// says which step failed and what the page showed, saves the screenshot all
// the same and exits 1.
//
// Nothing leaves the machine: requests to other hosts (the UI's web fonts)
// are aborted, or answered with Debian's Material Icons font when the
// package fonts-material-design-icons-iconfont is installed (the icons then
// render as icons in the screenshot instead of their names).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [baseUrl, screenshotArg] = process.argv.slice(2);
if (!baseUrl || !screenshotArg) {
  console.error('usage: node webui_test.mjs BASE_URL SCREENSHOT_PATH');
  process.exit(2);
}
const screenshotPath = path.resolve(screenshotArg);
const APP = process.env.ADK_WEBUI_APP || 'hello_agent';
const MESSAGE = 'please add 2 and 3';
const TOOL = 'add';
const ANSWER = 'The sum of 2 and 3 is 5.';
const FIRST_CHUNK = 'The sum ';
const STEP_TIMEOUT = Number(process.env.ADK_WEBUI_TIMEOUT_MS || 30000);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ICON_FONT = '/usr/share/fonts/woff/material-design-icons-iconfont/MaterialIcons-Regular.woff2';

class StepFailure extends Error {}

let page = null;
let currentStep = '';
const serverErrors = [];   // 5xx answers from our server
const pageErrors = [];     // uncaught exceptions in the page

async function step(name, fn) {
  currentStep = name;
  const started = Date.now();
  const result = await fn();
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
  return result;
}

function check(condition, message) {
  if (!condition) throw new StepFailure(message);
}

/// Waits for fn(...args) to be truthy in the page; fails with `what`.
async function waitInPage(what, fn, ...args) {
  try {
    return await page.waitForFunction(fn, {timeout: STEP_TIMEOUT, polling: 100}, ...args);
  } catch (e) {
    throw new StepFailure(`${what} did not happen within ${STEP_TIMEOUT / 1000} s (${e.message.split('\n')[0]})`);
  }
}

/// Waits for predicate() to be truthy here (in node); fails with `what`.
async function waitHere(what, predicate) {
  const deadline = Date.now() + STEP_TIMEOUT;
  while (!predicate()) {
    if (Date.now() > deadline) throw new StepFailure(`${what} did not happen within ${STEP_TIMEOUT / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// Clicks `selector` once nothing covers it (drawers and menus animate).
async function clickWhenFree(what, selector) {
  await waitInPage(`${what} being clickable`, (sel) => {
    const el = document.querySelector(sel);
    if (!el) return false;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    return top !== null && el.contains(top);
  }, selector);
  await page.click(selector);
}

async function chatText() {
  try {
    return await page.$eval('.chat-messages', (e) => e.innerText);
  } catch {
    return '(no .chat-messages element)';
  }
}

async function saveScreenshot() {
  fs.mkdirSync(path.dirname(screenshotPath), {recursive: true});
  await page.screenshot({path: screenshotPath});
  console.log(`screenshot: ${screenshotPath}`);
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'adk-webui-chromium-'));
// The flags that work as root on this machine kind (no sandbox, no GPU, no
// background connections to Google's hosts).
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  userDataDir: profile,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', '--window-size=1400,900',
  ],
});

let exitCode = 0;
try {
  page = await browser.newPage();
  await page.setViewport({width: 1400, height: 900});
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (e) => pageErrors.push(String(e && e.message ? e.message : e)));

  // Keep everything on loopback.
  const iconFont = fs.existsSync(ICON_FONT) ? fs.readFileSync(ICON_FONT) : null;
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith(baseUrl) || url.startsWith('data:') || url.startsWith('blob:')) {
      req.continue();
    } else if (iconFont && /fonts\.gstatic\.com\/s\/material(icons|symbols)/.test(url)) {
      req.respond({status: 200, contentType: 'font/woff2', body: iconFont});
    } else {
      req.abort('blockedbyclient');
    }
  });

  // What the UI sends and gets.
  let runRequest = null;
  let runResponse = null;
  let runtimeConfig = null;
  page.on('request', (req) => {
    if (req.url().startsWith(`${baseUrl}/run_sse`) && req.method() === 'POST') runRequest = req;
  });
  page.on('response', async (res) => {
    const url = res.url();
    if (!url.startsWith(baseUrl)) return;
    if (res.status() >= 500) serverErrors.push(`${res.status()} ${res.request().method()} ${url}`);
    if (url.startsWith(`${baseUrl}/run_sse`)) runResponse = res;
    if (url.endsWith('/assets/config/runtime-config.json')) {
      try { runtimeConfig = await res.json(); } catch { runtimeConfig = 'not JSON'; }
    }
  });

  await step('the UI loads from /dev-ui/', async () => {
    const res = await page.goto(`${baseUrl}/dev-ui/`, {waitUntil: 'domcontentloaded'});
    check(res && res.status() === 200, `GET /dev-ui/ answered ${res && res.status()}`);
    check((res.headers()['content-type'] || '').startsWith('text/html'),
          `GET /dev-ui/ is ${res.headers()['content-type']}, not HTML`);
    await waitInPage('the Angular app rendering its chat input',
                     () => !!document.querySelector('textarea.chat-input-box'));
    check((await page.title()).includes('Agent Development Kit'), `unexpected page title '${await page.title()}'`);
    await waitHere('the UI reading its runtime config', () => runtimeConfig !== null);
    check(runtimeConfig && runtimeConfig.backendUrl === '',
          `runtime-config.json was ${JSON.stringify(runtimeConfig)}, expected {"backendUrl": ""}`);
  });

  await step(`the app list offers ${APP}, and picking it selects it`, async () => {
    await clickWhenFree('the app selector', 'button[mattooltip="Select an app"]');
    await waitInPage('the app selector listing the apps',
                     () => document.querySelectorAll('.app-selector-item').length > 0);
    const names = await page.$$eval('.app-selector-item .app-selector-item-name',
                                    (els) => els.map((e) => e.textContent.trim()));
    const index = names.indexOf(APP);
    check(index >= 0, `the app selector lists ${JSON.stringify(names)}, not ${APP}`);
    const items = await page.$$('.app-selector-item');
    await items[index].click();
    await waitInPage(`the toolbar showing ${APP} as the selected app`,
                     (app) => [...document.querySelectorAll('.selector-label')].some((e) => e.textContent.trim() === app),
                     APP);
    // The drawer closes on a pick: wait for it, so that nothing covers the page.
    await waitInPage('the app drawer closing',
                     () => !document.querySelector('mat-drawer.selector-drawer.mat-drawer-opened') &&
                           !document.querySelector('.mat-drawer-backdrop.mat-drawer-shown'));
  });

  await step('the UI\'s "Streaming" option is turned on', async () => {
    const menuOpen = () => [...document.querySelectorAll('.cdk-overlay-container button[mat-menu-item]')]
        .some((b) => b.textContent.includes('Streaming'));
    for (let attempt = 0; ; ++attempt) {
      await clickWhenFree('the "More options" button', 'button[aria-label="More options"]');
      try {
        await page.waitForFunction(menuOpen, {timeout: 2000, polling: 100});
        break;
      } catch (e) {
        if (attempt >= 4) throw new StepFailure('the "More options" menu did not open (no "Streaming" item)');
      }
    }
    await page.evaluate(() => {
      const item = [...document.querySelectorAll('.cdk-overlay-container button[mat-menu-item]')]
          .find((b) => b.textContent.includes('Streaming'));
      item.click();
    });
    await page.keyboard.press('Escape');
    await waitInPage('the menu closing', () => !document.querySelector('.cdk-overlay-container .mat-mdc-menu-panel'));
  });

  await step(`sending "${MESSAGE}" shows the tool call, its response and the streamed answer`, async () => {
    // Record every text the bot's bubbles show, to see the partial ones.
    await page.evaluate(() => {
      window.__botTexts = [];
      const record = () => {
        const text = [...document.querySelectorAll('.content-bubble.role-bot')].map((e) => e.innerText.trim()).join(' | ');
        if (text && window.__botTexts[window.__botTexts.length - 1] !== text) window.__botTexts.push(text);
      };
      new MutationObserver(record).observe(document.querySelector('.chat-messages'),
                                           {childList: true, subtree: true, characterData: true});
    });
    await clickWhenFree('the chat input', 'textarea.chat-input-box');
    await page.type('textarea.chat-input-box', MESSAGE);
    await page.keyboard.press('Enter');
    await waitInPage('the user\'s message appearing in the chat',
                     (m) => [...document.querySelectorAll('.content-bubble.role-user')].some((e) => e.innerText.includes(m)),
                     MESSAGE);
    await waitInPage(`the call of the tool "${TOOL}" appearing`,
                     (t) => [...document.querySelectorAll('.function-calls-buttons .mdc-button__label')]
                         .some((e) => e.textContent.trim() === t), TOOL);
    await waitInPage(`the response of the tool "${TOOL}" appearing`,
                     (t) => [...document.querySelectorAll('.function-response-chip-container .mdc-button__label')]
                         .some((e) => e.textContent.trim() === t), TOOL);
    await waitInPage(`the answer "${ANSWER}" appearing`,
                     (a) => [...document.querySelectorAll('.content-bubble.role-bot')].some((e) => e.innerText.includes(a)),
                     ANSWER);
    const texts = await page.evaluate(() => window.__botTexts);
    const partial = texts.find((t) => t.includes(FIRST_CHUNK) && !t.includes(ANSWER));
    check(partial !== undefined,
          `the answer was not streamed: no partial text was rendered before "${ANSWER}" (texts seen: ${JSON.stringify(texts)})`);
    console.log(`   partial text rendered: ${JSON.stringify(partial)}`);
  });

  const sessionId = await step('the UI ran the app through /run_sse with streaming on', async () => {
    check(runRequest, 'the UI sent no POST /run_sse');
    let body;
    try { body = JSON.parse(runRequest.postData() || ''); } catch { body = null; }
    check(body, `the /run_sse body is not JSON: ${runRequest.postData()}`);
    check(body.appName === APP, `the run was for app ${body.appName}, not ${APP}`);
    check(body.streaming === true, `the run asked for streaming=${body.streaming}, not true`);
    check(runResponse && runResponse.status() === 200, `/run_sse answered ${runResponse && runResponse.status()}`);
    const type = runResponse.headers()['content-type'] || '';
    check(type.startsWith('text/event-stream'), `/run_sse answered ${type}, not text/event-stream`);
    let sse = '';
    try { sse = await runResponse.text(); } catch { sse = ''; }
    if (sse) {
      const events = sse.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
      check(events.some((e) => e.partial === true), 'no partial event in the /run_sse stream');
      check(!events.some((e) => e.error), `an error event in the stream: ${JSON.stringify(events.find((e) => e.error))}`);
      console.log(`   /run_sse streamed ${events.length} events, ${events.filter((e) => e.partial).length} partial`);
    }
    return {id: body.sessionId, user: body.userId};
  });

  await step('the session holds the whole conversation (read back through the API)', async () => {
    const url = `${baseUrl}/apps/${APP}/users/${encodeURIComponent(sessionId.user)}/sessions/${encodeURIComponent(sessionId.id)}`;
    const res = await fetch(url);
    check(res.status === 200, `GET ${url} answered ${res.status}`);
    const session = await res.json();
    const parts = (session.events || []).flatMap((e) => (e.content && e.content.parts) || []);
    check(parts.some((p) => p.text === MESSAGE), 'the session has no user message');
    check(parts.some((p) => p.functionCall && p.functionCall.name === TOOL), 'the session has no call of the tool');
    check(parts.some((p) => p.functionResponse && p.functionResponse.name === TOOL), 'the session has no tool response');
    check(parts.some((p) => p.text === ANSWER), 'the session has no final answer');
    check(!(session.events || []).some((e) => e.partial), 'the session stored partial events');
    console.log(`   session ${sessionId.id}: ${session.events.length} events`);
  });

  await step('no 5xx answer and no uncaught exception in the page', async () => {
    check(serverErrors.length === 0, `the server answered: ${serverErrors.join(', ')}`);
    // The UI lets the HTTP errors of the routes we do not serve (404 on
    // /dev/apps/..., the debug traces; docs/web-ui.md) escape as uncaught
    // errors whose message is a bare minified class name ("_o"): those are
    // expected; anything else is a failure.
    const expected = pageErrors.filter((m) => /^[A-Za-z_$][\w$]{0,3}$/.test(m));
    const unexpected = pageErrors.filter((m) => !expected.includes(m));
    if (expected.length) console.log(`   (${expected.length} uncaught HTTP errors of unserved routes: ${expected.join(', ')})`);
    check(unexpected.length === 0, `the page threw: ${unexpected.join(' | ')}`);
  });

  await saveScreenshot();
  console.log('PASS: the dev UI drove the app end to end');
} catch (e) {
  exitCode = 1;
  const reason = e instanceof StepFailure ? e.message : (e && e.stack) || String(e);
  console.error(`FAIL: ${currentStep}: ${reason}`);
  if (page) {
    console.error(`the chat shows: ${JSON.stringify(await chatText())}`);
    if (serverErrors.length) console.error(`server errors: ${serverErrors.join(', ')}`);
    if (pageErrors.length) console.error(`page errors: ${pageErrors.join(' | ')}`);
    try { await saveScreenshot(); } catch (err) { console.error(`no screenshot: ${err.message}`); }
  }
} finally {
  await browser.close().catch(() => {});
  try {
    fs.rmSync(profile, {recursive: true, force: true, maxRetries: 10, retryDelay: 100});
  } catch (e) {
    console.error(`(could not remove the browser profile ${profile}: ${e.message})`);
  }
}
process.exit(exitCode);
