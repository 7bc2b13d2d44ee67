// zipcoord's operator dashboard: reads /api/v1/dashboard/* from this service only, redraws every 30 s without
// reloading, and keeps the last good data on screen (with a notice) when a refresh fails.
"use strict";

const API = "/api/v1/dashboard";
const SVG_NS = "http://www.w3.org/2000/svg";
const state = {
  overview: null, fetchedAt: 0, universe: null, mapEpoch: null, mapData: null, followCurrent: true,
  sort: { key: "listingsReported", desc: true }, refreshMs: 30000,
};

const $ = (id) => document.getElementById(id);
const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));

function text(id, value) { $(id).textContent = value; }

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function svgTitle(node, value) { svg("title", {}, node).textContent = value; }

function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return `${m} min ${String(s).padStart(2, "0")} s`;
  return `${s} s`;
}

function ago(iso) {
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  return seconds < 5 ? "just now" : `${duration(seconds)} ago`;
}

function clock(iso) { return iso ? iso.replace("T", " ").slice(0, 19) + " UTC" : "–"; }

function shortKey(hotkey) { return hotkey.length > 12 ? `${hotkey.slice(0, 6)}…${hotkey.slice(-4)}` : hotkey; }

// The epoch id's start as a short label: "12-03 04:00".
function epochLabel(id) { return `${id.slice(5, 10)} ${id.slice(11, 13)}:${id.slice(14, 16)}`; }

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const why = body && body.message ? body.message : response.statusText;
    throw new Error(`${path} answered ${response.status}: ${why}`);
  }
  return body;
}

function showProblem(message) {
  const box = $("problem");
  box.hidden = !message;
  box.textContent = message || "";
}

// ---- the current epoch, its assignment and its proof ----

function renderEpoch(o) {
  const e = o.epoch;
  text("epoch-id", e.id);
  text("epoch-start", clock(e.startTime));
  text("epoch-end", clock(e.endTime));
  // In groups mode the window is each batch's (every miner works its group's), not the union's.
  const grouped = e.batches.length > 0;
  const measured = grouped ? e.batches.map((b) => b.expectedListings) : (e.expectedListings === null ? [] : [e.expectedListings]);
  const low = Math.min(...measured), high = Math.max(...measured);
  text("expected", grouped ? (low === high ? fmt(low) : `${fmt(low)}–${fmt(high)}`) : fmt(e.expectedListings));
  text("expected-unit", grouped ? `expected listings per miner, in ${fmt(e.batches.length)} group batches` : "expected listings");
  text("zipcode-count", e.zipcodeCount === null ? "–" : fmt(e.zipcodeCount));
  text("nonce", e.nonce || "not yet");
  const outside = measured.filter((n) => n < e.windowMin || n > e.windowMax).length;
  const verdict = measured.length === 0 ? "" : outside === 0 ? (grouped ? ", every batch inside" : ", inside")
    : grouped ? `, ${outside} of ${measured.length} batches OUTSIDE` : ", OUTSIDE";
  text("window-text", e.unavailable ? e.unavailable
    : `target ${fmt(e.targetListings)} ± ${e.tolerancePercent} %${grouped ? " per miner" : ""}: window ${fmt(e.windowMin)}–${fmt(e.windowMax)}`
      + verdict);
  drawGauge(e);
  const v = e.verification;
  const seed = $("seed");
  seed.className = `badge ${v.seed}`;
  seed.textContent = { beacon: "beacon-seeded", fallback: "fallback seed", secret: "secret-seeded", pending: "pending" }[v.seed] || v.seed;
  text("verify-state", v.state);
  text("verify-round", v.round === null ? "–" : `${v.chain} round ${fmt(v.round)}`);
  text("inputs-hash", v.inputsHash || "–");
  $("proof-link").href = v.proofPath;
  $("inputs-link").href = v.inputsPath;
  tick();
}

