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
    // The traces panel's filter; it belongs to one connector's page.
    traceFilter: { name: '', outcome: '', eventID: '' },
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
    el.append(...nodes(children));
  }

  // nodes turns children as h takes them into nodes: strings become text
  // nodes; undefined, null and false are left out.
  function nodes(children) {
    return children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false)
      .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
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

  // headers are the ones every API call carries: the token, when one is set.
  function headers(accept) {
    const hd = { Accept: accept };
    if (st.token) hd.Authorization = 'Bearer ' + st.token;
    return hd;
  }

  // failure turns an answer that is not 2xx into an APIError with the
  // API's message.
  async function failure(res) {
    const text = await res.text();
    let msg = res.status + ' ' + res.statusText;
    try {
      const e = JSON.parse(text);
      if (e && e.message) msg = e.message;
    } catch (_) { /* not JSON: keep the status line */ }
    return new APIError(res.status, msg);
  }

  async function request(method, path, body) {
    const init = { method, headers: headers('application/json'), credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET') {
      // The worker's browser guard refuses writes that are not JSON.
      init.headers['Content-Type'] = 'application/json';
      if (body !== undefined) init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, 'the worker did not answer (' + e.message + ')');
    }
    if (!res.ok) throw await failure(res);
    return res.text();
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
  const retries = (n) => n + (n === 1 ? ' retry' : ' retries');

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
    const key = traceQuery(name);
    const [info, status, offsets, traces] = await Promise.allSettled([
      api('GET', cpath(name)),
      api('GET', cpath(name) + '/status'),
      api('GET', cpath(name) + '/offsets'),
      api('GET', key),
    ]);
    if (info.status === 'rejected') throw info.reason;
    const prev = st.detail && st.detail.name === name ? st.detail : null;
    st.detail = {
      name,
      info: info.value,
      status: status.status === 'fulfilled' ? status.value : null,
      statusError: status.status === 'rejected' ? status.reason.message : '',
      offsets: offsets.status === 'fulfilled' ? offsets.value : null,
      offsetsError: offsets.status === 'rejected' ? offsets.reason.message : '',
      traces: null, tracesError: '', tracesKey: '',
    };
    // The filter may have changed while these loaded: then the traces of
    // the new filter, if already in, stay.
    if (key === traceQuery(name)) setTraces(st.detail, key, traces);
    else if (prev) Object.assign(st.detail, { traces: prev.traces, tracesError: prev.tracesError, tracesKey: prev.tracesKey });
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
    // typing in (focus, caret, expanded traces and task lists, how far a
    // list of events is scrolled).
    const active = document.activeElement;
    const focusID = active && active.id && main.contains(active) ? active.id : '';
    const caret = focusID && active.selectionStart !== undefined ? [active.selectionStart, active.selectionEnd] : null;
    const open = new Set([...main.querySelectorAll('details[open][data-key]')].map((d) => d.dataset.key));
    const scrolled = [...main.querySelectorAll('.events[id]')].filter((e) => e.scrollTop > 0).map((e) => [e.id, e.scrollTop]);
    const page = route.name !== undefined ? renderDetail(route.name) : renderOverview();
    replaceKeeping(main, page);
    for (const d of main.querySelectorAll('details[data-key]')) if (open.has(d.dataset.key)) d.open = true;
    for (const [id, top] of scrolled) {
      const e = document.getElementById(id);
      if (e) e.scrollTop = top;
    }
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

  // replaceKeeping replaces el's children with nodes, leaving in place
  // those of them el already holds (the live tap's panel): a node taken
  // out of the document, even for a moment, loses its hover state.
  function replaceKeeping(el, children) {
    const list = nodes(children);
    const keep = new Set(list.filter((n) => n.parentNode === el));
    for (const c of [...el.childNodes]) if (!keep.has(c)) c.remove();
    let at = el.firstChild;
    for (const n of list) {
      if (n === at) at = at.nextSibling;
      else el.insertBefore(n, at);
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
    out.push(renderTraces(name, cfg, d));
    out.push(tapPanel(name));
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

  // ---------------------------------------------------------------- traces

  const TRACE_LIMIT = 100; // traces asked for at each refresh
  const OUTCOMES = ['failed', 'dropped', 'delivered'];

  // traceFilter is the traces filter of name's page, reset on another page.
  function traceFilter(name) {
    const f = st.traceFilter;
    if (f.name !== name) Object.assign(f, { name, outcome: '', eventID: '' });
    return f;
  }

  // traceQuery is the request for name's traces through the filter; it
  // also tells whether loaded traces are those of the filter in force.
  function traceQuery(name) {
    const f = traceFilter(name);
    const q = new URLSearchParams({ limit: String(TRACE_LIMIT) });
    if (f.outcome) q.set('outcome', f.outcome);
    if (f.eventID.trim()) q.set('event_id', f.eventID.trim());
    return cpath(name) + '/traces?' + q;
  }

  function setTraces(d, key, result) {
    d.tracesKey = key;
    if (result.status === 'fulfilled') {
      d.traces = result.value;
      d.tracesError = '';
    } else {
      d.traces = null;
      d.tracesError = explain(result.reason, 'traces');
    }
  }

  // reloadTraces loads the traces at once after the filter changed.
  async function reloadTraces(name) {
    const key = traceQuery(name);
    const [result] = await Promise.allSettled([api('GET', key)]);
    const d = st.detail;
    if (!d || d.name !== name || key !== traceQuery(name)) return; // left, or the filter changed again
    setTraces(d, key, result);
    render();
  }

  // isoMs reads an RFC 3339 time into milliseconds since the epoch,
  // keeping the microseconds Date.parse would drop.
  function isoMs(iso) {
    if (!iso) return NaN;
    const m = iso.match(/\.(\d+)/);
    const base = Date.parse(m ? iso.replace(m[0], '') : iso);
    return m ? base + Number((m[1] + '000000').slice(0, 9)) / 1e6 : base;
  }

  function fmtTime(iso) {
    const t = isoMs(iso);
    if (Number.isNaN(t)) return iso || '';
    const d = new Date(t);
    return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  function fmtOffset(ms) {
    if (!Number.isFinite(ms)) return '';
    if (ms < 0) ms = 0;
    if (ms < 1) return '+' + Math.round(ms * 1000) + 'µs';
    if (ms < 1000) return '+' + (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + 'ms';
    return '+' + (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + 's';
  }

  // stepName is what a step reads as: "transform keep", "sink".
  const stepName = (s) => (s.stage === 'transform' ? 'transform ' + (s.name || '?') : s.stage);

  // traceReason sums up why a trace ended as it did.
  function traceReason(t) {
    const steps = t.steps || [];
    if (t.outcome === 'dropped') {
      const s = steps.find((x) => x.decision === 'dropped');
      return s ? 'dropped by ' + (s.name || s.stage) : 'dropped';
    }
    if (t.outcome === 'failed') {
      const s = steps.find((x) => x.decision === 'failed');
      const dl = steps.find((x) => x.stage === 'dead-letter');
      const why = s ? stepName(s) + ': ' + (s.error || 'failed') : 'failed';
      if (!dl || dl === s) return why;
      return why + (dl.decision === 'written' ? ' → dead-lettered' : ' → dead letter failed: ' + (dl.error || ''));
    }
    const sink = steps.find((x) => x.stage === 'sink');
    return sink && sink.retries ? 'written after ' + retries(sink.retries) : 'written';
  }

  function decisionClass(decision) {
    return decision === 'failed' ? 'd-failed' : decision === 'dropped' ? 'd-dropped' : '';
  }

  function renderTraces(name, cfg, d) {
    const f = traceFilter(name);
    const outcome = h('select', { id: 'trace-outcome', 'aria-label': 'filter traces by outcome' },
      h('option', { value: '' }, 'all outcomes'), OUTCOMES.map((o) => h('option', { value: o }, o)));
    outcome.value = f.outcome;
    outcome.addEventListener('change', () => { f.outcome = outcome.value; reloadTraces(name); });
    const search = h('input', { id: 'trace-search', type: 'search', placeholder: 'event id', value: f.eventID, spellcheck: 'false',
      'aria-label': 'find a traced event by its id', title: 'the exact id of an event' });
    search.addEventListener('input', () => {
      f.eventID = search.value;
      clearTimeout(renderTraces.typing);
      renderTraces.typing = setTimeout(() => reloadTraces(name), 250);
    });
    search.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Enter') return;
      clearTimeout(renderTraces.typing);
      reloadTraces(name);
    });

    const rate = cfg['trace.sample.rate'];
    const section = h('section', { class: 'panel', id: 'traces' },
      h('div', { class: 'bar' }, h('h2', {}, 'Traces'), outcome, search, h('span', { id: 'traces-count', class: 'muted' })),
      h('p', { class: 'muted' }, 'Recent traced events, newest first: a sample of the events (trace.sample.rate ' +
        (rate === undefined ? '0.001, the default' : rate) + ') and every event that failed. Open one for its steps.'));
    if (d.tracesError) {
      section.append(h('div', { class: 'error-box', id: 'traces-error' }, d.tracesError));
      return section;
    }
    const tr = d.tracesKey === traceQuery(name) ? d.traces : null;
    if (!tr) {
      section.append(h('p', { class: 'muted' }, 'Loading…'));
      return section;
    }
    const unreached = tr.unreached || [];
    if (unreached.length) {
      section.append(h('div', { class: 'warn-box', id: 'traces-unreached' },
        'Traces of ' + plural(unreached.length, 'worker') + ' are missing: ' + unreached.join(', ') +
        ' did not answer. The events their tasks traced are not listed.'));
    }
    const traces = tr.traces || [];
    const byOutcome = {};
    for (const t of traces) byOutcome[t.outcome] = (byOutcome[t.outcome] || 0) + 1;
    section.querySelector('#traces-count').textContent = traces.length
      ? (traces.length === TRACE_LIMIT ? 'newest ' : '') + plural(traces.length, 'event') +
        ' (' + OUTCOMES.map((o) => (byOutcome[o] || 0) + ' ' + o).join(', ') + ')'
      : '';
    if (!traces.length) {
      section.append(h('p', { class: 'muted', id: 'traces-empty' }, f.eventID.trim()
        ? 'No trace of event "' + f.eventID.trim() + '"' + (f.outcome ? ' with outcome ' + f.outcome : '') +
          '. Only sampled and failed events are traced, and each connector keeps its newest 1,024.'
        : 'No traced events' + (f.outcome ? ' with outcome ' + f.outcome : '') + ' yet.'));
      return section;
    }
    section.append(h('div', { class: 'events', id: 'trace-list' }, traces.map((t) => renderTrace(t))));
    return section;
  }

  function renderTrace(t) {
    const read = isoMs(t.read);
    const total = isoMs(t.done) - read;
    const outcome = (t.outcome || 'unknown').toUpperCase();
    const steps = t.steps || [];
    const rows = [];
    if (t.sampled) rows.push(h('tr', {}, h('td', { class: 'num' }, '+0'), h('td', {}, 'source'), h('td', {}, 'read'), h('td', {}, fmtTime(t.read))));
    for (const s of steps) {
      rows.push(h('tr', { class: decisionClass(s.decision) },
        h('td', { class: 'num' }, fmtOffset(isoMs(s.time) - read)),
        h('td', {}, stepName(s)),
        h('td', {}, s.decision, s.retries ? ' after ' + retries(s.retries) : ''),
        h('td', {}, s.error ? h('span', { class: 'step-error' }, s.error) : fmtTime(s.time))));
    }
    return h('details', { class: 'event o-' + (t.outcome || 'unknown'), 'data-key': 'ev:' + t.task + ':' + t.event_id + ':' + t.read,
      'data-event': t.event_id, 'data-outcome': t.outcome },
    h('summary', {},
      h('span', { class: 'ev-time' }, fmtTime(t.done || t.read)),
      badge(outcome),
      h('span', { class: 'ev-id' }, t.event_id),
      h('span', { class: 'ev-reason' }, traceReason(t)),
      h('span', { class: 'muted' }, 'task ' + t.task + (Number.isFinite(total) ? ' · ' + fmtOffset(total).slice(1) : ''))),
    h('div', { class: 'ev-body' },
      h('p', { class: 'muted' }, 'partition ', h('code', {}, t.partition), ' · position ', h('code', {}, t.position),
        ' · read ', h('time', { datetime: t.read, title: t.read }, fmtTime(t.read)),
        t.sampled ? '' : ' · traced because it failed: the steps before the failure were not recorded'),
      h('table', { class: 'steps' }, h('tbody', {}, rows))));
  }

  // ---------------------------------------------------------------- live tap

  // The live tap streams GET /connectors/{name}/tap (NDJSON) with fetch, so
  // the request carries the token (EventSource cannot send headers). It
  // keeps the newest TAP_MAX events, so a long-running tap holds a bounded
  // amount; events that arrive faster than the page draws them (every
  // TAP_DRAW_MS) are counted and only the newest drawn.
  const TAP_MAX = 200;
  const TAP_DRAW_MS = 100;
  const TAP_LINE_MAX = 16 << 20; // one event's JSON; longer ends the tap
  const TAP_QUICK_MS = 1000; // a stream the worker ends sooner is not reopened

  let tap = null; // the open page's tap: at most one

  // tapPanel returns name's tap panel, the same node at every render, so a
  // refresh neither stops the stream nor redraws its events.
  function tapPanel(name) {
    if (!tap || tap.name !== name) {
      if (tap) stopTap(tap);
      tap = newTap(name);
    } else if (!tap.section.isConnected) tap.hover = false; // back on its page: the pointer left it long ago
    return tap.section;
  }

  function newTap(name) {
    const t = {
      name, ctrl: null, running: false, streams: 0, received: 0, missed: 0,
      pending: [], // received, not drawn yet: at most TAP_MAX
      drawTimer: 0, hover: false,
    };
    t.button = h('button', { type: 'button', id: 'tap-toggle', onclick: () => (t.running ? stopTap(t) : startTap(t)) }, 'Start');
    t.statusEl = h('span', { id: 'tap-status', class: 'muted' }, 'stopped');
    t.countEl = h('span', { id: 'tap-count', class: 'muted' });
    t.missedEl = h('span', { id: 'tap-missed', class: 'missed hidden',
      title: 'events the worker did not send to this page because it read too slowly; the pipeline itself is never slowed by a tap' });
    t.heldEl = h('span', { id: 'tap-held', class: 'muted hidden' });
    t.errorEl = h('div', { id: 'tap-error', class: 'error-box hidden' });
    t.list = h('div', { class: 'events', id: 'tap-events' });
    // Moving over the list holds new events back, so the one under the
    // pointer stays put to be opened; a list that only slid under a still
    // pointer does not.
    t.list.addEventListener('pointermove', () => { t.hover = true; });
    t.list.addEventListener('pointerleave', () => { t.hover = false; scheduleDraw(t); });
    t.section = h('section', { class: 'panel', id: 'tap', 'data-streams': '0' },
      h('div', { class: 'bar' }, h('h2', {}, 'Live tap'), t.button, t.statusEl, h('span', { class: 'grow' }), t.heldEl, t.missedEl, t.countEl),
      h('p', { class: 'muted' }, 'The events the connector’s tasks finish, as they pass, each stage with the event before and after it; the newest ' +
        TAP_MAX + ' are kept. A reader that falls behind loses events (counted as missed); the pipeline never waits for it. ' +
        'New events wait while the pointer is over the list.'),
      t.errorEl, t.list);
    return t;
  }

  function setTapStatus(t, status, error) {
    t.statusEl.textContent = status;
    t.errorEl.textContent = error || '';
    t.errorEl.classList.toggle('hidden', !error);
    t.button.textContent = t.running ? 'Stop' : 'Start';
    t.section.dataset.running = t.running ? '1' : '0';
  }

  async function startTap(t) {
    if (t.running) return;
    t.running = true;
    t.ctrl = new AbortController();
    setTapStatus(t, 'connecting…');
    let error = '';
    try {
      await streamTap(t);
    } catch (e) {
      if (!t.ctrl.signal.aborted) error = e instanceof APIError ? explain(e, 'live tap') : 'live tap: ' + e.message;
    }
    t.running = false;
    t.ctrl = null;
    clearTimeout(t.drawTimer);
    t.drawTimer = 0;
    drawTap(t); // what was received before the end
    setTapStatus(t, error ? 'stopped by an error' : 'stopped', error);
  }

  function stopTap(t) {
    if (t.ctrl) t.ctrl.abort(); // ends the request: the worker lets go of its tap
  }

  // streamTap reads the tap until it is stopped or fails. When the worker
  // ends a stream (at its request timeout) it is opened again, once for
  // each end; one that ends at once is not.
  async function streamTap(t) {
    const signal = t.ctrl.signal;
    for (;;) {
      const opened = Date.now();
      let res;
      try {
        res = await fetch(cpath(t.name) + '/tap', { headers: headers('application/x-ndjson'), credentials: 'same-origin', cache: 'no-store', signal });
      } catch (e) {
        if (signal.aborted) return;
        throw new APIError(0, 'the worker did not answer (' + e.message + ')');
      }
      if (!res.ok) throw await failure(res);
      t.streams++;
      t.section.dataset.streams = String(t.streams);
      setTapStatus(t, t.streams > 1 ? 'streaming (reopened after the worker ended the stream at its request timeout)' : 'streaming');
      await readLines(res.body, (line) => receive(t, JSON.parse(line)));
      if (signal.aborted) return;
      if (Date.now() - opened < TAP_QUICK_MS) throw new Error('the worker ended the stream at once');
    }
  }

  // readLines calls fn with each line of an NDJSON body until it ends.
  async function readLines(body, fn) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const lines = (rest + dec.decode(value, { stream: true })).split('\n');
      rest = lines.pop();
      if (rest.length > TAP_LINE_MAX) {
        reader.cancel();
        throw new Error('an event longer than ' + (TAP_LINE_MAX >> 20) + ' MiB');
      }
      for (const line of lines) if (line.trim()) fn(line);
    }
    if (rest.trim()) fn(rest);
  }

  function receive(t, ev) {
    t.received++;
    t.missed += Number(ev.missed) || 0;
    t.pending.push(ev);
    if (t.pending.length > TAP_MAX) t.pending.shift();
    scheduleDraw(t);
  }

  function scheduleDraw(t) {
    if (!t.drawTimer) t.drawTimer = setTimeout(() => { t.drawTimer = 0; drawTap(t); }, TAP_DRAW_MS);
  }

  // drawTap adds the pending events on top of the list and drops the
  // oldest beyond TAP_MAX.
  function drawTap(t) {
    if (t.hover && !t.list.matches(':hover')) t.hover = false; // left without a pointerleave
    t.countEl.textContent = plural(t.received, 'event') + ' received';
    t.missedEl.textContent = 'Missed ' + t.missed;
    t.missedEl.classList.toggle('hidden', !t.missed);
    t.heldEl.textContent = t.hover && t.pending.length ? t.pending.length + ' new held' : '';
    t.heldEl.classList.toggle('hidden', !(t.hover && t.pending.length));
    if (t.hover || !t.pending.length) return;
    const frag = document.createDocumentFragment();
    for (let i = t.pending.length - 1; i >= 0; i--) frag.append(renderTapEvent(t.pending[i]));
    t.pending = [];
    t.list.prepend(frag);
    while (t.list.childElementCount > TAP_MAX) t.list.lastElementChild.remove();
  }

  const tapStageName = (s) => (s.stage === 'transform' ? s.name || 'transform' : s.stage);

  function renderTapEvent(ev) {
    const stages = ev.stages || [];
    const first = stages.length ? isoMs(stages[0].time) : NaN;
    const el = h('details', { class: 'event o-' + (ev.outcome || 'unknown'), 'data-event': ev.event_id, 'data-outcome': ev.outcome },
      h('summary', {},
        h('span', { class: 'ev-time' }, stages.length ? fmtTime(stages[0].time) : ''),
        badge((ev.outcome || 'unknown').toUpperCase()),
        h('span', { class: 'ev-id' }, ev.event_id),
        h('span', { class: 'ev-stages' }, stages.map((s, i) => [i ? ' → ' : '',
          h('span', { class: decisionClass(s.decision) }, tapStageName(s) + ' ' + s.decision)])),
        h('span', { class: 'muted' }, 'task ' + ev.task),
        ev.missed ? h('span', { class: 'missed' }, ev.missed + ' missed before it') : ''));
    // The stages' events are drawn when first opened: most never are.
    el.addEventListener('toggle', () => {
      if (!el.open || el.querySelector('.ev-body')) return;
      el.append(h('div', { class: 'ev-body' },
        h('p', { class: 'muted' }, 'partition ', h('code', {}, ev.partition), ' · position ', h('code', {}, ev.position)),
        stages.map((s) => {
          const before = s.before ? JSON.stringify(s.before, null, 2) : '';
          const after = s.after ? JSON.stringify(s.after, null, 2) : '';
          return h('div', { class: 'tap-stage ' + decisionClass(s.decision) },
            h('div', { class: 'tap-stage-head' }, h('strong', {}, stepName(s)), ' ', s.decision,
              s.retries ? ' after ' + retries(s.retries) : '',
              ' ', h('span', { class: 'muted' }, fmtOffset(isoMs(s.time) - first)),
              s.error ? h('div', { class: 'step-error' }, s.error) : ''),
            before || after ? h('div', { class: 'tap-data' },
              before ? h('div', {}, h('div', { class: 'muted' }, 'before'), h('pre', {}, before)) : '',
              after ? h('div', {}, h('div', { class: 'muted' }, 'after'), after === before ? h('p', { class: 'muted' }, 'unchanged') : h('pre', {}, after)) : '') : '');
        })));
    });
    return el;
  }

  // ---------------------------------------------------------------- start

  function start() {
    setupFlash();
    setupPointer();
    setupToken();
    window.addEventListener('hashchange', () => {
      st.error = '';
      if (tap && parseRoute().name !== tap.name) stopTap(tap); // leaving its page ends the stream
      render(); // at once from what is loaded, then fresh data
      refresh();
    });
    window.addEventListener('pagehide', () => { if (tap) stopTap(tap); });
    refresh();
  }

  start();
})();
