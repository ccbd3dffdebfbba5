/// The status page, as served at `GET /`: one HTML document with its CSS and JS, so it
/// needs nothing from the network. It draws `/api/status` and follows `/events`.
/// Element ids and `data-status` are part of the contract with the browser test.
enum StatusPageDocument {
    static let text = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>regiond</title>
<style>
  :root { --ok:#1a7f37; --warn:#b08800; --bad:#cf222e; --mute:#6e7781; --line:#d0d7de; --bg:#f6f8fa; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; }
  header { padding: 12px 20px; background: #24292f; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #summary { color: #d0d7de; }
  #live { margin-left: auto; font-size: 12px; }
  main { padding: 12px 20px; }
  .alarm { background: #ffebe9; border: 1px solid var(--bad); color: var(--bad); padding: 8px 12px; margin: 0 0 10px; border-radius: 6px; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 18px; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { background: var(--bg); font-weight: 600; font-size: 12px; color: var(--mute); }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
  .healthy { background: var(--ok); } .degraded, .recovering { background: var(--warn); }
  .unhealthy { background: var(--bad); } .unknown { background: var(--mute); }
  .reason { color: var(--mute); font-size: 12px; max-width: 360px; }
  .bar { background: var(--bg); border: 1px solid var(--line); height: 12px; width: 160px; border-radius: 3px; overflow: hidden; }
  .bar > div { background: #0969da; height: 100%; }
  .num { font-variant-numeric: tabular-nums; white-space: nowrap; }
  h2 { font-size: 15px; margin: 16px 0 6px; }
  #events li { font-size: 12px; margin: 2px 0; list-style: none; }
  #events { padding: 0; max-height: 320px; overflow: auto; }
  .time { color: var(--mute); font-variant-numeric: tabular-nums; }
  svg.spark { vertical-align: middle; }
</style>
</head>
<body>
<header><h1>regiond</h1><span id="summary">loading…</span><span id="live">connecting…</span></header>
<main>
  <div id="alarms"></div>
  <h2>Regions</h2>
  <table>
    <thead><tr><th>region</th><th>status</th><th>error rate (recent)</th><th>latency p95</th><th>capacity</th><th>endpoints</th><th>traffic</th><th>phase</th><th>waits for</th></tr></thead>
    <tbody id="regions"></tbody>
  </table>
  <h2>Where the plan is applied</h2>
  <table><thead><tr><th>target</th><th>state</th><th>last applied</th><th>error</th></tr></thead><tbody id="targets"></tbody></table>
  <h2>Events</h2>
  <ul id="events"></ul>
</main>
<script>
"use strict";
const history = {};           // region -> recent error rates, for the sparklines
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"})[c]);
const pct = x => x == null ? "–" : (x * 100).toFixed(1) + "%";
const ms = x => x == null ? "–" : Math.round(x) + " ms";
const clock = t => t ? new Date(t).toLocaleTimeString() : "–";
function until(t) {
  if (!t) return null;
  const s = Math.max(0, Math.round((new Date(t) - Date.now()) / 1000));
  return s >= 60 ? Math.floor(s / 60) + "m " + (s % 60) + "s" : s + "s";
}
function spark(values) {
  if (!values || values.length < 2) return "";
  const w = 80, h = 18, n = values.length;
  const pts = values.map((v, i) => (i * w / (n - 1)).toFixed(1) + "," + (h - 1 - Math.min(1, v) * (h - 2)).toFixed(1)).join(" ");
  return `<svg class="spark" width="${w}" height="${h}"><polyline fill="none" stroke="#cf222e" stroke-width="1.5" points="${pts}"/></svg>`;
}
function render(data) {
  const status = data.status, traffic = data.traffic || {regions: [], targets: []};
  document.getElementById("summary").textContent = status.summary || "";
  const alarms = [];
  if (status.decisionsHeld) alarms.push("DECISIONS HELD: " + status.decisionsHeld);
  if (status.observerSuspect) alarms.push("OBSERVER SUSPECT: " + status.observerSuspect.regions.length + " of " + status.observerSuspect.enabled + " regions began failing at once; automatic decisions held until fewer fail or regionctl confirm");
  if (traffic.panic) alarms.push("NO HEALTHY TARGET: failing regions keep their traffic");
  if (traffic.recording === false) alarms.push("STATE DATABASE NOT WRITABLE: decisions are refused");
  if (traffic.pin) alarms.push("PINNED: " + traffic.pin.reason);
  for (const t of traffic.targets || []) if (!t.ok) alarms.push("PLAN NOT APPLIED to " + t.name);
  document.getElementById("alarms").innerHTML = alarms.map(a => `<div class="alarm">${esc(a)}</div>`).join("");
  const rows = {};
  for (const r of traffic.regions || []) rows[r.region] = r;
  document.getElementById("regions").innerHTML = status.regions.map(b => {
    const row = rows[b.id] || {};
    const share = traffic.total ? (row.weight || 0) / traffic.total : 0;   // of all traffic
    const h = (history[b.id] = (history[b.id] || []).concat([b.errorRate]).slice(-40));
    const m = row.maintenance;   // a drain or disable that ends by itself, or one scheduled
    const windows = m ? (m.begun ? [[m.action + " ends", m.end]] : [[m.action + " begins", m.start], [m.action + " ends", m.end]]) : [];
    const waits = windows.concat([["cooldown", row.cooldownUntil], ["recovery window", row.recoveryEnds], ["next step", row.nextStep], ["drain", row.drainUntil]])
      .filter(([, t]) => t && new Date(t) > Date.now()).map(([what, t]) => `${esc(what)} ${until(t)}`).join(", ") || (row.note ? esc(row.note) : "–");
    const moved = row.movedTo && row.movedTo.length ? `<div class="reason">moved to ${esc(row.movedTo.join(", "))}${row.movedRung === "degraded" ? " (degraded: best available)" : ""}</div>` : "";
    return `<tr id="region-${esc(b.id)}" data-status="${esc(b.status)}">
      <td><b>${esc(b.id)}</b></td>
      <td><span class="badge ${esc(b.status)}">${esc(b.status)}</span><div class="reason">${esc(b.reason)}</div></td>
      <td class="num">${pct(b.errorRate)} ${spark(h)}</td>
      <td class="num">${ms(b.latencyP95Ms)}</td>
      <td class="num">${pct(b.capacity)}</td>
      <td class="num">${b.endpointsPassing} of ${b.endpoints}</td>
      <td><div class="bar"><div style="width:${(share * 100).toFixed(1)}%"></div></div><span class="num">${pct(share)} (weight ${row.weight ?? "–"} of ${row.baseline ?? "–"})</span></td>
      <td>${esc(row.phase || "–")}${moved}${m ? `<div class="reason">${esc(m.action)}: ${esc(m.reason)}</div>` : ""}</td>
      <td class="num">${waits}</td></tr>`;
  }).join("");
  document.getElementById("targets").innerHTML = (traffic.targets || []).map(t =>
    `<tr><td>${esc(t.name)}</td><td>${t.ok ? "ok" : "<b style='color:var(--bad)'>FAILING</b>"}</td><td class="time">${clock(t.lastApplied)}</td><td>${esc(t.error || "")}</td></tr>`).join("");
  document.getElementById("events").innerHTML = "";
  for (const e of data.events.slice().reverse()) addEvent(e);
}
function addEvent(e) {
  const list = document.getElementById("events");
  const li = document.createElement("li");
  li.innerHTML = `<span class="time">${clock(e.time)}</span> <b>${esc(e.kind)}</b> ${esc(e.message)}`;
  list.insertBefore(li, list.firstChild);
  while (list.children.length > 100) list.removeChild(list.lastChild);
}
let pending = null;
async function refresh() {
  pending = null;
  try {
    const answer = await fetch("/api/status", {cache: "no-store"});
    render(await answer.json());
  } catch (error) {
    document.getElementById("live").textContent = "regiond does not answer";
  }
}
function soon() { if (!pending) pending = setTimeout(refresh, 150); }
const events = new EventSource("/events");
events.onopen = () => { document.getElementById("live").textContent = "live"; soon(); };
events.onerror = () => { document.getElementById("live").textContent = "reconnecting…"; };
events.onmessage = message => { soon(); };
setInterval(refresh, 5000);   // countdowns and sparklines move between events too
refresh();
</script>
</body>
</html>
"""#
}