// The window as a band on a scale from 0 to 1.25 × its top, the expected sum as a marker (in groups mode one
// marker per batch).
function drawGauge(e) {
  const gauge = $("window-gauge");
  gauge.replaceChildren();
  const markers = e.batches.length > 0
    ? e.batches.map((b) => [b.expectedListings, `group ${b.group}: ${fmt(b.expectedListings)} expected over ${fmt(b.zipcodes)} zipcodes, ${fmt(b.miners)} miners`])
    : e.expectedListings === null ? [] : [[e.expectedListings, `expected ${fmt(e.expectedListings)}`]];
  const top = Math.max(e.windowMax, ...markers.map(([n]) => n)) * 1.25 || 1;
  const x = (n) => 6 + (288 * n) / top;
  svg("rect", { x: 6, y: 14, width: 288, height: 8, rx: 4, fill: "#e9ecef" }, gauge);
  const band = svg("rect", { x: x(e.windowMin), y: 12, width: Math.max(2, x(e.windowMax) - x(e.windowMin)), height: 12, rx: 3, fill: "#b2f2bb" }, gauge);
  svgTitle(band, `window ${fmt(e.windowMin)}–${fmt(e.windowMax)}`);
  svg("line", { x1: x(e.targetListings), x2: x(e.targetListings), y1: 9, y2: 27, stroke: "#2f9e44", "stroke-width": 1.5 }, gauge);
  for (const [n, title] of markers) {
    const marker = svg("path", { class: "expected-marker", d: `M${x(n)} 28 l-5 8 h10 z`, fill: "#e8590c", "fill-opacity": markers.length > 1 ? 0.6 : 1 }, gauge);
    svgTitle(marker, title);
  }
}

// The countdown and progress bar, every second between refreshes.
function tick() {
  const o = state.overview;
  if (!o) return;
  const left = o.epoch.secondsLeft - (Date.now() - state.fetchedAt) / 1000;
  text("time-left", left > 0 ? `${duration(left)} left` : "ending: the next epoch is being created");
  const done = 1 - Math.max(0, left) / Math.max(1, o.epoch.lengthSeconds);
  $("epoch-progress").style.width = `${(100 * done).toFixed(1)}%`;
}

// ---- the map ----

async function loadUniverse() {
  state.universe = await getJson(`${API}/map`);
  drawDots();
}

// Every zipcode of the universe, faint, on the canvas (tens of thousands of points: no DOM nodes).
function drawDots() {
  const u = state.universe;
  const canvas = $("map-dots");
  const box = canvas.getBoundingClientRect();
  if (!u || box.width === 0) return;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(box.width * ratio);
  canvas.height = Math.round(box.height * ratio);
  const ctx = canvas.getContext("2d");
  const scale = canvas.width / u.width;
  const size = Math.max(1, 1.3 * scale);
  ctx.fillStyle = "rgba(71, 85, 105, 0.32)";
  for (let i = 0; i < u.points.length; i += 2) {
    ctx.fillRect(u.points[i] * scale - size / 2, u.points[i + 1] * scale - size / 2, size, size);
  }
}

// The epochs the map can show, newest first; the map follows the current epoch unless a past one was chosen.
function fillEpochChoices(o) {
  const select = $("map-epoch");
  const epochs = o.history.map((h) => h.epochId).reverse();
  if (o.epoch.zipcodeCount !== null && !epochs.includes(o.epoch.id)) epochs.unshift(o.epoch.id);
  const follow = state.followCurrent || !epochs.includes(state.mapEpoch);
  const chosen = follow ? epochs[0] : state.mapEpoch;
  select.replaceChildren(...epochs.map((id, n) => {
    const option = document.createElement("option");
    option.value = id;
    const previous = n === 1 && epochs[0] === o.epoch.id;
    option.textContent = id === o.epoch.id ? `${id} (current)` : previous ? `${id} (previous)` : id;
    return option;
  }));
  if (chosen) select.value = chosen;
}

async function showEpochOnMap(epochId, force) {
  if (!force && state.mapData && state.mapData.epochId === epochId) return;
  const data = await getJson(`${API}/epoch/${encodeURIComponent(epochId)}/map`);
  state.mapEpoch = epochId;
  state.mapData = data;
  drawMarkers();
}

