// The dashboard in headless Chromium, driven by tests/e2e/ui.rs: each check
// prints `ok NAME` when it passed; the first failure exits 1 with why.
// Environment: UI_URL, ENVPACK_BIN, ENVPACK_HOME, UI_SECRET, UI_ACTOR,
// UI_R1, UI_R2, UI_B2, UI_SHOTS, UI_NODE_TOOLS.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const E = process.env;
const require = createRequire(path.join(E.UI_NODE_TOOLS, 'noop.js'));
const { chromium } = require('playwright-core');
const AXE = fs.readFileSync(path.join(E.UI_NODE_TOOLS, 'axe-core/axe.min.js'), 'utf8');
// Generous: a page shows a change within a second; the wait allows slow CI.
const WAIT = 30000;

function cli(...args) {
  const out = execFileSync(E.ENVPACK_BIN, ['--json', ...args], {
    env: { ...process.env, ENVPACK_ACTOR: 'cli-operator' },
    encoding: 'utf8',
  });
  const v = JSON.parse(out);
  if (!v.ok) throw new Error('envpack ' + args.join(' ') + ': ' + out);
  return v.result;
}
function check(cond, what) {
  if (!cond) throw new Error(what);
}
const passed = (name) => process.stdout.write('ok ' + name + '\n');

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'envpack-ui-chromium-'));
const ctx = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 800 },
  // axe-core is injected as a script; the dashboard's CSP would refuse it.
  bypassCSP: true,
});
const page = ctx.pages()[0] || await ctx.newPage();
const bodies = [];
page.on('response', async (r) => {
  if ((r.headers()['content-type'] || '').startsWith('text/event-stream')) return;
  try { bodies.push({ url: r.url(), text: await r.text() }); } catch (e) { /* navigated away */ }
});
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

async function go(hash, view) {
  await page.goto(E.UI_URL + '/' + hash);
  await page.waitForFunction((v) => {
    const m = document.getElementById('main');
    return m.dataset.view === v && m.dataset.route === location.hash;
  }, view, { timeout: WAIT });
}
async function shot(name) {
  await page.screenshot({ path: path.join(E.UI_SHOTS, name + '.png'), fullPage: true });
}
async function noSecret(where) {
  const html = await page.content();
  check(!html.includes(E.UI_SECRET), 'the secret value is in the DOM of ' + where);
}
const axeFindings = [];
async function axe(where) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ content: AXE });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  for (const v of res.filter((x) => x.impact === 'serious' || x.impact === 'critical')) axeFindings.push({ where, ...v });
}

