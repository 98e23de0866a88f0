// The web console (Docs/CONSOLE.md): lists the host's pipelines, builds a subscribe form
// from a pipeline's params, and shows a stream live. Built on hyphae.js; no dependencies.
import { HyphaeClient, HyphaeError } from "/hyphae.js";
import { Heatmap, TimeSeriesChart } from "/console/charts.js";

const KEY_STORAGE = "hyphae.apiKey";
const REFRESH_MS = 2000;
const MAX_CHARTS = 32;
const MAX_NOTICES = 100;
const SKIPPED_NUMBERS = new Set(["sequence", "timestamp"]);

const $ = (id) => document.getElementById(id);
const socketURL = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

let pipelines = new Map();
let client = null;
let view = null; // the stream on screen
let keyPrompt = null;
let selectedName = null; // the pipeline the route names

// ---------------------------------------------------------------------------
// The API key: asked for only when the host wants one, kept in this tab only.

function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

function askForKey(message = "") {
  if (keyPrompt) return keyPrompt;
  keyPrompt = new Promise((resolve) => {
    const dialog = $("key-dialog");
    $("key-error").textContent = message;
    $("key-input").value = "";
    $("key-form").onsubmit = () => {
      const key = $("key-input").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      keyPrompt = null;
      resolve(key);
    };
    dialog.showModal();
  });
  return keyPrompt;
}

// ---------------------------------------------------------------------------
// The pipeline list, from GET /pipelines, refreshed while the page is open.

async function fetchPipelines() {
  const headers = {};
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch("/pipelines", { headers, cache: "no-store" });
  } catch {
    $("pipelines-error").textContent = "the host does not answer; retrying";
    return;
  }
  if (response.status === 401) {
    await askForKey(key ? "that key was not accepted" : "");
    return fetchPipelines();
  }
  if (!response.ok) {
    $("pipelines-error").textContent = `GET /pipelines answered ${response.status}`;
    return;
  }
  const document = await response.json();
  $("pipelines-error").textContent = "";
  pipelines = new Map(document.pipelines.map((pipeline) => [pipeline.name, pipeline]));
  renderPipelines();
  $("pipelines-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderPipelines() {
  const body = $("pipelines").tBodies[0];
  const rows = [];
  for (const pipeline of pipelines.values()) {
    const row = document.createElement("tr");
    row.dataset.pipeline = pipeline.name;
    if (selectedName === pipeline.name) row.className = "selected";
    const link = document.createElement("a");
    link.href = `#/pipeline/${encodeURIComponent(pipeline.name)}`;
    link.textContent = pipeline.name;
    row.insertCell().append(link);
    cell(row, pipeline.description);
    cell(row, pipeline.paths.join(", "));
    cell(row, pipeline.sharing);
    cell(row, String(pipeline.subscribers), "number subscribers");
    cell(row, String(pipeline.frames_sent), "number sent");
    cell(row, String(pipeline.frames_dropped), "number dropped");
    rows.push(row);
  }
  body.replaceChildren(...rows);
}

// ---------------------------------------------------------------------------
// Params: a form from their declarations, and values to and from a link's query.

function parseParam(name, declaration, text) {
  const fail = (expected) => { throw new Error(`${name}: expected ${expected}, found '${text}'`); };
  const one = (kind, raw) => {
    switch (kind) {
      case "int": { const value = Number(raw); if (raw === "" || !Number.isInteger(value)) fail("an integer"); return value; }
      case "float": { const value = Number(raw); if (raw === "" || !Number.isFinite(value)) fail("a number"); return value; }
      case "bool": if (raw === "true" || raw === "1") return true; if (raw === "false" || raw === "0") return false; return fail("true or false");
      default: return raw;
    }
  };
  if (declaration.type === "list") {
    return text.trim() === "" ? [] : text.split(",").map((item) => one(declaration.items, item.trim()));
  }
  return one(declaration.type, text.trim());
}

function formatParam(declaration, value) {
  return Array.isArray(value) ? value.join(",") : String(value);
}