// The epoch's zipcodes as markers sized by expected listings, the largest last so small ones stay visible.
function drawMarkers() {
  const data = state.mapData;
  const group = $("markers");
  group.replaceChildren();
  if (!data) return;
  const placed = data.zipcodes.filter((z) => z.x !== null);
  const most = Math.max(1, ...placed.map((z) => z.expectedListings));
  const ordered = [...placed].sort((a, b) => b.expectedListings - a.expectedListings);
  for (const z of ordered) {
    const circle = svg("circle", {
      class: calibrationMove(z) ? `zip-marker ${calibrationMove(z)}` : "zip-marker", cx: z.x, cy: z.y, r: (2.5 + 5.5 * Math.sqrt(z.expectedListings / most)).toFixed(1),
      "data-zipcode": z.zipcode, tabindex: 0,
    }, group);
    circle.addEventListener("mouseenter", () => showTip(circle, z));
    circle.addEventListener("focus", () => showTip(circle, z));
    circle.addEventListener("click", () => showTip(circle, z));
    circle.addEventListener("mouseleave", hideTip);
    circle.addEventListener("blur", hideTip);
  }
  const missing = data.zipcodes.length - placed.length;
  const moved = (direction) => data.zipcodes.filter((z) => calibrationMove(z) === direction).length;
  const [raised, lowered] = [moved("raised"), moved("lowered")];
  text("map-note", `${fmt(data.zipcodes.length)} zipcodes assigned in ${data.epochId}, ${fmt(data.expectedListings)} expected listings`
    + (missing > 0 ? `; ${missing} without a position on the map` : "")
    + (raised + lowered > 0 ? `; the epoch's calibration raised ${fmt(raised)} and lowered ${fmt(lowered)} of them` : "; none recalibrated this epoch")
    + `. Grey dots: the universe's ${fmt(state.universe ? state.universe.zipcodes : 0)} zipcodes.`);
}

// Zipcodes the epoch's calibration moved are coloured by the direction of the move: `raised`, `lowered`, or null.
function calibrationMove(z) {
  if (!z.calibration || z.calibration.from === z.expectedListings) return null;
  return z.calibration.from < z.expectedListings ? "raised" : "lowered";
}

function tipText(z) {
  const base = `${z.zipcode} · ${z.city}, ${z.state} · ${fmt(z.expectedListings)} expected listings`;
  if (!z.calibration) return base;
  return `${base} (recalibrated from ${fmt(z.calibration.from)} on the verdicts of ${z.calibration.evidenceEpoch})`;
}

function showTip(circle, z) {
  const tip = $("tooltip");
  const wrap = $("map-wrap").getBoundingClientRect();
  const at = circle.getBoundingClientRect();
  tip.textContent = tipText(z);
  tip.style.left = `${at.left + at.width / 2 - wrap.left}px`;
  tip.style.top = `${at.top - wrap.top}px`;
  tip.hidden = false;
  document.querySelectorAll(".zip-marker.active").forEach((m) => m.classList.remove("active"));
  circle.classList.add("active");
}

function hideTip() {
  $("tooltip").hidden = true;
  document.querySelectorAll(".zip-marker.active").forEach((m) => m.classList.remove("active"));
}

// ---- miners ----

const STATUS_ORDER = { COMPLETED: 0, IN_PROGRESS: 1, TIMEOUT: 2, FAILED: 3 };

function sortValue(row, key) {
  if (key === "status") return STATUS_ORDER[row.status] ?? 9;
  if (key === "uid") return row.uid === null ? 1e9 : row.uid;
  return row[key];
}