try {
  cli('env', 'policy', 'staging', '--soak', '10%:1h');
  // The ladder: columns in ladder order, the promoted 1.0.0 in staging.
  await go('#/', 'ladder');
  const heads = await page.$$eval('#ladder thead th', (ths) => ths.map((t) => t.textContent));
  check(heads[1].startsWith('local') && heads[2].startsWith('staging'), 'ladder columns: ' + heads);
  const staging = 'td[data-env="staging"][data-deployment="site"]';
  check((await page.textContent(staging)).includes('1.0.0'), 'staging does not show 1.0.0');
  check((await page.getAttribute(staging, 'data-drift')) === 'in-sync', 'staging is not in sync');
  await noSecret('the ladder');
  await axe('ladder');
  passed('ladder');

  // A traffic change from the CLI moves the chart, without a reload.
  await go('#/env/local/deployments/site', 'deployment');
  const g0 = Number(await page.getAttribute('#traffic-chart', 'data-generation'));
  await page.evaluate(() => { window.__sameDocument = true; });
  cli('traffic', 'set', 'site', E.UI_R1 + '=50%', E.UI_R2 + '=50%');
  await page.waitForSelector(`#traffic-chart[data-generation="${g0 + 1}"]`, { timeout: WAIT });
  const bars = await page.$$eval(`#traffic-chart g[data-generation="${g0 + 1}"] rect[data-revision]`,
    (rs) => rs.map((r) => r.dataset.revision + '=' + r.dataset.bps));
  check(bars.includes(E.UI_R1 + '=5000') && bars.includes(E.UI_R2 + '=5000'), 'chart bars: ' + bars);
  check(await page.evaluate(() => window.__sameDocument === true), 'the page reloaded');
  check((await page.textContent('main')).includes('canary'), 'no canary shown');
  // The untouched traffic form follows the new split.
  await page.waitForFunction((r) => (document.querySelector(`#shift input[data-revision="${r}"]`) || {}).value === '50', E.UI_R1, { timeout: WAIT });
  await axe('deployment');
  passed('traffic-live');

  // What the gate still needs: 2.0.0 now shares traffic in local, and
  // staging asks for a soak it has not had. Relaxed from the CLI, the card
  // turns ready; promoted from the CLI, staging shows 2.0.0. All live.
  await go('#/', 'ladder');
  await page.evaluate(() => { window.__sameDocument = true; });
  const card = `#promotions li[data-to="staging"][data-deployment="site"]`;
  await page.waitForSelector(card + '[data-state="blocked"]', { timeout: WAIT });
  const needs = await page.textContent(card);
  check(needs.includes('2.0.0') && needs.includes('soak') && needs.includes('needs'), 'blocked card: ' + needs);
  check((await page.$$(card + ' code')).length > 0, 'the blocked card shows no fix: ' + needs);
  check((await page.textContent('main')).includes('soak of 10% for 1h'), 'the gate is not described');
  await shot('ladder');
  await axe('ladder (blocked promotion)');
  cli('env', 'policy', 'staging', '--no-soak');
  await page.waitForSelector(card + '[data-state="ready"]', { timeout: WAIT });
  check((await page.textContent(card)).includes('envpack promote'), 'the ready card names no command');
  passed('gate-live');
  cli('promote', E.UI_B2, '--to', 'staging');
  await page.waitForFunction((sel) => (document.querySelector(sel) || {}).textContent.includes('2.0.0'), staging, { timeout: WAIT });
  check(await page.evaluate(() => window.__sameDocument === true), 'the ladder reloaded');
  await page.waitForSelector(card + '[data-state="promoted"]', { timeout: WAIT });
  passed('promotion-live');

  // Drift made out of band (a file edited in the running payload).
  const payload = path.join(E.ENVPACK_HOME, 'envs/local/revisions', E.UI_R2, 'payload/index.html');
  fs.writeFileSync(payload, 'hotfixed by hand\n');
  await go('#/env/local/deployments/site/drift', 'drift');
  const entry = await page.waitForSelector('#drift-entries tr[data-entry]', { timeout: WAIT });
  const text = await entry.textContent();
  check(text.includes('file:index.html') && text.includes(E.UI_R2), 'drift entry: ' + text);
  check((await entry.getAttribute('data-accepted')) === 'false', 'the drift is shown as accepted');
  const firstSeen = await entry.$eval('td:nth-of-type(7)', (td) => td.textContent);
  check(/^\d{4}-\d\d-\d\dT/.test(firstSeen), 'no first-seen time: ' + firstSeen);
  check((await page.$$('section.record')).length >= 2, 'the three records are not shown per revision');
  check((await page.textContent('main')).includes('drifted'), 'the state is not drifted');
  await shot('drift');
  await axe('drift');
  await noSecret('the drift view');
  passed('drift-out-of-band');

  // The traffic action: the plan, then an explicit confirmation.
  await go('#/env/local/deployments/site', 'deployment');
  const g1 = Number(await page.getAttribute('#traffic-chart', 'data-generation'));
  await page.fill(`#shift input[data-revision="${E.UI_R1}"]`, '0');
  await page.fill(`#shift input[data-revision="${E.UI_R2}"]`, '100');
  await page.click('#shift button[type="submit"]');
  await page.waitForSelector('#confirm[open] #plan', { timeout: WAIT });
  await page.keyboard.press('Escape');
  await page.waitForSelector('#shift-result .notice', { timeout: WAIT });
  check((await page.textContent('#shift-result')).includes('nothing was changed'), 'cancel did not say so');
  check(Number(cli('traffic', 'show', 'site').generation) === g1, 'cancel changed the split');
  passed('traffic-action-cancel');
  await page.click('#shift button[type="submit"]');
  await page.waitForSelector('#confirm[open] #plan', { timeout: WAIT });
  const plan = await page.textContent('#confirm');
  check(plan.includes('split') && plan.includes(E.UI_R2 + '=100%') && plan.includes(E.UI_ACTOR), 'plan: ' + plan);
  await axe('confirmation');
  await shot('confirm');
  await page.click('#confirm-ok');
  await page.waitForSelector('#shift-result .notice.ok', { timeout: WAIT });
  await page.waitForSelector(`#traffic-chart[data-generation="${g1 + 1}"]`, { timeout: WAIT });
  const now = cli('traffic', 'show', 'site');
  check(now.generation === g1 + 1 && now.weights.length === 1 && now.weights[0].revision === E.UI_R2, 'split after: ' + JSON.stringify(now));
  passed('traffic-action');

  // A rollback from the CLI: a new generation, marked as a rollback.
  cli('rollback', '--deployment', 'site');
  await page.waitForSelector('#traffic-chart g[data-rollback="true"]', { timeout: WAIT });
  check((await page.textContent('#traffic-history')).includes('rollback'), 'the history table does not mark the rollback');
  await shot('deployment');
  passed('rollback-live');

  // The audit feed, filtered, shows the action with the dashboard's actor.
  await go('#/audit?env=local&verb=traffic.set', 'audit');
  await page.waitForSelector('#audit tbody tr', { timeout: WAIT });
  const actors = await page.$$eval('#audit tbody tr', (rs) => rs.map((r) => r.dataset.actor + ' ' + r.dataset.verb));
  check(actors.includes(E.UI_ACTOR + ' traffic.set'), 'audit rows: ' + actors);
  check(actors.includes('cli-operator traffic.set'), 'the CLI change is not in the audit: ' + actors);
  await page.fill('#f-actor', E.UI_ACTOR);
  await page.press('#f-actor', 'Enter');
  await page.waitForFunction(() => location.hash.includes('actor='), null, { timeout: WAIT });
  await page.waitForFunction((a) => [...document.querySelectorAll('#audit tbody tr')].every((r) => r.dataset.actor === a), E.UI_ACTOR, { timeout: WAIT });
  await shot('audit');
  await axe('audit');
  passed('audit');

  // Packs: bindings, digests and grants of staging.
  await go('#/env/staging/packs', 'packs');
  const deployer = await page.textContent('#packs tr[data-slot="deployer"]');
  check(deployer.includes('acme.deployer.scripted'), 'packs: ' + deployer);
  const state = await page.textContent('#packs tr[data-slot="state"]');
  check(state.includes('acme.state.memory@1.3.0') && state.includes('http:api.acme.example'), 'no pending upgrade: ' + state);
  await shot('packs');
  await axe('packs');
  await noSecret('the packs view');
  passed('packs');

  // Keyboard: tab from the top to a deployment link, Enter opens it.
  await go('#/', 'ladder');
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => (document.activeElement.getAttribute('href') || '').startsWith('#/env/local/deployments/site'));
  }
  check(reached, 'no deployment link reachable with Tab');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('main').dataset.view !== 'ladder', null, { timeout: WAIT });
  passed('keyboard');

  // Phone width: nothing but the tables' own scrolling regions overflows.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [hash, view] of [['#/', 'ladder'], ['#/env/local/deployments/site', 'deployment']]) {
    await go(hash, view);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(over <= 1, view + ' overflows a phone screen by ' + over + 'px');
    await shot(view + '-phone');
    await axe(view + ' (phone)');
  }
  passed('phone');

  check(axeFindings.length === 0, 'axe-core: ' + JSON.stringify(axeFindings, null, 1));
  passed('axe');

  const leaks = bodies.filter((b) => b.text.includes(E.UI_SECRET)).map((b) => b.url);
  check(leaks.length === 0, 'the secret value is in ' + leaks);
  check(bodies.some((b) => b.url.includes('/api/v1/ladder')), 'no API answer was recorded');
  check(errors.length === 0, 'page errors: ' + errors.join('; '));
  passed('no-secret');
} catch (e) {
  console.error('FAILED: ' + (e && e.stack ? e.stack : e));
  try { await shot('failure'); } catch (_) { /* best effort */ }
  await ctx.close();
  process.exit(1);
}
await ctx.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