function buildForm(pipeline, values) {
  const fields = [];
  for (const [name, declaration] of Object.entries(pipeline.params)) {
    const label = document.createElement("label");
    label.htmlFor = `param-${name}`;
    label.textContent = name;
    let input;
    if (declaration.type === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = values[name] ?? declaration.default;
    } else if (declaration.allowed && declaration.type !== "list") {
      input = document.createElement("select");
      for (const option of declaration.allowed) input.add(new Option(String(option), String(option)));
      input.value = String(values[name] ?? declaration.default);
    } else {
      input = document.createElement("input");
      if (declaration.type === "int" || declaration.type === "float") {
        input.type = "number";
        input.step = declaration.type === "int" ? "1" : "any";
        if (declaration.min !== undefined) input.min = String(declaration.min);
        if (declaration.max !== undefined) input.max = String(declaration.max);
      } else {
        input.type = "text";
      }
      input.value = formatParam(declaration, values[name] ?? declaration.default);
    }
    input.id = `param-${name}`;
    input.name = name;
    const help = document.createElement("small");
    const bounds = [
      declaration.type === "list" ? `list of ${declaration.items}` : declaration.type,
      declaration.min !== undefined ? `min ${declaration.min}` : null,
      declaration.max !== undefined ? `max ${declaration.max}` : null,
      declaration.allowed ? `allowed: ${declaration.allowed.join(", ")}` : null,
      `default ${formatParam(declaration, declaration.default)}`,
    ].filter(Boolean).join(" · ");
    help.textContent = declaration.description ? `${declaration.description} (${bounds})` : bounds;
    fields.push(label, input, help);
  }
  $("param-fields").replaceChildren(...fields);
}

// The params the form holds that differ from their defaults, as a link's query.
function formQuery(pipeline) {
  const query = new URLSearchParams();
  for (const [name, declaration] of Object.entries(pipeline.params)) {
    const input = $(`param-${name}`);
    const text = input.type === "checkbox" ? String(input.checked) : input.value;
    const value = parseParam(name, declaration, text);
    if (JSON.stringify(value) !== JSON.stringify(declaration.default)) query.set(name, formatParam(declaration, value));
  }
  return query;
}

function paramsFromQuery(pipeline, query) {
  const params = {};
  for (const [name, text] of query) {
    const declaration = pipeline.params[name];
    if (!declaration) throw new Error(`'${pipeline.name}' has no param '${name}'`);
    params[name] = parseParam(name, declaration, text);
  }
  return params;
}

// ---------------------------------------------------------------------------
// Routes: #/ (the list), #/pipeline/NAME (its form), #/stream/NAME?params (live).

async function route() {
  const match = /^#\/(pipeline|stream)\/([^?]+)(?:\?(.*))?$/.exec(location.hash);
  selectedName = match ? decodeURIComponent(match[2]) : null;
  if (!match) {
    stopView();
    $("stream-panel").hidden = true;
    renderPipelines();
    return;
  }
  const [, mode, encodedName, queryText] = match;
  const name = decodeURIComponent(encodedName);
  if (!pipelines.has(name)) await fetchPipelines();
  const pipeline = pipelines.get(name);
  $("stream-panel").hidden = false;
  $("stream-title").textContent = name;
  $("subscribe-error").textContent = "";
  if (!pipeline) {
    $("stream-description").textContent = "";
    $("param-fields").replaceChildren();
    $("subscribe-error").textContent = `this host has no pipeline '${name}'`;
    return;
  }
  $("stream-description").textContent = pipeline.description;
  let params = {};
  try {
    params = paramsFromQuery(pipeline, new URLSearchParams(queryText ?? ""));
  } catch (error) {
    $("subscribe-error").textContent = error.message;
    buildForm(pipeline, {});
    return;
  }
  buildForm(pipeline, params);
  renderPipelines();
  if (mode === "stream") {
    await startView(pipeline, params);
  } else {
    stopView();
  }
}

$("subscribe-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const pipeline = pipelines.get($("stream-title").textContent);
  if (!pipeline) return;
  try {
    const query = formQuery(pipeline).toString();
    const target = `#/stream/${encodeURIComponent(pipeline.name)}${query ? `?${query}` : ""}`;
    if (location.hash === target) route(); else location.hash = target;
  } catch (error) {
    $("subscribe-error").textContent = error.message;
  }
});