function renderMiners(o) {
  const m = o.miners;
  text("miner-summary", `${fmt(m.registered)} registered · ${fmt(m.reporting)} reporting · ${fmt(m.silent)} silent`);
  const { key, desc } = state.sort;
  const rows = [...m.rows].sort((a, b) => {
    const x = sortValue(a, key), y = sortValue(b, key);
    const order = x < y ? -1 : x > y ? 1 : a.hotkey < b.hotkey ? -1 : 1;
    return desc ? -order : order;
  });
  const body = $("miner-rows");
  body.replaceChildren(...rows.map(minerRow));
  $("miners-note").hidden = rows.length > 0;
  document.querySelectorAll("#miners th").forEach((th) => {
    th.classList.toggle("sorted", th.dataset.key === key);
    th.classList.toggle("desc", th.dataset.key === key && desc);
  });
}

function minerRow(row) {
  const tr = document.createElement("tr");
  const cell = (content, className) => {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    tr.appendChild(td);
    return td;
  };
  cell(row.uid === null ? "left" : String(row.uid), "num");
  cell(shortKey(row.hotkey), "mono").title = row.hotkey;
  const status = document.createElement("span");
  status.className = `status ${row.status}`;
  status.textContent = row.status.replace("_", " ").toLowerCase();
  cell(status);
  const listings = cell(`${fmt(row.listingsReported)} / ${fmt(row.listingsExpected)}`, "num");
  const meter = document.createElement("span");
  meter.className = "meter";
  const fill = document.createElement("i");
  fill.style.width = `${Math.min(100, (100 * row.listingsReported) / Math.max(1, row.listingsExpected)).toFixed(0)}%`;
  meter.appendChild(fill);
  listings.appendChild(meter);
  cell(`${fmt(row.zipcodesCompleted)} / ${fmt(row.zipcodesAssigned)}`, "num");
  cell(ago(row.lastReportAt)).title = `${clock(row.lastReportAt)}, ${row.reports} reports`;
  return tr;
}

// ---- history charts ----

// The smallest round number (1, 1.2, 1.6, 2 … 8 times a power of ten) at or above `value`: even axis ticks.
function niceTop(value) {
  const power = 10 ** Math.floor(Math.log10(Math.max(value, 1e-9)));
  return [1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10].map((m) => m * power).find((candidate) => candidate >= value);
}

