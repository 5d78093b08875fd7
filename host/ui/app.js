// envpack dashboard: a hand-written single page over the JSON API
// (/api/v1/...). Data is only ever put in the page as text nodes (never as
// HTML), the traffic chart is inline SVG drawn here, and the page follows
// /api/v1/events to refresh what it shows when a record changes.
'use strict';

(function () {
  const main = document.getElementById('main');
  const live = document.getElementById('live');
  const SVG = 'http://www.w3.org/2000/svg';
  // Revision colours, distinguishable and dark enough for white labels.
  const PALETTE = ['#1d4f91', '#b4570b', '#1a6b32', '#7b2d8e', '#a4161a', '#0f6b70', '#5c4b00', '#3d3d3d'];

  // ---- DOM helpers: text only, never innerHTML with data ----------------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) el.setAttribute(k, String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid) el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  const enc = encodeURIComponent;
  const pct = (bps) => {
    const v = bps / 100;
    return (Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/0+$/, '').replace(/\.$/, '')) + '%';
  };
  const short = (digest) => (digest || '').replace(/^sha256:/, '').slice(0, 12);
  const slug = (text) => String(text || 'none').toLowerCase().replace(/[^a-z0-9]+/g, '-');
  function badge(state, label) {
    const word = String(state || 'none').split(':')[0].trim();
    return h('span', { class: 'badge s-' + slug(word), text: label || state || 'none' });
  }
  function split(weights) {
    if (!weights || weights.length === 0) return 'no traffic';
    return weights.map((w) => w.revision + ' ' + pct(w.basis_points)).join(' · ');
  }
  function table(caption, head, rows, attrs) {
    return h('div', { class: 'scroll', role: 'region', 'aria-label': caption, tabindex: '0' },
      h('table', attrs || {},
        h('caption', { text: caption }),
        h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', {}, rows)));
  }
  function facts(pairs) {
    return h('dl', { class: 'facts' }, pairs.filter((p) => p).map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v === null || v === undefined || v === '' ? '-' : v)]));
  }
  function notice(text, kind) {
    return h('p', { class: 'notice ' + (kind || ''), role: kind === 'error' ? 'alert' : null }, text);
  }

  // ---- API ---------------------------------------------------------------
  async function api(path, body) {
    const opts = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.method = 'POST';
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch('/api/v1/' + path, opts);
    let env;
    try { env = await resp.json(); } catch (e) { throw new Error('the dashboard answered ' + resp.status + ' without JSON'); }
    if (!env.ok) {
      const err = new Error(env.error.message);
      err.hint = env.error.hint;
      err.kind = env.error.kind;
      throw err;
    }
    return env.result;
  }
  function errorBox(e) {
    return h('div', { class: 'notice error', role: 'alert' },
      h('p', {}, h('strong', { text: 'error: ' }), e.message),
      e.hint ? h('p', {}, 'help: ', h('code', { text: e.hint })) : null);
  }

  // ---- routing -----------------------------------------------------------
  function route() {
    const raw = location.hash.replace(/^#/, '') || '/';
    const [path, query] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const params = new URLSearchParams(query || '');
    if (parts[0] === 'audit') return { view: 'audit', params };
    if (parts[0] === 'env' && parts[2] === 'packs') return { view: 'packs', env: parts[1] };
    if (parts[0] === 'env' && parts[2] === 'deployments' && parts[4] === 'drift') return { view: 'drift', env: parts[1], dep: parts[3] };
    if (parts[0] === 'env' && parts[2] === 'deployments') return { view: 'deployment', env: parts[1], dep: parts[3] };
    return { view: 'ladder' };
  }
  const depHash = (env, dep) => '#/env/' + enc(env) + '/deployments/' + enc(dep);

  let current = null; // { key, refresh }
  let busy = false;
  let again = false;

  async function render(fresh) {
    const r = route();
    const key = location.hash;
    document.querySelectorAll('[data-nav]').forEach((a) => {
      const on = a.dataset.nav === (r.view === 'audit' ? 'audit' : 'ladder');
      if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    if (busy) { again = true; return; }
    busy = true;
    try {
      const views = { ladder, deployment, drift, audit, packs };
      await views[r.view](r, fresh);
      main.dataset.view = r.view;
      main.dataset.route = key;
      main.dataset.loaded = String(Date.now());
      current = key;
    } catch (e) {
      main.replaceChildren(h('h1', { text: 'Cannot show this page' }), errorBox(e));
    } finally {
      busy = false;
      if (again) { again = false; render(false); }
    }
  }

  // Replaces an element's children, skipping absent ones.
  function fill(el, ...kids) {
    el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  }
  function page(title, crumbs, ...body) {
    document.title = title + ' · envpack';
    fill(main, crumbs ? h('p', { class: 'crumbs' }, crumbs) : null, h('h1', { text: title }), body);
  }

  // ---- ladder ------------------------------------------------------------
  async function ladder() {
    const d = await api('ladder');
    const envs = d.environments.map((e) => e.name);
    const cellOf = (env, dep) => d.deployments.find((c) => c.environment === env && c.deployment === dep);
    const rows = d.deployment_names.map((dep) => h('tr', {},
      h('th', { scope: 'row', text: dep }),
      envs.map((env) => {
        const c = cellOf(env, dep);
        if (!c) return h('td', { class: 'cell muted', 'data-env': env, 'data-deployment': dep }, 'not deployed');
        const serving = c.revisions.filter((r) => r.basis_points > 0);
        const top = serving.slice().sort((a, b) => b.basis_points - a.basis_points)[0] || c.revisions[c.revisions.length - 1];
        const health = top && top.health ? top.health : 'not checked';
        return h('td', { class: 'cell', 'data-env': env, 'data-deployment': dep, 'data-drift': c.drift },
          h('p', {}, h('a', { href: depHash(env, dep), class: 'version' }, top ? top.version : '-'),
            top ? h('span', { class: 'muted mono' }, ' ', short(top.bundle)) : null),
          h('ul', { class: 'revs' }, c.revisions.map((r) => h('li', { 'data-revision': r.revision },
            h('span', { class: 'mono' }, r.version + ' ' + pct(r.basis_points)),
            r.lifecycle !== 'ready' || r.basis_points === 0 ? h('span', { class: 'muted' }, ' ' + r.lifecycle) : null))),
          h('p', {}, 'health ', badge(health)),
          h('p', {}, 'drift ', h('a', { href: depHash(env, dep) + '/drift' }, badge(c.drift, c.drift.replace(/-/g, ' ')))));
      })));
    const head = h('tr', {}, h('th', { scope: 'col', text: 'deployment' }),
      d.environments.map((e) => h('th', { scope: 'col' },
        h('span', { text: e.name }), e.production ? [' ', badge('accepted', 'production')] : null,
        h('br'), h('span', { class: 'muted' }, e.after ? 'after ' + e.after : 'first rung'),
        h('br'), h('a', { href: '#/env/' + enc(e.name) + '/packs' }, 'packs'))));
    const grid = d.deployment_names.length === 0
      ? notice('No deployments yet. Deploy one: envpack deploy BUNDLE --env ' + (envs[0] || 'local'))
      : h('div', { class: 'scroll', role: 'region', 'aria-label': 'environments by deployment', tabindex: '0' },
        h('table', { id: 'ladder' }, h('caption', { text: 'Environments (columns, in ladder order) × deployments (rows)' }),
          h('thead', {}, head), h('tbody', {}, rows)));
    const promos = d.promotions.map((p) => h('li', { class: 'card', 'data-from': p.from, 'data-to': p.to, 'data-deployment': p.deployment, 'data-state': p.state },
      h('h3', {}, p.from + ' → ' + p.to + ': ' + p.deployment),
      h('p', {}, p.version + ' ', h('span', { class: 'mono muted', text: short(p.bundle) }), ' ', badge(p.state)),
      p.checks.length ? h('ul', { class: 'checks' }, p.checks.map((c) => h('li', {},
        badge(c.passed ? 'ok' : 'failed', c.passed ? 'passes' : 'needs'), ' ', h('strong', { text: c.check }), ': ', c.detail,
        c.fix ? [' — ', h('code', { text: c.fix })] : null))) : null,
      p.refusal && !p.checks.some((c) => !c.passed) ? h('p', {}, p.refusal) : null,
      // A blocked card's fixes are on its failed checks already.
      p.next && !p.checks.some((c) => !c.passed && c.fix) ? h('p', {}, p.state === 'blocked' ? 'fix: ' : 'next: ', h('code', { text: p.next })) : null));
    const failed = d.failed.map((f) => notice(f.environment + ': cannot report: ' + f.error, 'error'));
    const gates = d.environments.filter((e) => e.after).map((e) => h('li', {},
      h('strong', { text: e.after + ' → ' + e.name }), ': ', gateText(e.gate)));
    page('Ladder', null, failed, grid,
      h('h2', { text: 'Promotion path' }),
      gates.length ? h('ul', {}, gates) : h('p', { class: 'muted' }, 'No environment promotes from another (envpack env policy ENV --after PREV).'),
      promos.length ? h('ul', { class: 'cards', id: 'promotions' }, promos) : h('p', { class: 'muted' }, 'Nothing waits to be promoted.'));
  }
  function duration(secs) {
    if (secs % 86400 === 0) return secs / 86400 + 'd';
    if (secs % 3600 === 0) return secs / 3600 + 'h';
    if (secs % 60 === 0) return secs / 60 + 'm';
    return secs + 's';
  }
  function gateText(g) {
    const parts = ['carried traffic'];
    if (g && g.evidence && g.evidence.length) parts.push('evidence ' + g.evidence.join(', '));
    if (g && g.soak) parts.push('soak of ' + pct(g.soak.min_basis_points) + ' for ' + duration(g.soak.min_seconds));
    if (g && g.no_drift) parts.push('no drift');
    return 'gate: ' + parts.join('; ');
  }

  // ---- deployment --------------------------------------------------------
  let shiftFor = null; // the route key whose traffic form is on the page
  let shiftNotice = null; // { hash, node }: the last outcome, kept across refreshes
  async function deployment(r, fresh) {
    const d = await api('env/' + enc(r.env) + '/deployments/' + enc(r.dep));
    const colour = colours(d.revisions);
    // A form being filled in stays as it is; an untouched one follows the split.
    const open = document.getElementById('shift');
    const keep = !fresh && shiftFor === location.hash && open &&
      (open.contains(document.activeElement) || open.dataset.dirty === '1');
    const form = keep ? document.getElementById('shift-section') : shiftSection(r, d);
    const st = d.status;
    const summary = facts([
      ['environment', d.environment],
      ['generation', String(d.generation)],
      ['split', split(d.weights)],
      ['drift', st ? h('a', { href: depHash(r.env, r.dep) + '/drift' }, badge(st.drift, st.drift.replace(/-/g, ' '))) : '-'],
      ['canary', d.canary ? d.canary.revision + ' (' + d.canary.version + ') at ' + d.canary.share + (d.canary.age ? ', for ' + d.canary.age.replace(/ ago$/, '') : '') : 'none (one revision serves)'],
    ]);
    const revRows = d.revisions.filter((x) => x.lifecycle !== 'archived').map((x) => {
      const s2 = st ? st.revisions.find((y) => y.revision === x.id) : null;
      return h('tr', { 'data-revision': x.id },
        h('th', { scope: 'row' }, h('span', { class: 'swatch', 'aria-hidden': 'true', 'data-colour': colour(x.id) }), x.id),
        h('td', { text: x.version }), h('td', { class: 'mono', text: short(x.bundle) }), h('td', { text: x.source }),
        h('td', {}, badge(x.lifecycle)), h('td', { text: pct(x.basis_points) }),
        h('td', {}, s2 ? s2.observed : '-'), h('td', {}, s2 && s2.health ? badge(s2.health) : '-'),
        h('td', { text: x.created }));
    });
    const trafficRows = d.traffic_history.slice().reverse().map((t) => h('tr', { 'data-generation': t.generation },
      h('th', { scope: 'row', text: String(t.generation) }), h('td', { text: t.at }),
      h('td', {}, t.rollback ? badge('accepted', 'rollback') : t.cause), h('td', { class: 'mono', text: split(t.weights) })));
    page(r.dep + ' in ' + r.env, h('a', { href: '#/' }, '← Ladder'),
      summary,
      h('h2', { id: 'chart-title', text: 'Traffic over time' }),
      chart(d.traffic_history, colour),
      h('ul', { class: 'legend' }, d.revisions.filter((x) => d.traffic_history.some((t) => t.weights.some((w) => w.revision === x.id))).map((x) =>
        h('li', {}, h('span', { class: 'swatch', 'aria-hidden': 'true', 'data-colour': colour(x.id) }), x.id + ' (' + x.version + ')'))),
      table('Every traffic generation, newest first', ['generation', 'at', 'cause', 'split'], trafficRows, { id: 'traffic-history' }),
      h('h2', { text: 'Revisions' }),
      table('Revisions with lifecycle and observed state', ['revision', 'version', 'bundle', 'source', 'lifecycle', 'traffic', 'observed', 'health', 'created'], revRows, { id: 'revisions' }),
      form);
    paintSwatches();
    shiftFor = location.hash;
  }
  function colours(revisions) {
    const order = revisions.map((x) => x.id);
    return (id) => PALETTE[Math.max(0, order.indexOf(id)) % PALETTE.length];
  }
  function paintSwatches() {
    // CSP allows no inline style attributes; CSSOM assignments are fine.
    document.querySelectorAll('[data-colour]').forEach((el) => { el.style.background = el.dataset.colour; });
  }

  // The traffic split over time: one stacked bar per generation, rollbacks
  // outlined and labelled.
  function chart(history, colour) {
    const W = 800, H = 270, L = 44, B = 36, T = 24, R = 10;
    const n = Math.max(history.length, 1);
    const step = (W - L - R) / n;
    const bar = Math.max(4, Math.min(60, step * 0.7));
    const y = (bps) => T + (H - T - B) * (1 - bps / 10000);
    const last = history[history.length - 1];
    const svg = s('svg', {
      class: 'chart', id: 'traffic-chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img',
      'aria-labelledby': 'chart-title chart-desc', 'data-generation': last ? last.generation : 0,
    }, s('desc', { id: 'chart-desc' }, history.length + ' generations; now ' + (last ? split(last.weights) : 'no traffic') + '. The table below lists every generation.'));
    for (const p of [0, 25, 50, 75, 100]) {
      svg.append(s('line', { x1: L, x2: W - R, y1: y(p * 100), y2: y(p * 100), stroke: '#c9d1d9' }),
        s('text', { x: L - 6, y: y(p * 100) + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#4a5460' }, p + '%'));
    }
    history.forEach((t, i) => {
      const x = L + i * step + (step - bar) / 2;
      const g = s('g', { 'data-generation': t.generation, 'data-rollback': t.rollback ? 'true' : 'false' });
      let acc = 0;
      for (const w of t.weights) {
        const top = y(acc + w.basis_points), bottom = y(acc);
        g.append(s('rect', { x, y: top, width: bar, height: Math.max(0, bottom - top), fill: colour(w.revision), 'data-revision': w.revision, 'data-bps': w.basis_points },
          s('title', {}, 'generation ' + t.generation + ': ' + w.revision + ' ' + pct(w.basis_points))));
        acc += w.basis_points;
      }
      if (t.rollback) {
        g.append(s('rect', { x: x - 2, y: y(10000) - 2, width: bar + 4, height: y(0) - y(10000) + 4, fill: 'none', stroke: '#a4161a', 'stroke-width': 2, 'stroke-dasharray': '4 3' }),
          s('text', { x: x + bar / 2, y: T - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#a4161a' }, '↺ rollback'));
      }
      if (n <= 40 || i % Math.ceil(n / 40) === 0) {
        g.append(s('text', { x: x + bar / 2, y: H - B + 16, 'text-anchor': 'middle', 'font-size': 12, fill: '#1b1f24' }, String(t.generation)));
      }
      svg.append(g);
    });
    svg.append(s('text', { x: L + (W - L - R) / 2, y: H - 4, 'text-anchor': 'middle', 'font-size': 12, fill: '#4a5460' }, 'traffic generation'));
    return svg;
  }

  // The one change: shift traffic, plan first, then explicit confirmation.
  function shiftSection(r, d) {
    const ready = d.revisions.filter((x) => x.lifecycle === 'ready' || x.basis_points > 0);
    const msg = h('div', { id: 'shift-result', 'aria-live': 'polite' },
      shiftNotice && shiftNotice.hash === location.hash ? shiftNotice.node : null);
    const say = (node) => { shiftNotice = { hash: location.hash, node }; msg.replaceChildren(node); };
    const inputs = ready.map((x) => h('label', {}, x.id + ' (' + x.version + ') %',
      h('input', { type: 'number', min: '0', max: '100', step: '0.01', name: x.id, value: String(x.basis_points / 100), 'data-revision': x.id })));
    const submit = async (ev) => {
      ev.preventDefault();
      shiftNotice = null;
      msg.replaceChildren();
      const weights = [...ev.target.querySelectorAll('input[data-revision]')]
        .filter((i) => i.value !== '' && Number(i.value) > 0)
        .map((i) => i.dataset.revision + '=' + i.value + '%');
      try {
        const plan = await api('env/' + enc(r.env) + '/deployments/' + enc(r.dep) + '/traffic', { weights });
        const ok = await confirmPlan(plan);
        if (!ok) { say(notice('Cancelled: nothing was changed.')); return; }
        const out = await api('env/' + enc(r.env) + '/deployments/' + enc(r.dep) + '/traffic', { weights, confirm: true, generation: plan.generation });
        say(notice(out.outcome + ': ' + out.deployment + ' generation ' + out.generation + ': ' + split(out.weights) + ' (audited as ' + plan.actor.name + ')', 'ok'));
        // Done: the form shows the new split.
        ev.target.dataset.dirty = '';
        document.activeElement.blur();
        render(false);
      } catch (e) {
        say(errorBox(e));
      }
    };
    return h('section', { id: 'shift-section', 'aria-labelledby': 'shift-title' },
      h('h2', { id: 'shift-title', text: 'Shift traffic' }),
      h('p', { class: 'muted' }, 'Shows the plan first, then asks to confirm; performed as envpack traffic set and written to the audit log with your actor.'),
      h('form', { class: 'shift', id: 'shift', onsubmit: submit, oninput: (ev) => { ev.currentTarget.dataset.dirty = '1'; } }, inputs,
        h('button', { type: 'submit', class: 'primary' }, 'Review plan…')),
      msg);
  }
  function confirmPlan(plan) {
    const dlg = document.getElementById('confirm');
    const body = document.getElementById('confirm-body');
    const p = plan.plan;
    fill(body,
      plan.production ? notice(p.environment + ' is a production environment.', 'error') : null,
      h('p', {}, p.verb + ' ' + p.target + ' in ' + p.environment + ', as ', h('strong', { text: plan.actor.name }), ' (' + plan.actor.source + '):'),
      table('Planned changes', ['what', 'before', 'after'], p.changes.map((c) => h('tr', {},
        h('th', { scope: 'row', text: c.what }), h('td', { class: 'mono', text: c.before }), h('td', { class: 'mono', text: c.after }))), { id: 'plan' }));
    return new Promise((resolve) => {
      const done = () => { dlg.removeEventListener('close', done); resolve(dlg.returnValue === 'confirm'); };
      dlg.returnValue = 'cancel';
      dlg.addEventListener('close', done);
      dlg.showModal();
      document.getElementById('confirm-cancel').focus();
    });
  }

  // ---- drift -------------------------------------------------------------
  async function drift(r) {
    const d = await api('env/' + enc(r.env) + '/deployments/' + enc(r.dep) + '/drift');
    const rows = d.drift.map((x) => h('tr', { 'data-entry': x.entry.id, 'data-accepted': String(x.accepted) },
      h('th', { scope: 'row', class: 'mono', text: x.entry.id }), h('td', { text: x.entry.kind }), h('td', { text: x.entry.between }),
      h('td', { text: x.entry.revision }), h('td', { text: x.entry.field }),
      h('td', { class: 'mono', text: x.entry.expected || '-' }), h('td', { class: 'mono', text: x.entry.observed || '-' }),
      h('td', { text: x.first_seen || '-' }),
      h('td', {}, x.accepted ? [badge('accepted', 'accepted'), ' ', x.acceptance.reason + ' (' + x.acceptance.actor + ', ' + x.acceptance.at + ')'] : badge('drifted', 'not accepted'))));
    const records = d.records.map((x) => h('section', { class: 'record', 'data-revision': x.revision, 'aria-labelledby': 'rec-' + slug(x.revision) },
      h('h3', { id: 'rec-' + slug(x.revision), text: 'Revision ' + x.revision }),
      h('div', { class: 'triple' },
        h('section', {}, h('h4', { text: 'Intent (the bundle)' }), x.intent ? facts([
          ['bundle', h('span', { class: 'mono', text: short(x.intent.bundle) })], ['version', x.intent.version], ['source', x.intent.source],
          ['files', Object.keys(x.intent.files || {}).length + ' file(s)'], x.intent.problem ? ['problem', x.intent.problem] : null]) : h('p', { class: 'muted' }, 'none: not deployed here')),
        h('section', {}, h('h4', { text: 'Expectation (the records)' }), x.expectation ? facts([
          ['lifecycle', x.expectation.lifecycle], ['traffic', pct(x.expectation.basis_points)], ['running', x.expectation.running ? 'yes' : 'no'],
          ['endpoint', x.expectation.endpoint]]) : h('p', { class: 'muted' }, 'none: the environment does not expect it')),
        h('section', {}, h('h4', { text: 'Reality (observed)' }), x.reality ? facts([
          ['state', x.reality.state], ['bundle', x.reality.bundle ? h('span', { class: 'mono', text: short(x.reality.bundle) }) : '-'],
          ['endpoint', x.reality.endpoint], ['files', Object.keys(x.reality.files || {}).length + ' file(s)'],
          ...Object.entries(x.reality.attributes || {}).map(([k, v]) => [k, v])]) : h('p', { class: 'muted' }, d.unobservable ? 'unobservable' : 'not observed')))));
    page('Drift of ' + r.dep + ' in ' + r.env, [h('a', { href: '#/' }, '← Ladder'), ' · ', h('a', { href: depHash(r.env, r.dep) }, r.dep)],
      h('p', {}, 'State ', badge(d.state, d.state.replace(/-/g, ' ')), ' · snapshot ', h('span', { class: 'mono', text: short(d.snapshot) }), ' · observed ' + d.at + ' by ' + d.observer.pack),
      d.unobservable ? notice('The deployer could not say what runs: ' + d.unobservable, 'error') : null,
      h('h2', { text: 'Drift entries' }),
      rows.length ? table('Each difference, with when it first appeared and whether it was accepted', ['id', 'kind', 'between', 'revision', 'field', 'expected', 'observed', 'first seen', 'accepted'], rows, { id: 'drift-entries' })
        : h('p', { id: 'no-drift' }, d.unobservable ? 'No entries: an unobservable environment is never counted as in sync.' : 'No drift: reality matches expectation, and expectation matches intent.'),
      rows.some((x) => x.dataset.accepted === 'false') ? h('p', { class: 'muted' }, 'To record an entry as known: ', h('code', { text: 'envpack drift accept ' + d.drift.find((x) => !x.accepted).entry.id + ' --reason "why" --env ' + r.env })) : null,
      h('h2', { text: 'Intent, expectation and reality' }), records);
  }

  // ---- audit -------------------------------------------------------------
  async function audit(r) {
    const p = r.params;
    const q = ['env', 'actor', 'verb'].filter((k) => p.get(k)).map((k) => k + '=' + enc(p.get(k))).join('&');
    const events = await api('audit' + (q ? '?' + q : ''));
    const field = (name, label) => h('label', {}, label, h('input', { name, id: 'f-' + name, value: p.get(name) || '', autocomplete: 'off' }));
    const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the audit feed', onsubmit: (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const qs = ['env', 'actor', 'verb'].filter((k) => f.get(k)).map((k) => k + '=' + enc(f.get(k))).join('&');
      location.hash = '#/audit' + (qs ? '?' + qs : '');
    } }, field('env', 'Environment'), field('actor', 'Actor'), field('verb', 'Verb (traffic, traffic.set…)'),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'), h('a', { href: '#/audit' }, 'Clear'));
    const change = (e) => (e.before_generation !== undefined && e.after_generation !== undefined)
      ? 'generation ' + e.before_generation + '→' + e.after_generation : '-';
    const rows = events.slice().reverse().map((e) => h('tr', { 'data-verb': e.verb, 'data-actor': e.actor },
      h('td', { text: e.at }), h('td', { text: e.environment }), h('td', { text: e.actor }), h('td', { text: e.verb }),
      h('td', { text: e.target }), h('td', { text: change(e) }), h('td', {}, badge(e.result)),
      h('td', { class: 'mono', text: e.command || '-' })));
    const focused = document.activeElement && document.activeElement.id;
    page('Audit', null, form,
      rows.length ? table(events.length + ' event(s), newest first', ['at', 'env', 'actor', 'verb', 'target', 'change', 'result', 'command'], rows, { id: 'audit' })
        : h('p', { id: 'no-events' }, 'No events match.'));
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }

  // ---- packs -------------------------------------------------------------
  async function packs(r) {
    const d = await api('env/' + enc(r.env) + '/packs');
    const list = (caps) => (caps && caps.length ? caps.join(' ') : 'none');
    const rows = d.slots.map((x) => h('tr', { 'data-slot': x.slot },
      h('th', { scope: 'row', text: x.slot }), h('td', { class: 'mono', text: x.descriptor }), h('td', { class: 'mono', text: x.requirement }),
      h('td', { class: 'mono', text: short(x.digest) }), h('td', { class: 'mono', text: list(x.grants) }),
      h('td', {}, x.upgrade ? (x.upgrade.error ? x.upgrade.descriptor + ': ' + x.upgrade.error : [
        h('span', { class: 'mono', text: x.upgrade.descriptor }),
        h('br'), '+ ' + list(x.upgrade.added), h('br'), '− ' + list(x.upgrade.removed),
        x.upgrade.not_granted.length ? [h('br'), badge('failed', 'needs grants'), ' ', list(x.upgrade.not_granted)] : null,
        h('br'), h('code', { text: x.upgrade.command })]) : 'up to date')));
    page('Packs of ' + r.env, h('a', { href: '#/' }, '← Ladder'),
      facts([['mode', d.mode], ['lock generation', String(d.lock_generation)], ['production', d.policy.production ? 'yes' : 'no'],
        ['after', d.policy.after || '-']]),
      table('Slot bindings, digests and grants; the capability diff of a pending upgrade', ['slot', 'pack', 'requirement', 'digest', 'grants', 'pending upgrade'], rows, { id: 'packs' }));
  }

  // ---- live updates ------------------------------------------------------
  let timer = null;
  function connect() {
    const es = new EventSource('/api/v1/events');
    es.addEventListener('ready', () => { live.textContent = 'live'; live.dataset.state = 'live'; });
    es.addEventListener('change', (ev) => {
      live.textContent = 'live · updated ' + new Date().toLocaleTimeString();
      clearTimeout(timer);
      // A page being confirmed or filled in is left alone until it is done.
      if (document.getElementById('confirm').open) return;
      timer = setTimeout(() => render(false), 100);
    });
    es.onerror = () => { live.textContent = 'reconnecting…'; live.dataset.state = 'down'; };
  }

  window.addEventListener('hashchange', () => { render(true).then(() => main.focus()); });
  render(true);
  connect();
})();
