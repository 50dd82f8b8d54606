/**
 * Server-rendered HTML of the web console: the campaign list and the frame of a campaign page (its live parts are
 * filled by /static/console.js from the JSON endpoints). Every value from the store is escaped.
 */
import type { CampaignSummary, ListRow } from './console-data.js';

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Local ISO-like time (the browser re-renders times in its own zone). */
function time(ms: number): string {
  return ms > 0 ? `<time datetime="${new Date(ms).toISOString()}">${esc(new Date(ms).toISOString())}</time>` : '-';
}

function layout(title: string, body: string, script = false): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · lorafuota</title><link rel="stylesheet" href="/static/console.css"></head>
<body><header><a href="/" class="brand">lorafuota</a><span class="sub">firmware campaigns</span></header>
<main>${body}</main>${script ? '<script src="/static/console.js" defer></script>' : ''}</body></html>
`;
}

export function listPage(rows: ListRow[]): string {
  const trs = rows
    .map(
      (r) => `<tr><td><a href="/campaigns/${esc(r.id)}">${esc(r.name || r.id)}</a><div class="muted mono">${esc(r.id)}</div></td>
<td><span class="stage stage-${esc(r.stage)}">${esc(r.stage)}</span></td><td class="num">${r.devices}</td>
<td class="num ok">${r.updated}</td><td class="num bad">${r.failed}</td><td class="num">${r.pending}</td>
<td>${time(r.createdAt)}</td><td>${time(r.updatedAt)}</td></tr>`,
    )
    .join('\n');
  const body = `<h1>Campaigns</h1>
${rows.length ? '' : '<p class="muted">No campaigns yet. Submit one with <code>lorafuota campaign submit</code>.</p>'}
<table id="campaigns"><thead><tr><th>campaign</th><th>stage</th><th class="num">devices</th><th class="num">updated</th>
<th class="num">failed</th><th class="num">pending</th><th>created</th><th>last change</th></tr></thead><tbody>
${trs}
</tbody></table>`;
  return layout('Campaigns', body, true);
}

export function campaignPage(s: CampaignSummary): string {
  const p = s.plan;
  const planRows = p
    ? `<dl class="kv">
<dt>fragments (M)</dt><dd>${p.nbFrag} × ${p.fragSize} B${p.padding ? ` (${p.padding} B padding)` : ''}</dd>
<dt>first broadcast</dt><dd>${p.nbFrag + p.initialCoded} (${p.initialCoded} coded, ${p.initialRedundancyPercent} % redundancy)</dd>
<dt>at most</dt><dd>${p.nbFrag + p.maxCoded} (${p.maxRedundancyPercent} % cap, ${p.maxRepairRounds} repair rounds)</dd>
<dt>fragment airtime</dt><dd>${p.fragmentAirtimeMs.toFixed(1)} ms, one every ${(p.fragmentIntervalMs / 1000).toFixed(1)} s</dd>
<dt>session</dt><dd>${Math.round(p.sessionSeconds)} s</dd>
<dt>planned duration</dt><dd>${Math.round(p.etaSeconds)} s</dd>
${p.warnings.length ? `<dt>warnings</dt><dd>${p.warnings.map(esc).join('<br>')}</dd>` : ''}
</dl>`
    : '<p class="muted">not planned yet</p>';
  const body = `<p><a href="/">← campaigns</a></p>
<h1 id="c-name" data-id="${esc(s.id)}">${esc(s.name || s.id)}</h1>
<p class="muted mono">${esc(s.id)}</p>
<section class="cards">
 <div class="card"><div class="label">stage</div><div class="big" id="c-stage">${esc(s.stage)}</div><div id="c-error" class="bad">${esc(s.error)}</div></div>
 <div class="card"><div class="label">devices updated</div><div class="big"><span id="c-updated">${s.updated}</span>/<span id="c-total">${s.devicesTotal}</span></div>
  <div class="muted"><span id="c-failed">${s.failed}</span> failed · <span id="c-pending">${s.pending}</span> pending · <span id="c-setup">${s.setUp}</span> set up</div></div>
 <div class="card"><div class="label">fragments sent</div><div class="big"><span id="c-sent">${s.fragments.sent}</span>/<span id="c-scheduled">${s.fragments.scheduled}</span></div>
  <div class="muted"><span id="c-rounds">${s.fragments.repairRounds}</span> repair rounds · at most ${s.fragments.max}</div></div>
 <div class="card"><div class="label">time</div><div>started ${time(s.createdAt)}</div><div>elapsed <span id="c-elapsed">${Math.round(s.elapsedSeconds)} s</span></div>
  <div>ETA <span id="c-eta">${s.etaAt ? time(s.etaAt) : '-'}</span></div></div>
</section>
<section class="row">
 <div class="panel grow"><h2>Fragments over time</h2><svg id="chart" viewBox="0 0 640 240" role="img" aria-label="fragments sent and scheduled over time"></svg>
  <div class="legend"><span class="sw sent"></span>sent <span class="sw sched"></span>scheduled (plan + repair rounds) <span class="sw rep"></span>repair round</div></div>
 <div class="panel"><h2>Plan</h2>${planRows}
  <h2>Airtime</h2><dl class="kv">
  <dt>band</dt><dd>${esc(s.airtime.region)} ${(s.airtime.frequencyHz / 1e6).toFixed(3)} MHz, sub-band ${esc(s.airtime.subBand)}</dd>
  <dt>duty cycle</dt><dd>${+(s.airtime.dutyCycle * 100).toFixed(3)} % · ${s.airtime.gateways} gateway(s)</dd>
  <dt>used</dt><dd id="c-air">${s.airtime.perGatewaySeconds.toFixed(1)} s per gateway</dd>
  <dt>budget (session)</dt><dd id="c-budget">${s.airtime.budgetSeconds.toFixed(1)} s</dd></dl>
  <div class="meter"><div id="c-air-bar"></div></div></div>
</section>
<section class="panel"><h2>Devices</h2>
 <form id="filter" class="filter"><select name="status" id="f-status"><option value="">any status</option></select>
 <input name="q" id="f-q" placeholder="DevEUI or reason" maxlength="64"><button type="submit">filter</button>
 <span id="d-count" class="muted"></span><span class="pager"><button type="button" id="d-prev">◀</button> <span id="d-pos"></span> <button type="button" id="d-next">▶</button></span></form>
 <table id="devices"><thead><tr><th>DevEUI</th><th>status</th><th>phase</th><th>firmware</th><th>last change</th><th>last answer</th><th>reason</th></tr></thead><tbody></tbody></table>
</section>
<section class="panel"><h2>Events</h2><ol id="events" class="events"></ol>
 <p><button type="button" id="cancel" class="danger"${s.final ? ' disabled' : ''}>cancel campaign…</button> <span id="cancel-msg" class="muted"></span></p></section>`;
  return layout(s.name || s.id, body, true);
}

export function errorPage(code: number, message: string): string {
  return layout(String(code), `<h1>${code}</h1><p>${esc(message)}</p><p><a href="/">campaigns</a></p>`);
}