function tickLabel(value) {
  if (value >= 1000) return `${(value / 1000).toFixed(value % 1000 === 0 ? 0 : 1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function chartFrame(node, history, top, unit) {
  top = niceTop(top);
  node.replaceChildren();
  const left = 46, right = 592, bottom = 200, height = 180;
  const step = (right - left) / Math.max(1, history.length);
  const y = (v) => bottom - (height * v) / top;
  const grid = svg("g", { class: "grid" }, node);
  const axis = svg("g", { class: "axis" }, node);
  for (let i = 0; i <= 4; i++) {
    const value = (top * i) / 4;
    svg("line", { x1: left, x2: right, y1: y(value), y2: y(value) }, grid);
    svg("text", { x: left - 6, y: y(value) + 3, "text-anchor": "end" }, axis).textContent = tickLabel(value);
  }
  const every = Math.max(1, Math.ceil(history.length / 6));
  history.forEach((h, i) => {
    if (i % every === 0 || i === history.length - 1) {
      svg("text", { x: left + step * (i + 0.5), y: bottom + 16, "text-anchor": "middle" }, axis).textContent = epochLabel(h.epochId);
    }
  });
  svg("text", { x: 4, y: 10 }, axis).textContent = unit;
  return { left, step, y, bottom };
}

function renderListingsChart(history) {
  const node = $("chart-listings");
  const reporters = (h) => h.completed + h.failed + h.inProgress;
  const mean = (h) => (reporters(h) > 0 ? h.reportedListings / reporters(h) : 0);
  // Delivered listings are the epoch's distinct listings over every honest miner: one miner's work in a shared
  // epoch, where each miner gets every zipcode; a groups epoch's total is not one miner's, so it is not drawn.
  const delivered = (h) => (h.deliveredListings != null && h.expectedPerMiner === h.expectedListings ? h.deliveredListings : null);
  const top = Math.max(1, ...history.map((h) => Math.max(h.expectedPerMiner, mean(h), h.targetListings, delivered(h) ?? 0)));
  const { left, step, y, bottom } = chartFrame(node, history, top, "listings");
  const targets = history.map((h, i) => `${(left + step * i).toFixed(1)},${y(h.targetListings).toFixed(1)} ${(left + step * (i + 1)).toFixed(1)},${y(h.targetListings).toFixed(1)}`);
  if (targets.length) {
    const line = svg("polyline", { class: "target-line", points: targets.join(" "), fill: "none", stroke: "#adb5bd", "stroke-width": 1.5, "stroke-dasharray": "5 4" }, node);
    svgTitle(line, `target ${fmt(history[history.length - 1].targetListings)} listings per miner (±10 % window)`);
  }
  history.forEach((h, i) => {
    const bar = svg("rect", {
      x: left + step * i + step * 0.18, width: step * 0.64, y: y(mean(h)), height: bottom - y(mean(h)), fill: "#1c7ed6", "fill-opacity": 0.75,
    }, node);
    svgTitle(bar, `${h.epochId}: ${fmt(Math.round(mean(h)))} reported per miner (${fmt(h.reportedListings)} by ${reporters(h)} miners), ${fmt(h.expectedPerMiner)} expected per miner`);
  });
  const points = history.map((h, i) => `${(left + step * (i + 0.5)).toFixed(1)},${y(h.expectedPerMiner).toFixed(1)}`);
  if (points.length) svg("polyline", { points: points.join(" "), fill: "none", stroke: "#1c2430", "stroke-width": 2 }, node);
  history.forEach((h, i) => {
    const dot = svg("circle", { cx: left + step * (i + 0.5), cy: y(h.expectedPerMiner), r: 2.5, fill: "#1c2430" }, node);
    svgTitle(dot, `${h.epochId}: ${fmt(h.expectedPerMiner)} expected per miner`);
  });
  history.forEach((h, i) => {
    if (delivered(h) === null) return;
    const cx = left + step * (i + 0.5), cy = y(delivered(h));
    const mark = svg("rect", { class: "delivered-mark", x: cx - 3.5, y: cy - 3.5, width: 7, height: 7, fill: "#2f9e44", transform: `rotate(45 ${cx.toFixed(1)} ${cy.toFixed(1)})` }, node);
    const off = h.expectedListings > 0 ? Math.round((100 * (delivered(h) - h.expectedListings)) / h.expectedListings) : 0;
    svgTitle(mark, `${h.epochId}: ${fmt(delivered(h))} distinct listings delivered by honest miners (validators' count), ${off >= 0 ? "+" : ""}${off} % against ${fmt(h.expectedListings)} expected, target ${fmt(h.targetListings)}`);
  });
}

function renderMinersChart(history) {
  const node = $("chart-miners");
  const parts = [["completed", "#2f9e44"], ["inProgress", "#1c7ed6"], ["failed", "#e03131"], ["silent", "#adb5bd"]];
  const total = (h) => parts.reduce((sum, [k]) => sum + h[k], 0);
  const top = Math.max(1, ...history.map(total));
  const { left, step, y, bottom } = chartFrame(node, history, top, "miners");
  history.forEach((h, i) => {
    let base = 0;
    for (const [k, color] of parts) {
      if (h[k] === 0) continue;
      const bar = svg("rect", {
        x: left + step * i + step * 0.18, width: step * 0.64, y: y(base + h[k]), height: y(base) - y(base + h[k]), fill: color,
      }, node);
      svgTitle(bar, `${h.epochId}: ${h.completed} completed, ${h.inProgress} in progress, ${h.failed} failed, ${h.silent} silent`);
      base += h[k];
    }
    if (base === 0) svg("line", { x1: left + step * i, x2: left + step * (i + 1), y1: bottom, y2: bottom, stroke: "#adb5bd" }, node);
  });
}

// ---- the system ----