$("stop-button").addEventListener("click", () => {
  const name = view?.name;
  stopView();
  if (name) location.hash = `#/pipeline/${encodeURIComponent(name)}`;
});

// ---------------------------------------------------------------------------
// The connection, shared by every view.

async function connectedClient() {
  if (!client) {
    client = new HyphaeClient(socketURL, { apiKey: storedKey() });
    client.addEventListener("state", (event) => showConnection(event.detail.state));
  }
  for (;;) {
    try {
      const info = await client.connect();
      $("server-info").textContent = `${info.server ?? "hyphae"} · protocol ${info.protocol_version ?? "?"}`;
      $("change-key").hidden = !info.auth_required;
      return client;
    } catch (error) {
      if (error instanceof HyphaeError && error.code.startsWith("AUTH")) {
        client.apiKey = await askForKey(error.code === "AUTH_REQUIRED" ? "" : "that key was not accepted");
        continue;
      }
      throw error;
    }
  }
}

function showConnection(state) {
  const badge = $("connection");
  badge.dataset.state = state;
  badge.textContent = state;
  if (view && state === "reconnecting") setStatus("reconnecting");
}

$("change-key").addEventListener("click", async () => {
  const key = await askForKey();
  if (client) client.apiKey = key;
});

// ---------------------------------------------------------------------------
// The live view.

class StreamView {
  constructor(name) {
    this.name = name;
    this.frames = 0;
    this.gaps = 0;
    this.lost = 0;
    this.arrivals = [];
    this.latency = null;
    this.sequence = null;
    this.heatmap = new Heatmap($("heatmap"));
    this.charts = new Map();
    this.subscription = null;
    this.drawScheduled = false;
    this.stopped = false;
  }

  frame(event) {
    this.frames += 1;
    if (event.gap > 0) {
      this.gaps += 1;
      this.lost += event.gap;
    }
    this.sequence = event.sequence;
    const now = event.receivedAt;
    this.arrivals.push(now);
    while (this.arrivals.length > 0 && this.arrivals[0] < now - 1000) this.arrivals.shift();
    if (typeof event.timestamp === "number") {
      const latency = now - event.timestamp;
      this.latency = this.latency === null ? latency : this.latency * 0.9 + latency * 0.1;
    }
    if (event.payload) this.record(event.payload, "");
    this.scheduleDraw();
  }

  // Every number in the payload becomes a chart; a field with its shape, the heatmap.
  record(object, prefix) {
    if (object.field && Array.isArray(object.field_shape) && object.field_shape.length === 2 &&
      (Array.isArray(object.field) || object.field instanceof Float64Array)) {
      this.heatmap.update(object.field, object.field_shape);
      $("field-box").hidden = false;
    }
    for (const [key, value] of Object.entries(object)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (typeof value === "number") {
        if (!prefix && SKIPPED_NUMBERS.has(key)) continue;
        this.chart(path)?.push(value);
      } else if (value && typeof value === "object" && !Array.isArray(value) && !(value instanceof Float64Array) && key !== "field_shape") {
        this.record(value, path);
      }
    }
  }

  chart(path) {
    let chart = this.charts.get(path);
    if (chart || this.charts.size >= MAX_CHARTS) return chart;
    const figure = document.createElement("figure");
    figure.className = "chart";
    figure.dataset.feature = path;
    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.textContent = path;
    const latest = document.createElement("span");
    latest.className = "latest";
    caption.append(name, latest);
    const canvas = document.createElement("canvas");
    figure.append(caption, canvas);
    $("charts").append(figure);
    chart = new TimeSeriesChart(canvas);
    chart.latestLabel = latest;
    this.charts.set(path, chart);
    return chart;
  }

