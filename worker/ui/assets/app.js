// Ferry's dashboard. It talks only to the public REST API of the worker that
// served it (docs/rest.md), same-origin, and renders with DOM calls and
// textContent only: names, configs and traces never become markup.
'use strict';

(() => {
  // ?refresh=N (seconds, 1–60) sets how often the page reloads its data
  // and samples /metrics; default 5.
  const REFRESH_MS = (() => {
    const n = Number(new URLSearchParams(location.search).get('refresh'));
    return Number.isInteger(n) && n >= 1 && n <= 60 ? n * 1000 : 5000;
  })();
  const HISTORY_MS = 10 * 60 * 1000;
  const RATE_WINDOW_MS = Math.max(2 * REFRESH_MS, 10000);
  const TOKEN_KEY = 'ferry.token';
  const READONLY_KEY = 'ferry.readonly';
  const SVG = 'http://www.w3.org/2000/svg';

  const st = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    readOnly: sessionStorage.getItem(READONLY_KEY) === '1',
    info: null, // GET /
    cluster: undefined, // GET /cluster; null when standalone
    list: null, // GET /connectors?expand=status&expand=info
    detail: null, // the open connector: {name, info, status, offsets}
    metricsError: '',
    // Per connector: {prev: {task: counters}, points: [{t, in, out, written, filtered, errors, dlq, lag}]},
    // and the totals of the last scrape.
    series: new Map(),
    totals: new Map(),
    samples: 0, // scrapes of /metrics so far; rates need two
    filter: { name: '', state: '' },
    error: '', // what the last refresh could not load
    timer: 0,
    rendered: false,
  };

  // ---------------------------------------------------------------- DOM

  const $ = (sel) => document.querySelector(sel);

  // h builds an element: h('td', {class: 'x', title: 't'}, child, 'text', …).
  // Strings become text nodes; attributes are set with setAttribute, and
  // "on*" keys add listeners.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function svg(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }

  // ---------------------------------------------------------------- API

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function request(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (st.token) headers.Authorization = 'Bearer ' + st.token;
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET') {
      // The worker's browser guard refuses writes that are not JSON.
      headers['Content-Type'] = 'application/json';
      if (body !== undefined) init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, 'the worker did not answer (' + e.message + ')');
    }
    const text = await res.text();
    if (!res.ok) {
      let msg = res.status + ' ' + res.statusText;
      try {
        const e = JSON.parse(text);
        if (e && e.message) msg = e.message;
      } catch (_) { /* not JSON: keep the status line */ }
      throw new APIError(res.status, msg);
    }
    return text;
  }

  async function api(method, path, body) {
    const text = await request(method, path, body);
    return text ? JSON.parse(text) : null;
  }

  const enc = encodeURIComponent;
  const cpath = (name) => '/connectors/' + enc(name);

  // ---------------------------------------------------------------- metrics

  // The task counters sampled from /metrics, by the key each is kept under.
  const COUNTERS = {
    ferry_source_task_source_record_poll_total: 'in',
    ferry_source_task_source_record_write_total: 'written',
    ferry_task_record_filtered_total: 'filtered',
    ferry_sink_task_sink_record_ack_total: 'out',
    ferry_task_error_record_errors_total: 'errors',
    ferry_task_error_deadletterqueue_produce_requests_total: 'dlq',
  };
  const KEYS = Object.values(COUNTERS);

  // parseMetrics reads the Prometheus text format, keeping the counters
  // above: connector → task → {in, out, …}.
  function parseMetrics(text) {
    const out = new Map();
    for (const line of text.split('\n')) {
      if (!line.startsWith('ferry_')) continue;
      const brace = line.indexOf('{');
      if (brace < 0) continue;
      const key = COUNTERS[line.slice(0, brace)];
      if (!key) continue;
      const end = line.lastIndexOf('}');
      const labels = parseLabels(line.slice(brace + 1, end));
      const value = Number(line.slice(end + 1).trim().split(' ')[0]);
      if (labels.connector === undefined || !Number.isFinite(value)) continue;
      let tasks = out.get(labels.connector);
      if (!tasks) out.set(labels.connector, (tasks = new Map()));
      let c = tasks.get(labels.task);
      if (!c) tasks.set(labels.task, (c = {}));
      c[key] = value;
    }
    return out;
  }

  function parseLabels(s) {
    const labels = {};
    let i = 0;
    while (i < s.length) {
      const eq = s.indexOf('="', i);
      if (eq < 0) break;
      const name = s.slice(i, eq).replace(/^[,\s]+/, '');
      let j = eq + 2;
      let v = '';
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length) {
          j++;
          v += s[j] === 'n' ? '\n' : s[j];
        } else v += s[j];
      }
      labels[name] = v;
      i = j + 1;
    }
    return labels;
  }

  // sample turns one scrape into rates per connector. Each task's counters
  // are compared with the previous scrape (a counter that went down
  // restarted with its task and counts from zero) and the increase is
  // added to the connector's running sums; a rate is the increase of a sum
  // over the last RATE_WINDOW_MS, as Prometheus' rate() over a range, so
  // sinks that acknowledge in bursts do not draw a saw.
  function sample(scrape, now) {
    st.totals = new Map();
    for (const [name, tasks] of scrape) {
      let s = st.series.get(name);
      if (!s) st.series.set(name, (s = { prev: new Map(), sums: null, hist: [], points: [] }));
      const total = {};
      for (const k of KEYS) total[k] = 0;
      const first = !s.sums;
      if (first) s.sums = { ...total };
      for (const [task, c] of tasks) {
        const p = s.prev.get(task);
        for (const k of KEYS) {
          const v = c[k] || 0;
          total[k] += v;
          if (p) s.sums[k] += v >= (p[k] || 0) ? v - (p[k] || 0) : v;
        }
      }
      st.totals.set(name, total);
      s.prev = tasks;
      s.hist.push({ t: now, sums: { ...s.sums } });
      while (s.hist.length > 2 && s.hist[1].t <= now - RATE_WINDOW_MS) s.hist.shift();
      const from = s.hist[0];
      const dt = (now - from.t) / 1000;
      if (!first && dt > 0) {
        const rate = {};
        for (const k of KEYS) rate[k] = (s.sums[k] - from.sums[k]) / dt;
        s.points.push({ t: now, ...rate, lag: lagOf(name) });
      }
      while (s.points.length && s.points[0].t < now - HISTORY_MS) s.points.shift();
    }
  }

  async function scrapeMetrics() {
    try {
      const text = await request('GET', '/metrics');
      sample(parseMetrics(text), Date.now());
      st.samples++;
      st.metricsError = '';
    } catch (e) {
      st.metricsError = e.message;
    }
  }

  function rateOf(name, key) {
    const s = st.series.get(name);
    const p = s && s.points[s.points.length - 1];
    return p ? p[key] : undefined;
  }

  // ---------------------------------------------------------------- status

  function taskLag(t) {
    if (!t.lag) return undefined;
    let sum = 0;
    for (const v of Object.values(t.lag)) sum += Number(v) || 0;
    return sum;
  }

  function lagOf(name) {
    const status = statusOf(name);
    if (!status) return undefined;
    let sum;
    for (const t of status.tasks || []) {
      const l = taskLag(t);
      if (l !== undefined) sum = (sum || 0) + l;
    }
    return sum;
  }

  function statusOf(name) {
    if (st.detail && st.detail.name === name && st.detail.status) return st.detail.status;
    const e = st.list && st.list[name];
    return e && e.status;
  }

  const firstLine = (s) => (s || '').split('\n')[0];

  // condition sums a connector's status up: FAILED when it or a task
  // failed, RETRYING when a running task retries, else the connector's
  // own state. problem is the first error line and since when.
  function condition(status) {
    if (!status) return { state: 'UNKNOWN', problem: '', since: '' };
    const tasks = status.tasks || [];
    const c = status.connector || {};
    const failed = tasks.filter((t) => t.state === 'FAILED');
    const retrying = tasks.filter((t) => t.health === 'retrying');
    if (c.state === 'FAILED') return { state: 'FAILED', problem: firstLine(c.trace), since: '' };
    if (failed.length) return { state: 'FAILED', problem: 'task ' + failed[0].id + ': ' + firstLine(failed[0].trace), since: '' };
    const restarting = tasks.filter((t) => t.state === 'RESTARTING' && t.trace);
    if (restarting.length) return { state: 'RESTARTING', problem: 'task ' + restarting[0].id + ': ' + firstLine(restarting[0].trace), since: '' };
    if (retrying.length) {
      const since = retrying.map((t) => t.since).filter(Boolean).sort()[0] || '';
      return { state: 'RETRYING', problem: 'task ' + retrying[0].id + ': ' + firstLine(retrying[0].last_error || retrying[0].trace), since };
    }
    return { state: c.state || 'UNKNOWN', problem: '', since: '' };
  }

  // Problems, worst first: failed; a task restarting after a crash; retrying.
  const SEVERITY = { FAILED: 0, RESTARTING: 1, RETRYING: 2 };
  const isProblem = (state) => state in SEVERITY;

  // ---------------------------------------------------------------- formatting

  function fmtNum(n) {
    if (n === undefined || n === null || Number.isNaN(n)) return '—';
    if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    if (n >= 100 || Number.isInteger(n)) return Math.round(n).toString();
    return n.toFixed(1);
  }

  function fmtAgo(iso) {
    if (!iso) return '';
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return iso;
    let s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's ago';
    s = Math.floor(s / 60);
    if (s < 1440) return Math.floor(s / 60) + 'h ' + (s % 60) + 'm ago';
    return Math.floor(s / 1440) + 'd ago';
  }

  const plural = (n, word) => n + ' ' + word + (n === 1 ? '' : 's');

  const badge = (state) => h('span', { class: 'badge s-' + state.toLowerCase() }, state);

  function since(iso) {
    return iso ? h('time', { datetime: iso, title: iso }, 'since ' + fmtAgo(iso)) : '';
  }

  // ---------------------------------------------------------------- messages

  function flash(msg, kind) {
    const el = $('#flash');
    el.textContent = msg;
    el.className = 'flash ' + (kind || 'info');
    clearTimeout(flash.timer);
    if (kind !== 'error') flash.timer = setTimeout(() => el.classList.add('hidden'), 6000);
  }

  // explain turns an API error into what the operator can do about it.
  // what names the action; empty for loading the page's data.
  function explain(e, what) {
    const prefix = what ? what + ': ' : '';
    if (e.status === 401) {
      showTokenForm(true);
      return prefix + 'this worker requires credentials. Paste an API token above. (' + e.message + ')';
    }
    if (e.status === 403 && /role/.test(e.message)) {
      setReadOnly(true);
      return prefix + 'your token may only read (' + e.message + '). Actions need an admin token.';
    }
    return prefix + e.message;
  }

  function setReadOnly(on) {
    st.readOnly = on;
    if (on) sessionStorage.setItem(READONLY_KEY, '1');
    else sessionStorage.removeItem(READONLY_KEY);
  }

  // ---------------------------------------------------------------- token

  function showTokenForm(show) {
    $('#token-form').classList.toggle('hidden', !show);
    if (show) $('#token-input').focus();
  }

  function setupFlash() {
    $('#flash').addEventListener('click', () => $('#flash').classList.add('hidden'));
  }

  function setupToken() {
    $('#token-toggle').addEventListener('click', () => showTokenForm($('#token-form').classList.contains('hidden')));
    $('#token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      st.token = $('#token-input').value.trim();
      $('#token-input').value = '';
      if (st.token) sessionStorage.setItem(TOKEN_KEY, st.token);
      else sessionStorage.removeItem(TOKEN_KEY);
      setReadOnly(false);
      showTokenForm(false);
      updateTokenButton();
      flash(st.token ? 'Token set for this tab.' : 'Token cleared.');
      refresh();
    });
    $('#token-clear').addEventListener('click', () => {
      st.token = '';
      sessionStorage.removeItem(TOKEN_KEY);
      setReadOnly(false);
      showTokenForm(false);
      updateTokenButton();
      flash('Token forgotten.');
      refresh();
    });
    updateTokenButton();
  }

  function updateTokenButton() {
    $('#token-toggle').textContent = st.token ? 'Token ✓' : 'Token';
  }

  // ---------------------------------------------------------------- confirm

  // confirmTyped asks the operator to type name before a destructive
  // action; it resolves true only for an exact match.
  function confirmTyped(text, name) {
    const dlg = $('#confirm');
    const input = $('#confirm-input');
    const ok = $('#confirm-ok');
    $('#confirm-text').textContent = text;
    $('#confirm-name').textContent = name;
    input.value = '';
    ok.disabled = true;
    return new Promise((resolve) => {
      const done = (v) => {
        input.removeEventListener('input', onInput);
        ok.removeEventListener('click', onOK);
        $('#confirm-cancel').removeEventListener('click', onCancel);
        dlg.removeEventListener('cancel', onCancel);
        if (dlg.open) dlg.close();
        resolve(v);
      };
      const onInput = () => { ok.disabled = input.value !== name; };
      const onOK = () => done(input.value === name);
      const onCancel = () => done(false);
      input.addEventListener('input', onInput);
      ok.addEventListener('click', onOK);
      $('#confirm-cancel').addEventListener('click', onCancel);
      dlg.addEventListener('cancel', onCancel);
      dlg.showModal();
      input.focus();
    });
  }

  // ---------------------------------------------------------------- actions

  // act runs one write and refreshes twice: at once, and after a second,
  // when tasks have had time to change state. confirmText, when given,
  // asks for the connector's name first; then, when given, runs instead
  // of the refreshes (after a delete).
  async function act(label, method, path, confirmText, then) {
    if (confirmText && !(await confirmTyped(confirmText, st.detail.name))) return;
    try {
      const res = await api(method, path);
      flash(label + ': done' + (res && res.message ? ' — ' + res.message : '.'));
    } catch (e) {
      flash(explain(e, label), 'error');
      render();
      return;
    }
    if (then) return then();
    await refresh();
    setTimeout(refresh, 1000);
  }

  function actionButton(label, enabled, why, onclick, cls) {
    const disabled = st.readOnly || !enabled;
    const title = st.readOnly ? 'your token may only read; actions need an admin token' : enabled ? '' : why;
    return h('button', { type: 'button', class: cls, 'data-action': label.toLowerCase().replace(/\s+/g, '-'),
      disabled, title: title || undefined, onclick }, label);
  }

  // ---------------------------------------------------------------- data

  async function loadCommon() {
    const [info, cluster] = await Promise.allSettled([
      st.info ? Promise.resolve(st.info) : api('GET', '/'),
      api('GET', '/cluster'),
    ]);
    if (info.status === 'fulfilled') st.info = info.value;
    else throw info.reason;
    if (cluster.status === 'fulfilled') st.cluster = cluster.value;
    else if (cluster.reason.status === 404) st.cluster = null; // standalone
    else throw cluster.reason;
  }

  async function loadOverview() {
    st.list = await api('GET', '/connectors?expand=status&expand=info');
  }

  async function loadDetail(name) {
    const [info, status, offsets] = await Promise.allSettled([
      api('GET', cpath(name)),
      api('GET', cpath(name) + '/status'),
      api('GET', cpath(name) + '/offsets'),
    ]);
    if (info.status === 'rejected') throw info.reason;
    st.detail = {
      name,
      info: info.value,
      status: status.status === 'fulfilled' ? status.value : null,
      statusError: status.status === 'rejected' ? status.reason.message : '',
      offsets: offsets.status === 'fulfilled' ? offsets.value : null,
      offsetsError: offsets.status === 'rejected' ? offsets.reason.message : '',
    };
  }

  let inflight = null;

  // refresh loads what the current page shows, samples /metrics, renders,
  // and schedules the next refresh.
  function refresh() {
    if (inflight) return inflight;
    clearTimeout(st.timer);
    inflight = (async () => {
      const route = parseRoute();
      // The metrics (the largest answer) load beside the rest: the page
      // renders as soon as the rest is in, then again with the rates.
      const metrics = scrapeMetrics();
      try {
        await Promise.all([loadCommon(), route.name !== undefined ? loadDetail(route.name) : loadOverview()]);
        st.error = '';
      } catch (e) {
        if (e.status === 404 && route.name !== undefined) {
          st.detail = null;
          st.error = 'connector "' + route.name + '" not found (deleted?)';
        } else st.error = explain(e, '');
      }
      render();
      await metrics;
      render();
      // Marks for docs/benchmarks.md: the first render with the counters,
      // and the first with rates (two samples).
      for (const [mark, n] of [['ferry-counts', 1], ['ferry-rates', 2]]) {
        if (st.samples >= n && !performance.getEntriesByName(mark).length) performance.mark(mark);
      }
      $('#refreshed').textContent = 'updated ' + new Date().toLocaleTimeString();
    })().finally(() => {
      inflight = null;
      // The second sample comes sooner, so rates show within a second.
      st.timer = setTimeout(refresh, st.samples === 1 ? Math.min(1000, REFRESH_MS) : REFRESH_MS);
    });
    return inflight;
  }

  // ---------------------------------------------------------------- routing

  function parseRoute() {
    const m = location.hash.match(/^#\/c\/(.*)$/);
    if (m) {
      try {
        return { name: decodeURIComponent(m[1]) };
      } catch (_) { /* a malformed escape: show the overview */ }
    }
    return {};
  }

  const connectorHref = (name) => '#/c/' + enc(name);

  // ---------------------------------------------------------------- render

  // A refresh that lands while a mouse button is down waits for its
  // release: replacing the button between press and release would lose
  // the click.
  let pressed = false;
  let renderPending = false;

  function setupPointer() {
    document.addEventListener('pointerdown', () => { pressed = true; }, true);
    const release = () => {
      pressed = false;
      // After the click that this release completes has been dispatched.
      if (renderPending) setTimeout(() => { if (!pressed && renderPending) render(); }, 0);
    };
    document.addEventListener('pointerup', release, true);
    document.addEventListener('pointercancel', release, true);
  }

  function render() {
    if (pressed) {
      renderPending = true;
      return;
    }
    renderPending = false;
    const main = $('#main');
    const route = parseRoute();
    renderWorker();
    // A refresh replaces the page: keep what the operator has open or is
    // typing in (focus, caret, expanded traces and task lists).
    const active = document.activeElement;
    const focusID = active && active.id && main.contains(active) ? active.id : '';
    const caret = focusID && active.selectionStart !== undefined ? [active.selectionStart, active.selectionEnd] : null;
    const open = new Set([...main.querySelectorAll('details[open][data-key]')].map((d) => d.dataset.key));
    const page = route.name !== undefined ? renderDetail(route.name) : renderOverview();
    main.replaceChildren(...page);
    for (const d of main.querySelectorAll('details[data-key]')) if (open.has(d.dataset.key)) d.open = true;
    const again = focusID && document.getElementById(focusID);
    if (again) {
      again.focus();
      if (caret && again.setSelectionRange) again.setSelectionRange(caret[0], caret[1]);
    }
    if (!st.rendered && (st.list || st.detail)) {
      st.rendered = true;
      performance.mark('ferry-rendered'); // the first render with data (docs/benchmarks.md)
      document.documentElement.dataset.rendered = '1';
    }
  }

  function renderWorker() {
    const i = st.info;
    const parts = [];
    if (i) parts.push('worker ' + (i.worker_id || '?'), 'version ' + (i.version || '?'));
    if (st.cluster === null) parts.push('standalone');
    else if (st.cluster) parts.push('cluster of ' + st.cluster.members.length + ', generation ' + st.cluster.generation);
    if (st.readOnly) parts.push('read-only token');
    $('#worker').textContent = parts.join(' · ');
  }

  function errorBox() {
    const out = [];
    if (st.error) out.push(h('div', { class: 'error-box', id: 'error' }, st.error));
    for (const w of (st.info && st.info.warnings) || []) out.push(h('div', { class: 'warn-box' }, 'Worker warning: ' + w));
    return out;
  }

  // rows of the connectors table, problems first, then by name.
  function rows() {
    const out = [];
    for (const [name, e] of Object.entries(st.list || {})) {
      const cond = condition(e.status);
      const cfg = (e.info && e.info.config) || {};
      const tasks = (e.status && e.status.tasks) || [];
      out.push({
        name, cond, cfg, tasks,
        running: tasks.filter((t) => t.state === 'RUNNING').length,
        total: Math.max(tasks.length, ((e.info && e.info.tasks) || []).length),
        workers: [...new Set(tasks.map((t) => t.worker_id).filter(Boolean))],
        lag: lagOf(name),
      });
    }
    out.sort((a, b) => (SEVERITY[a.cond.state] ?? 9) - (SEVERITY[b.cond.state] ?? 9) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out;
  }

  function renderOverview() {
    st.detail = null;
    const out = errorBox();
    if (!st.list) return out; // nothing loaded yet (or not allowed to)
    const all = rows();
    const problems = all.filter((r) => isProblem(r.cond.state));

    if (problems.length) {
      out.push(h('section', { class: 'panel problems', id: 'problems' },
        h('h2', {}, 'Problems (' + problems.length + ')'),
        h('ul', {}, problems.slice(0, 50).map((r) => h('li', { 'data-name': r.name },
          badge(r.cond.state), ' ', h('a', { href: connectorHref(r.name) }, r.name), ' ',
          h('span', { class: 'problem' }, r.cond.problem), ' ', since(r.cond.since)))),
        problems.length > 50 ? h('p', { class: 'muted' }, '… and ' + (problems.length - 50) + ' more (filter the table by "Problems").') : ''));
    }

    out.push(renderCluster());

    const counts = {};
    for (const r of all) counts[r.cond.state] = (counts[r.cond.state] || 0) + 1;
    const stateSelect = h('select', { id: 'filter-state', 'aria-label': 'filter by state' },
      h('option', { value: '' }, 'all states (' + all.length + ')'),
      h('option', { value: 'PROBLEMS' }, 'problems (' + problems.length + ')'),
      ['RUNNING', 'RETRYING', 'FAILED', 'PAUSED', 'STOPPED', 'RESTARTING', 'UNASSIGNED', 'FINISHED'].map((s) =>
        h('option', { value: s }, s.toLowerCase() + ' (' + (counts[s] || 0) + ')')));
    stateSelect.value = st.filter.state;
    stateSelect.addEventListener('change', () => { st.filter.state = stateSelect.value; renderTable(); });
    const nameInput = h('input', { id: 'filter-name', type: 'search', placeholder: 'filter by name', value: st.filter.name, spellcheck: 'false' });
    nameInput.addEventListener('input', () => { st.filter.name = nameInput.value; renderTable(); });

    const table = h('table', { id: 'connectors', class: 'grid' },
      h('thead', {}, h('tr', {},
        ['Connector', 'State', 'Tasks', 'Pipeline', 'In/s', 'Out/s', 'Lag', 'Errors', 'Workers'].map((c) => h('th', {}, c)))),
      h('tbody'));
    const section = h('section', { class: 'panel' },
      h('div', { class: 'bar' }, h('h2', {}, 'Connectors'), nameInput, stateSelect,
        st.metricsError ? h('span', { class: 'muted', title: st.metricsError }, 'rates unavailable: ' + st.metricsError) : ''),
      table);
    const shownNote = h('p', { id: 'shown', class: 'muted' });
    section.append(shownNote);
    out.push(section);

    renderTable.rows = all;
    renderTable.table = table;
    renderTable.note = shownNote;
    renderTable();
    return out;
  }

  function renderTable() {
    const { rows: all, table, note } = renderTable;
    if (!table) return;
    const f = st.filter;
    const needle = f.name.trim().toLowerCase();
    const shown = all.filter((r) =>
      (!needle || r.name.toLowerCase().includes(needle)) &&
      (!f.state || (f.state === 'PROBLEMS' ? isProblem(r.cond.state) : r.cond.state === f.state)));
    const body = h('tbody');
    for (const r of shown) {
      const errs = st.totals.get(r.name);
      body.append(h('tr', { 'data-name': r.name, 'data-state': r.cond.state, class: isProblem(r.cond.state) ? 'problem-row' : undefined },
        h('td', {}, h('a', { href: connectorHref(r.name) }, r.name)),
        h('td', { class: 'state' }, badge(r.cond.state)),
        h('td', { class: 'num' }, r.running + '/' + r.total),
        h('td', { class: 'pipe' }, pipelineText(r.cfg)),
        h('td', { class: 'num' }, fmtNum(rateOf(r.name, 'in'))),
        h('td', { class: 'num' }, fmtNum(rateOf(r.name, 'out'))),
        h('td', { class: 'num' }, fmtNum(r.lag)),
        h('td', { class: 'err' }, r.cond.problem ? h('span', { title: r.cond.problem }, r.cond.problem) : errs && errs.errors ? fmtNum(errs.errors) + ' record errors' : '', ' ', since(r.cond.since)),
        h('td', { class: 'muted' }, r.workers.join(', '))));
    }
    table.tBodies[0].replaceWith(body);
    note.textContent = shown.length === all.length ? plural(all.length, 'connector') : shown.length + ' of ' + plural(all.length, 'connector') + ' shown';
  }

  function transformsOf(cfg) {
    return (cfg.transforms || '').split(',').map((s) => s.trim()).filter(Boolean).map((alias) => ({
      alias,
      type: cfg['transforms.' + alias + '.type'] || '?',
      predicate: cfg['transforms.' + alias + '.predicate'] || '',
      negate: cfg['transforms.' + alias + '.negate'] === 'true',
    }));
  }

  function pipelineText(cfg) {
    const parts = [cfg.source || '?', ...transformsOf(cfg).map((t) => t.type), cfg.sink || '?'];
    return parts.join(' → ');
  }

  function renderCluster() {
    if (st.cluster === undefined) return '';
    if (st.cluster === null) {
      return h('section', { class: 'panel', id: 'cluster' }, h('h2', {}, 'Cluster'),
        h('p', {}, h('strong', {}, 'standalone'), ' — this worker runs every connector itself (GET /cluster answers 404).'));
    }
    const c = st.cluster;
    const table = h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['Worker', 'State', 'Role', 'Tasks', 'Version', 'REST'].map((x) => h('th', {}, x)))),
      h('tbody', {}, c.members.map((m) => {
        const tasks = (c.assignments && c.assignments[m.id]) || [];
        return h('tr', { 'data-worker': m.id },
          h('td', {}, m.id, m.id === c.worker_id ? h('span', { class: 'muted' }, ' (this worker)') : ''),
          h('td', {}, h('span', { class: 'badge m-' + m.state }, m.state), m.draining ? ' draining' : ''),
          h('td', {}, m.id === c.leader ? '★ leader' : ''),
          h('td', {}, tasks.length ? h('details', { 'data-key': 'worker:' + m.id }, h('summary', {}, plural(tasks.length, 'task')),
            h('ul', { class: 'tasklist' }, tasks.map((a) => h('li', {},
              h('a', { href: connectorHref(a.connector) }, a.connector), ' #' + a.task,
              h('span', { class: 'muted' }, ' (gen ' + a.since + ')'))))) : '0'),
          h('td', {}, m.version || ''),
          h('td', {}, m.rest_url && m.id !== c.worker_id ? h('a', { href: m.rest_url.replace(/\/$/, '') + '/ui/', rel: 'noreferrer' }, m.rest_url) : m.rest_url || ''));
      })));
    return h('section', { class: 'panel', id: 'cluster' },
      h('h2', {}, 'Cluster · generation ' + c.generation + ' · leader ' + (c.leader || 'none')), table);
  }

  // ---------------------------------------------------------------- connector page

  function renderDetail(name) {
    const out = [h('p', {}, h('a', { href: '#/' }, '← all connectors'))];
    out.push(...errorBox());
    const d = st.detail;
    if (!d || d.name !== name) return out;
    const cfg = (d.info && d.info.config) || {};
    const status = d.status;
    const cond = condition(status);
    const cstate = (status && status.connector && status.connector.state) || 'UNKNOWN';
    const tasks = (status && status.tasks) || [];
    const anyFailed = tasks.some((t) => t.state === 'FAILED');

    out.push(h('div', { class: 'title' }, h('h1', { id: 'name' }, name), h('span', { id: 'state' }, badge(cond.state)),
      cond.state !== cstate ? h('span', { class: 'muted' }, ' connector ' + cstate) : ''));
    if (cond.problem) out.push(h('div', { class: 'error-box', id: 'problem' }, cond.problem, ' ', since(cond.since)));
    if (d.statusError) out.push(h('div', { class: 'error-box' }, 'status: ' + d.statusError));

    const path = cpath(name);
    out.push(h('div', { class: 'actions', id: 'actions' },
      actionButton('Pause', cstate === 'RUNNING', 'only a running connector can be paused', () => act('Pause', 'PUT', path + '/pause')),
      actionButton('Resume', cstate === 'PAUSED' || cstate === 'STOPPED', 'only a paused or stopped connector can be resumed', () => act('Resume', 'PUT', path + '/resume')),
      actionButton('Stop', cstate !== 'STOPPED', 'already stopped', () => act('Stop', 'PUT', path + '/stop')),
      actionButton('Restart', true, '', () => act('Restart', 'POST', path + '/restart?includeTasks=true')),
      actionButton('Restart failed tasks', anyFailed, 'no task has failed', () => act('Restart failed tasks', 'POST', path + '/restart?includeTasks=true&onlyFailed=true')),
      actionButton('Reset offsets', cstate === 'STOPPED', 'stop the connector first: offsets change only while it is STOPPED',
        () => act('Reset offsets', 'DELETE', path + '/offsets', 'Reset every offset of this connector? It will read from where its source starts when resumed.'), 'danger'),
      actionButton('Delete', true, '', () => act('Delete', 'DELETE', path, 'Delete this connector? Its config, status and offsets are removed.',
        () => { location.hash = '#/'; }), 'danger')));

    out.push(renderPipeline(name, cfg));
    out.push(renderCharts(name, tasks));
    out.push(renderTasks(name, tasks));
    out.push(h('div', { class: 'cols' }, renderConfig(cfg), renderOffsets(d)));
    return out;
  }

  function stage(kind, title, sub, stats) {
    return h('div', { class: 'stage ' + kind },
      h('div', { class: 'stage-kind' }, kind), h('div', { class: 'stage-title' }, title),
      sub ? h('div', { class: 'muted' }, sub) : '',
      h('div', { class: 'stage-stats' }, stats.filter(Boolean).map((s) => h('div', {}, s))));
  }

  function renderPipeline(name, cfg) {
    const tot = st.totals.get(name) || {};
    const r = (k) => rateOf(name, k);
    const rate = (k) => (r(k) === undefined ? '' : ' (' + fmtNum(r(k)) + '/s)');
    const have = st.totals.has(name);
    const n = (k) => (have ? fmtNum(tot[k]) : '—');
    const sub = (prefix) => Object.keys(cfg).filter((k) => k.startsWith(prefix)).slice(0, 3).map((k) => k.slice(prefix.length) + '=' + cfg[k]).join(', ');
    const boxes = [stage('source', cfg.source || '?', sub('source.'), ['read ' + n('in') + rate('in')])];
    const chain = transformsOf(cfg);
    if (chain.length) {
      // The runtime counts the chain as a whole: records dropped by any
      // step, and records that left it for the sink.
      boxes.push(h('div', { class: 'chain' },
        h('div', { class: 'chain-steps' }, chain.map((t, i) => [i ? h('div', { class: 'arrow' }, '→') : '',
          stage('transform', t.alias + ': ' + t.type, t.predicate ? (t.negate ? 'unless ' : 'if ') + t.predicate : '', [])])),
        h('div', { class: 'stage-stats' }, 'passed ' + n('written') + rate('written') + ' · dropped ' + n('filtered'))));
    }
    const dlqSink = cfg['errors.deadletterqueue.sink'];
    boxes.push(stage('sink', cfg.sink || '?', sub('sink.'), ['written ' + n('out') + rate('out'),
      have && tot.errors ? 'record errors ' + n('errors') : '']));
    const flow = h('div', { class: 'flow', id: 'pipeline' });
    boxes.forEach((b, i) => {
      if (i) flow.append(h('div', { class: 'arrow' }, '→'));
      flow.append(b);
    });
    if (dlqSink) {
      flow.append(h('div', { class: 'arrow' }, '⇢'));
      flow.append(stage('dead-letter', dlqSink, 'errors.tolerance=' + (cfg['errors.tolerance'] || 'none'), ['dead letters ' + n('dlq')]));
    }
    return h('section', { class: 'panel' }, h('h2', {}, 'Pipeline'), flow, h('p', { class: 'muted' }, countsNote(name, have)));
  }

  function countsNote(name, have) {
    if (st.metricsError) return 'Counts unavailable: ' + st.metricsError;
    if (have) return 'Counts since each task last started, of the tasks this worker runs.';
    const tasks = ((statusOf(name) || {}).tasks || []);
    const me = st.info && st.info.worker_id;
    if (tasks.some((t) => t.state === 'RUNNING' && t.worker_id !== me)) {
      return 'Its tasks run on other workers: their counts are on those workers’ dashboards.';
    }
    return 'No task is running, so there is nothing to count.';
  }

  function renderCharts(name, tasks) {
    const s = st.series.get(name);
    const points = (s && s.points) || [];
    const local = st.info ? tasks.filter((t) => t.worker_id === st.info.worker_id).length : tasks.length;
    const note = st.cluster && local < tasks.length
      ? 'Rates count the ' + local + ' of ' + tasks.length + ' tasks this worker runs; the others are on their workers’ dashboards.'
      : 'Sampled from /metrics every ' + REFRESH_MS / 1000 + ' s while this page is open (last ' + HISTORY_MS / 60000 + ' minutes).';
    const lagPoints = points.filter((p) => p.lag !== undefined);
    return h('section', { class: 'panel' }, h('h2', {}, 'Throughput and lag'),
      h('div', { class: 'charts' },
        chart('records/s', points, [['in', 'read', 'c1'], ['out', 'written', 'c2'], ['errors', 'errors', 'c3']], 'chart-throughput'),
        lagPoints.length ? chart('lag (records)', lagPoints, [['lag', 'lag', 'c4']], 'chart-lag') :
          h('div', { class: 'chart empty' }, 'No lag reported: the source does not report one (the kafka source does).')),
      h('p', { class: 'muted' }, note));
  }

  // chart draws series of points as an SVG line chart.
  function chart(title, points, series, id) {
    const W = 480, H = 140, L = 44, B = 18;
    const box = h('div', { class: 'chart', id });
    if (points.length < 2) {
      append(box, [h('div', { class: 'muted' }, title + ': collecting samples…')]);
      return box;
    }
    const t0 = points[0].t, t1 = points[points.length - 1].t;
    let max = 0;
    for (const p of points) for (const [k] of series) max = Math.max(max, p[k] || 0);
    max = max || 1;
    const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - 4);
    const y = (v) => 4 + (1 - v / max) * (H - B - 8);
    const el = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
    el.append(svg('line', { x1: L, y1: y(0), x2: W - 4, y2: y(0), class: 'axis' }));
    el.append(svg('line', { x1: L, y1: y(max), x2: W - 4, y2: y(max), class: 'gridline' }));
    const label = (x0, y0, text, anchor) => {
      const t = svg('text', { x: x0, y: y0, 'text-anchor': anchor || 'end', class: 'label' });
      t.textContent = text;
      el.append(t);
    };
    label(L - 4, y(max) + 4, fmtNum(max));
    label(L - 4, y(0) + 4, '0');
    label(L, H - 4, Math.round((t1 - t0) / 1000) + 's ago', 'start');
    label(W - 4, H - 4, 'now');
    for (const [k, , cls] of series) {
      el.append(svg('polyline', { class: 'line ' + cls, points: points.map((p) => x(p.t).toFixed(1) + ',' + y(p[k] || 0).toFixed(1)).join(' ') }));
    }
    const last = points[points.length - 1];
    append(box, [h('div', { class: 'chart-title' }, title, ' ',
      series.map(([k, name, cls]) => h('span', { class: 'key ' + cls }, name + ' ' + fmtNum(last[k])))), el]);
    return box;
  }

  function renderTasks(name, tasks) {
    return h('section', { class: 'panel' }, h('h2', {}, 'Tasks'),
      h('table', { class: 'grid', id: 'tasks' },
        h('thead', {}, h('tr', {}, ['Task', 'State', 'Worker', 'Lag', 'Trace', ''].map((c) => h('th', {}, c)))),
        h('tbody', {}, tasks.map((t) => {
          const lag = taskLag(t);
          const trace = t.trace || t.last_error || '';
          return h('tr', { 'data-task': t.id },
            h('td', { class: 'num' }, '#' + t.id),
            h('td', {}, badge(t.health === 'retrying' ? 'RETRYING' : t.state), ' ', since(t.since)),
            h('td', {}, t.worker_id || ''),
            h('td', { class: 'num', title: t.lag ? JSON.stringify(t.lag) : undefined }, fmtNum(lag)),
            h('td', { class: 'trace' }, trace ? h('details', { 'data-key': 'trace:' + name + ':' + t.id }, h('summary', {}, firstLine(trace)), h('pre', {}, trace)) : ''),
            h('td', {}, actionButton('Restart task', true, '', () => act('Restart task ' + t.id, 'POST', cpath(name) + '/tasks/' + t.id + '/restart'))));
        }))));
  }

  function renderConfig(cfg) {
    return h('section', { class: 'panel' }, h('h2', {}, 'Config'),
      h('p', { class: 'muted' }, 'Secret fields are shown as [hidden] by the API.'),
      h('table', { class: 'kv', id: 'config' }, h('tbody', {}, Object.keys(cfg).sort().map((k) =>
        h('tr', {}, h('th', {}, k), h('td', { class: cfg[k] === '[hidden]' ? 'hidden-value' : undefined }, cfg[k]))))));
  }

  function renderOffsets(d) {
    const offs = (d.offsets && d.offsets.offsets) || [];
    return h('section', { class: 'panel' }, h('h2', {}, 'Offsets'),
      d.offsetsError ? h('p', { class: 'error-box' }, d.offsetsError) : '',
      offs.length ? h('table', { class: 'grid', id: 'offsets' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Partition'), h('th', {}, 'Offset'))),
        h('tbody', {}, offs.map((o) => h('tr', {}, h('td', {}, kvText(o.partition)), h('td', {}, kvText(o.offset))))))
        : h('p', { class: 'muted' }, 'No committed offsets.'));
  }

  function kvText(o) {
    return Object.entries(o || {}).map(([k, v]) => k + '=' + v).join(', ');
  }

  // ---------------------------------------------------------------- start

  function start() {
    setupFlash();
    setupPointer();
    setupToken();
    window.addEventListener('hashchange', () => {
      st.error = '';
      render(); // at once from what is loaded, then fresh data
      refresh();
    });
    refresh();
  }

  start();
})();
