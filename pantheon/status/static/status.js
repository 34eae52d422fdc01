// Pantheon's status page: polls status.json (relative, so the page works wherever it is mounted)
// once a second and redraws. No framework, no build step: DOM calls and inline SVG.
"use strict";

const POLL_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
let sortKey = "id";
let descending = false;
let lastPeers = [];

const $ = (id) => document.getElementById(id);

function bytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  seconds = Math.round(seconds);
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
  if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  return Math.floor(seconds / 86400) + " d " + Math.floor((seconds % 86400) / 3600) + " h";
}

function node(tag, attributes, text) {
  const element = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = node("tr");
    for (const cell of cells) tr.append(cell instanceof Node ? cell : node("td", {}, String(cell)));
    return tr;
  }));
}

function drawCurve(svg, points, now) {
  const width = 640, height = 180, left = 48, bottom = 20, top = 8;
  svg.replaceChildren();
  if (!points.length) return;
  const t0 = points[0][0], t1 = Math.max(now, points[points.length - 1][0], t0 + 1);
  const h0 = Math.min(...points.map((p) => p[1])), h1 = Math.max(h0 + 1, ...points.map((p) => p[1]));
  const x = (t) => left + (t - t0) / (t1 - t0) * (width - left - 4);
  const y = (h) => height - bottom - (h - h0) / (h1 - h0) * (height - bottom - top);
  svg.append(node("svg:line", {x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: "axis"}));
  svg.append(node("svg:line", {x1: left, y1: top, x2: left, y2: height - bottom, class: "axis"}));
  svg.append(node("svg:text", {x: 2, y: top + 10}, String(h1)));
  svg.append(node("svg:text", {x: 2, y: height - bottom}, String(h0)));
  svg.append(node("svg:text", {x: left, y: height - 4}, duration(t1 - t0) + " ago"));
  svg.append(node("svg:text", {x: width - 30, y: height - 4}, "now"));
  const last = points[points.length - 1];
  const path = points.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1));
  path.push(x(t1).toFixed(1) + "," + y(last[1]).toFixed(1));
  svg.append(node("svg:polyline", {points: path.join(" "), class: "line"}));
}

function drawHistogram(svg, buckets) {
  const width = 640, height = 160, bottom = 20, top = 14;
  svg.replaceChildren();
  const most = Math.max(1, ...buckets.map((b) => b.vsize));
  const step = width / buckets.length;
  buckets.forEach((bucket, i) => {
    const h = bucket.vsize / most * (height - bottom - top);
    const column = node("svg:rect", {x: i * step + 2, y: height - bottom - h, width: step - 4, height: h, class: "column"});
    column.append(node("svg:title", {}, bucket.count + " txs, " + bytes(bucket.vsize) + " (vsize) at ≥ " + bucket.from + " sat/vB"));
    svg.append(column);
    svg.append(node("svg:text", {x: i * step + 4, y: height - 4}, "≥" + bucket.from));
    if (bucket.count) svg.append(node("svg:text", {x: i * step + 4, y: height - bottom - h - 2}, String(bucket.count)));
  });
}

function sortPeers() {
  const peers = [...lastPeers];
  peers.sort((a, b) => {
    const u = a[sortKey], v = b[sortKey];
    const order = (u === null) - (v === null) || (u < v ? -1 : u > v ? 1 : 0);
    return descending ? -order : order;
  });
  fillRows(document.querySelector("#peers tbody"), peers.map((p) => [
    p.id, p.address, p.direction, p.transport, node("td", {class: "ua"}, p.user_agent), p.services.join(" "),
    p.ping === null ? "–" : (p.ping * 1000).toFixed(1) + " ms", bytes(p.bytes_received), bytes(p.bytes_sent),
    duration(p.connected_seconds), p.misbehaviour,
  ]));
  for (const th of document.querySelectorAll("#peers th")) {
    th.classList.toggle("sorted", th.dataset.key === sortKey);
    th.classList.toggle("descending", th.dataset.key === sortKey && descending);
  }
}

function render(status) {
  const sync = status.sync;
  $("network").textContent = status.network;
  $("user-agent").textContent = status.user_agent;
  $("height").textContent = sync.height;
  $("headers").textContent = sync.headers;
  $("progress").textContent = sync.progress.toFixed(2) + " %";
  $("progress-bar").style.width = sync.progress + "%";
  $("rate").textContent = sync.blocks_per_second.toFixed(1);
  $("eta").textContent = sync.eta_seconds === null ? (sync.initial_block_download ? "–" : "synced") : duration(sync.eta_seconds);
  $("inflight").textContent = sync.blocks_in_flight;
  drawCurve($("curve"), sync.curve, status.time);
  lastPeers = status.peers;
  $("peer-count").textContent = status.peers.length;
  sortPeers();
  const traffic = status.traffic;
  const most = Math.max(1, ...traffic.commands.map((c) => Math.max(c.sent, c.received)));
  const meter = (n, kind) => {
    const td = node("td");
    td.append(node("span", {class: "meter " + kind, style: "width:" + (n / most * 120).toFixed(0) + "px"}));
    return td;
  };
  $("traffic-total").textContent = "in " + bytes(traffic.received) + ", out " + bytes(traffic.sent);
  fillRows(document.querySelector("#traffic tbody"), traffic.commands.map((c) => [
    c.command, node("td", {class: "number"}, bytes(c.received)), meter(c.received, "in"),
    node("td", {class: "number"}, bytes(c.sent)), meter(c.sent, "out"),
  ]));
  const mempool = status.mempool;
  $("mempool-count").textContent = mempool.count;
  $("mempool-bytes").textContent = bytes(mempool.bytes);
  $("mempool-usage").textContent = bytes(mempool.usage) + " / " + bytes(mempool.max_usage);
  drawHistogram($("fees"), mempool.histogram);
  $("discouraged").textContent = status.discouraged + " discouraged";
  const when = (t) => new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19);
  fillRows(document.querySelector("#bans tbody"), status.bans.map((b) => [b.address, when(b.created), when(b.until)]));
  const updated = $("updated");
  updated.textContent = "updated " + new Date(status.time * 1000).toLocaleTimeString();
  updated.classList.remove("error");
}

async function poll() {
  try {
    const response = await fetch("status.json", {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
  } catch (error) {
    $("updated").textContent = "no answer from the node: " + error.message;
    $("updated").classList.add("error");
  }
  setTimeout(poll, POLL_MS);
}

for (const th of document.querySelectorAll("#peers th[data-key]")) {
  th.addEventListener("click", () => {
    descending = th.dataset.key === sortKey ? !descending : false;
    sortKey = th.dataset.key;
    sortPeers();
  });
}
poll();
