// The lorafuota console's only script: live parts of the campaign page (summary, chart, device table, events)
// from the JSON endpoints and the server-sent event stream. No dependencies; works offline.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const local = (ms) => {
    if (!ms) return '-';
    const d = new Date(ms);
    const off = -d.getTimezoneOffset();
    const pad = (n, w = 2) => String(Math.floor(Math.abs(n))).padStart(w, '0');
    const tz = (off >= 0 ? '+' : '-') + pad(off / 60) + ':' + pad(off % 60);
    return new Date(ms + off * 60000).toISOString().slice(0, 19) + tz;
  };
  const dur = (s) => {
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ' h ' : '') + (h || m ? m + ' min ' : '') + r + ' s';
  };
  for (const t of document.querySelectorAll('time[datetime]')) t.textContent = local(Date.parse(t.getAttribute('datetime')));

  const title = $('c-name');
  if (!title) {
    // Campaign list: refresh while something runs.
    const running = [...document.querySelectorAll('.stage')].some((e) => !/stage-(done|failed|cancelled)/.test(e.className));
    if (running) setTimeout(() => location.reload(), 5000);
    return;
  }
  const id = title.dataset.id;
  const api = '/api/campaigns/' + encodeURIComponent(id);
  let summary = null;
  let tl = { stages: [], repairs: [], scheduled: [], sent: [] };
  const query = { status: '', q: '', offset: 0, limit: 50 };

  async function getJson(url) {
    const r = await fetch(url, { cache: 'no-store' });
    if (!r.ok) throw new Error(url + ': ' + r.status);
    return r.json();
  }

  function renderSummary(s) {
    summary = s;
    $('c-stage').textContent = s.stage;
    $('c-error').textContent = s.error;
    $('c-updated').textContent = s.updated;
    $('c-total').textContent = s.devicesTotal;
    $('c-failed').textContent = s.failed;
    $('c-pending').textContent = s.pending;
    $('c-setup').textContent = s.setUp;
    $('c-sent').textContent = s.fragments.sent;
    $('c-scheduled').textContent = s.fragments.scheduled;
    $('c-rounds').textContent = s.fragments.repairRounds;
    $('c-elapsed').textContent = dur(s.elapsedSeconds);
    $('c-eta').textContent = s.etaAt ? local(s.etaAt) : '-';
    $('c-air').textContent = s.airtime.perGatewaySeconds.toFixed(1) + ' s per gateway';
    $('c-budget').textContent = s.airtime.budgetSeconds > 0
      ? s.airtime.budgetSeconds.toFixed(1) + ' s per gateway (' + Math.round((100 * s.airtime.perGatewaySeconds) / s.airtime.budgetSeconds) + ' % used)'
      : '-';
    const frac = s.airtime.budgetSeconds > 0 ? Math.min(1, s.airtime.perGatewaySeconds / s.airtime.budgetSeconds) : 0;
    $('c-air-bar').style.width = (100 * frac).toFixed(1) + '%';
    $('cancel').disabled = s.final;
    const sel = $('f-status');
    if (sel.options.length === 1) {
      for (const k of Object.keys(s.byStatus)) {
        const o = document.createElement('option');
        o.value = k;
        o.textContent = k;
        sel.appendChild(o);
      }
    }
    for (const o of sel.options) if (o.value) o.textContent = o.value + ' (' + (s.byStatus[o.value] || 0) + ')';
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawChart() {
    const svg = $('chart');
    if (!summary) return;
    const W = 640, H = 240, L = 48, R = 12, T = 12, B = 28;
    const now = summary.final ? summary.updatedAt : Date.now();
    const sent = tl.sent.slice();
    if (!sent.length || sent[sent.length - 1].n !== summary.fragments.sent) sent.push({ time: now, n: summary.fragments.sent });
    const bStage = tl.stages.find((s) => s.stage === 'broadcast');
    const t0 = bStage ? bStage.time : sent.length ? sent[0].time : summary.createdAt;
    if (bStage && (!sent.length || sent[0].time > t0)) sent.unshift({ time: t0, n: 0 });
    const t1 = Math.max(now, t0 + 1000);
    const yMax = Math.max(1, summary.fragments.scheduled, summary.fragments.sent, ...tl.scheduled.map((p) => p.n)) * 1.08;
    const x = (t) => L + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * (W - L - R);
    const y = (n) => H - B - (n / yMax) * (H - T - B);
    svg.replaceChildren();
    for (let i = 0; i <= 4; i++) {
      const v = (yMax / 1.08) * (i / 4);
      svg.appendChild(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
      svg.appendChild(el('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, String(Math.round(v))));
    }
    svg.appendChild(el('text', { x: L, y: H - 8, class: 'axis' }, local(t0).slice(11, 19)));
    svg.appendChild(el('text', { x: W - R, y: H - 8, class: 'axis', 'text-anchor': 'end' }, local(t1).slice(11, 19) + ' (' + dur((t1 - t0) / 1000) + ')'));
    for (const r of tl.repairs) {
      svg.appendChild(el('line', { x1: x(r.time), x2: x(r.time), y1: T, y2: H - B, class: 'repair' }));
      svg.appendChild(el('text', { x: x(r.time) + 3, y: T + 10, class: 'axis rep' }, 'R' + r.round + ' +' + r.fragments));
    }
    if (tl.scheduled.length) {
      let d = '';
      tl.scheduled.forEach((p, i) => {
        d += (i ? ' H' + x(p.time).toFixed(1) + ' V' : 'M' + x(p.time).toFixed(1) + ' ') + y(p.n).toFixed(1);
      });
      d += ' H' + x(t1).toFixed(1);
      svg.appendChild(el('path', { d, class: 'sched' }));
    }
    if (sent.length) {
      const pts = sent.map((p) => x(p.time).toFixed(1) + ',' + y(p.n).toFixed(1)).join(' ');
      svg.appendChild(el('polyline', { points: pts, class: 'sent', 'data-points': sent.length }));
    }
    svg.dataset.sent = String(summary.fragments.sent);
    svg.dataset.stage = summary.stage;
    svg.dataset.draws = String(Number(svg.dataset.draws || 0) + 1);
  }

  async function loadDevices() {
    const p = new URLSearchParams();
    if (query.status) p.set('status', query.status);
    if (query.q) p.set('q', query.q);
    p.set('offset', String(query.offset));
    p.set('limit', String(query.limit));
    const page = await getJson(api + '/devices?' + p);
    const tbody = $('devices').tBodies[0];
    const rows = page.rows.map((d) => {
      const tr = document.createElement('tr');
      for (const [v, cls] of [[d.devEui, 'mono'], [d.status, 'st st-' + d.status], [d.phase, ''], [d.fw || '-', 'mono'], [local(d.changedAt), ''], [d.lastAnswer || '-', 'muted'], [d.reason, '']]) {
        const td = document.createElement('td');
        td.textContent = v;
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      return tr;
    });
    tbody.replaceChildren(...rows);
    $('d-count').textContent = page.matched + ' of ' + page.total + ' devices';
    $('d-pos').textContent = page.matched ? page.offset + 1 + '–' + (page.offset + page.rows.length) : '0';
    $('d-prev').disabled = page.offset === 0;
    $('d-next').disabled = page.offset + page.rows.length >= page.matched;
  }

  async function refresh() {
    const [s, t] = await Promise.all([getJson(api), getJson(api + '/timeline')]);
    tl = t;
    renderSummary(s);
    drawChart();
    await loadDevices();
  }

  let pending = null;
  function soon() {
    if (!pending) pending = setTimeout(() => { pending = null; refresh().catch(() => {}); }, 700);
  }

  function addEvent(ev) {
    if (ev.type === 'device' || ev.type === 'badAnswer') return;
    const li = document.createElement('li');
    const extra = Object.entries(ev).filter(([k]) => !['id', 'time', 'type'].includes(k)).map(([k, v]) => k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v)).join(' ');
    li.textContent = local(ev.time) + '  ' + ev.type + (extra ? '  ' + extra : '');
    $('events').prepend(li);
  }

  $('filter').addEventListener('submit', (e) => {
    e.preventDefault();
    query.status = $('f-status').value;
    query.q = $('f-q').value.trim();
    query.offset = 0;
    loadDevices().catch(() => {});
  });
  $('f-status').addEventListener('change', () => $('filter').requestSubmit());
  $('d-prev').addEventListener('click', () => { query.offset = Math.max(0, query.offset - query.limit); loadDevices().catch(() => {}); });
  $('d-next').addEventListener('click', () => { query.offset += query.limit; loadDevices().catch(() => {}); });
  $('cancel').addEventListener('click', async () => {
    let token = sessionStorage.getItem('lorafuota-token');
    if (!token) token = prompt('API token (needed to cancel)') || '';
    if (!token || !confirm('Cancel this campaign?')) return;
    const r = await fetch(api + '/cancel', { method: 'POST', headers: { authorization: 'Bearer ' + token } });
    const body = await r.json().catch(() => ({}));
    if (r.status === 401) sessionStorage.removeItem('lorafuota-token');
    else sessionStorage.setItem('lorafuota-token', token);
    $('cancel-msg').textContent = r.ok ? (body.cancelled ? 'cancel requested' : 'already over') : body.error || String(r.status);
    soon();
  });

  // History of campaign-level events, then live ones.
  refresh().then(() => {
    for (const s of tl.stages) addEvent({ type: 'stage', time: s.time, stage: s.stage });
    for (const r of tl.repairs) addEvent({ type: 'repair', time: r.time, round: r.round, fragments: r.fragments });
    for (const t of tl.turns || []) addEvent(t);
    if (summary && summary.final) return;
    const es = new EventSource(api + '/events');
    es.addEventListener('campaign', (m) => {
      const ev = JSON.parse(m.data);
      addEvent(ev);
      soon();
    });
    es.addEventListener('end', () => { es.close(); soon(); });
    // Fragments are sent between events: poll the summary while the campaign runs.
    const poll = setInterval(() => {
      if (summary && summary.final) { clearInterval(poll); es.close(); return; }
      soon();
    }, 1500);
  }).catch((e) => { $('c-error').textContent = String(e); });
})();