  scheduleDraw() {
    if (this.drawScheduled || this.stopped) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.drawScheduled = false;
    if (this.stopped) return;
    const started = performance.now();
    if (this.heatmap.draw()) {
      const [low, high] = this.heatmap.range;
      $("field-range").textContent = `${low.toPrecision(4)} … ${high.toPrecision(4)}`;
    }
    for (const chart of this.charts.values()) {
      if (chart.draw()) chart.latestLabel.textContent = Number(chart.latest.toPrecision(6)).toString();
    }
    $("stat-frames").textContent = String(this.frames);
    $("stat-rate").textContent = String(this.arrivals.length);
    $("stat-latency").textContent = this.latency === null ? "-" : `${this.latency.toFixed(1)} ms`;
    $("stat-sequence").textContent = this.sequence === null || this.sequence === undefined ? "-" : String(this.sequence);
    $("stat-gaps").textContent = String(this.gaps);
    $("stat-lost").textContent = String(this.lost);
    // How often and how long it draws, for the tests and for anyone who wonders.
    this.draws = (this.draws ?? 0) + 1;
    this.drawTime = (this.drawTime ?? 0) + performance.now() - started;
    const live = $("live");
    live.dataset.draws = String(this.draws);
    live.dataset.frames = String(this.frames);
    live.dataset.drawMs = (this.drawTime / this.draws).toFixed(3);
  }

  notice(event) {
    const item = document.createElement("li");
    item.dataset.type = event.type;
    const payload = event.payload ?? {};
    const details = {
      stream_reloaded: () => `the pipeline changed: now version ${payload.pipeline_version}`,
      stream_end: () => `${payload.reason}: ${payload.message ?? ""} (${payload.packets_sent ?? 0} frames, ${payload.dropped_frames ?? 0} dropped)`,
      error: () => `${payload.error_code}: ${payload.message}`,
      reconnecting: () => "the connection was lost; reconnecting",
      resubscribed: () => event.recovered ? "subscribed again; every missed frame was replayed"
        : event.missed !== null && event.missed !== undefined ? `subscribed again; ${event.missed} frames could not be replayed`
        : event.epochChanged ? "subscribed again to another run of the stream; what it sent meanwhile is unknown" : "subscribed again",
      subscribe_failed: () => `${payload.error_code}: ${payload.message}`,
    }[event.type];
    item.textContent = `${new Date().toLocaleTimeString()} ${event.type}${details ? `: ${details()}` : ""}`;
    const list = $("notices");
    list.prepend(item);
    while (list.children.length > MAX_NOTICES) list.lastElementChild.remove();
    if ((event.type === "stream_end" && !event.willResume) || event.type === "subscribe_failed") setStatus("ended");
    if (event.type === "resubscribed") setStatus("live");
  }
}

function setStatus(state) {
  const status = $("stat-status");
  status.dataset.state = state;
  status.textContent = state;
}

function stopView() {
  if (!view) return;
  view.stopped = true;
  view.subscription?.close();
  view = null;
  $("stop-button").disabled = true;
  $("subscribe-button").disabled = false;
}

async function startView(pipeline, params) {
  stopView();
  const current = new StreamView(pipeline.name);
  view = current;
  $("live").hidden = false;
  $("field-box").hidden = true;
  $("charts").replaceChildren();
  $("notices").replaceChildren();
  $("stop-button").disabled = false;
  setStatus("subscribing");
  let subscription;
  try {
    const connection = await connectedClient();
    if (current.stopped) return;
    subscription = await connection.subscribe(pipeline.name, params);
  } catch (error) {
    if (view === current) {
      $("subscribe-error").textContent = error.message;
      setStatus("ended");
    }
    return;
  }
  if (current.stopped) {
    subscription.close();
    return;
  }
  current.subscription = subscription;
  setStatus("live");
  for await (const event of subscription) {
    if (current.stopped) break;
    if (event.kind === "frame") current.frame(event); else current.notice(event);
  }
  current.draw();
}

// ---------------------------------------------------------------------------

window.addEventListener("hashchange", () => { route().catch(showFailure); });
function showFailure(error) {
  $("subscribe-error").textContent = error.message;
}

await fetchPipelines();
setInterval(() => { fetchPipelines().catch(() => {}); }, REFRESH_MS);
route().catch(showFailure);