function renderSystem(o) {
  const s = o.system, m = s.metagraph, b = s.beacon;
  const grants = s.grantsLastDay.map((g) => `${g.kind.replace("_", " ")} ${fmt(g.count)}`).join(" · ");
  const entries = [
    ["Database", `${s.database}, ${s.databaseOk ? "answering" : "NOT answering"}`],
    ["Metagraph", `${m.source}, netuid ${m.netuid}`],
    ["Metagraph state", `block ${fmt(m.block)}, ${m.age_seconds === null ? "not loaded" : `${duration(m.age_seconds)} old`}, ${m.fresh ? "fresh" : "STALE"}; ${fmt(m.neurons)} neurons, ${fmt(m.validators)} validators`],
    ["Beacon", `${b.source} (${b.chain}): ${b.state}${b.lastRound ? `, round ${fmt(b.lastRound)}` : ""}`],
    ["S3 store", s.s3Configured ? "configured" : "not configured (grants answer 503)"],
    ["Grants, last 24 h", grants],
    ["Requests, last 24 h", `${fmt(s.requestsLastDay)}, ${fmt(s.rateLimitedLastDay)} refused by rate limits`],
    ["Version", `zipcoord ${s.version}, up ${duration(s.uptimeSeconds)}`],
  ];
  const writes = s.databaseWrites, creation = s.epochCreation;
  if (writes.state !== "ok") entries.unshift(["Database writes", `FAILING since ${writes.failing_since}: ${writes.reason}`]);
  if (creation.state !== "ok") {
    entries.unshift(["Epoch creation", `FAILING for ${creation.epoch} since ${creation.failing_since} (${fmt(creation.attempts)} attempts, next at ${creation.next_attempt_at}): ${creation.reason}`]);
  }
  if (m.last_error) entries.push(["Metagraph error", m.last_error]);
  if (b.waiting) {
    const w = b.waiting;
    entries.unshift(["Beacon wait", `epoch ${w.epoch} waits for the pulse of round ${fmt(w.round)} since ${w.since}; ${w.fallback}`]);
  }
  if (b.lastError) entries.push(["Beacon error", b.lastError]);
  $("system").replaceChildren(...entries.map(([term, value]) => {
    const div = document.createElement("div");
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    div.append(dt, dd);
    return div;
  }));
  const health = $("health");
  const ok = s.status === "ok";
  health.className = `pill ${ok ? "ok" : "degraded"}`;
  health.textContent = ok ? "healthy" : "degraded";
}

// ---- refresh ----

async function refresh() {
  try {
    const o = await getJson(`${API}/overview`);
    state.overview = o;
    state.fetchedAt = Date.now();
    renderEpoch(o);
    renderMiners(o);
    renderListingsChart(o.history);
    renderMinersChart(o.history);
    renderSystem(o);
    fillEpochChoices(o);
    text("updated", clock(o.generatedAt));
    state.refreshMs = 1000 * (o.refreshSeconds || 30);
    if (!state.universe) await loadUniverse();
    // The current epoch's map changes only when the epoch does; a past one never.
    if ($("map-epoch").value) await showEpochOnMap($("map-epoch").value, false);
    showProblem(null);
    // When everything was first on screen, from the start of navigation (scripts/dashboard-render.py reads it).
    if (!document.body.dataset.firstRenderMs) document.body.dataset.firstRenderMs = String(Math.round(performance.now()));
  } catch (error) {
    const since = state.overview ? ` Showing the data of ${clock(state.overview.generatedAt)}.` : "";
    showProblem(`Could not refresh: ${error.message}.${since} Trying again in ${state.refreshMs / 1000} s.`);
  }
  setTimeout(refresh, state.refreshMs);
}

function start() {
  document.querySelectorAll("#miners th").forEach((th) => th.addEventListener("click", () => {
    const key = th.dataset.key;
    state.sort = { key, desc: state.sort.key === key ? !state.sort.desc : key !== "hotkey" && key !== "uid" };
    if (state.overview) renderMiners(state.overview);
  }));
  $("map-epoch").addEventListener("change", (event) => {
    state.followCurrent = event.target.selectedIndex === 0;
    showEpochOnMap(event.target.value, true).catch((error) => showProblem(`Could not load the map: ${error.message}.`));
  });
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(drawDots, 150);
  });
  setInterval(tick, 1000);
  refresh();
}

start();
