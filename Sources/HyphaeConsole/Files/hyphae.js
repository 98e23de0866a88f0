// hyphae.js: a client for Hyphae's WebSocket protocol (Docs/PROTOCOL.md), for browsers
// and other JavaScript runtimes with WebSocket, WebCrypto and EventTarget (Deno, Bun,
// Node 22+). One ES module, no dependencies. Served by every host at GET /hyphae.js.
//
//   import { HyphaeClient } from "/hyphae.js";
//   const client = new HyphaeClient("ws://127.0.0.1:8080/ws", { apiKey: "k1" });
//   // or several hosts of the same pipelines, tried in turn: new HyphaeClient([urlA, urlB], ...)
//   await client.connect();
//   const subscription = await client.subscribe("ticker", { rate: 5 });
//   for await (const event of subscription) {
//     if (event.kind === "frame") console.log(event.sequence, event.payload);
//   }
//
// Docs/CONSOLE.md describes the API; Docs/COMPRESSION.md the decoding it does.

export const PROTOCOL_VERSION = "1.0";
export const CLIENT_INFO = "hyphae.js/1.0";

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// Auth signature (PROTOCOL.md, auth): lowercase hex of HMAC-SHA256 keyed by the API key's
// UTF-8 bytes, over the decimal digits of the timestamp's integer part as sent.

/** The signature of `timestamp` (a number, milliseconds or seconds, as it will be sent). */
export async function authSignature(apiKey, timestamp) {
  const whole = Math.trunc(Number(timestamp));
  if (!Number.isSafeInteger(whole)) throw new RangeError("the timestamp must be a finite number below 2^53");
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error("WebCrypto is not available: a browser offers it only on https:// pages and on localhost");
  const key = await subtle.importKey("raw", encoder.encode(apiKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const code = new Uint8Array(await subtle.sign("HMAC", key, encoder.encode(String(whole))));
  let hex = "";
  for (const byte of code) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The payload of an `auth` message: the key, the timestamp in whole milliseconds, its signature. */
export async function authPayload(apiKey, timestamp = Date.now()) {
  const whole = Math.trunc(timestamp);
  return { api_key: apiKey, timestamp: whole, signature: await authSignature(apiKey, whole) };
}

// ---------------------------------------------------------------------------
// The `compress` transform's frames (Docs/COMPRESSION.md).

/** Whether `value` is a packed array: an object whose `packed` is "u8" or "u16" and whose `data` is a string. */
export function isPacked(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    (value.packed === "u8" || value.packed === "u16") && typeof value.data === "string";
}

function base64Bytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** A packed array's values, `offset + q[i] * scale` (q unsigned, little-endian), as a Float64Array. */
export function unpack(packed) {
  const length = packed.length;
  const width = packed.packed === "u8" ? 1 : 2;
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError("a packed array's length must be a whole number");
  const bytes = base64Bytes(packed.data);
  if (bytes.length !== length * width) {
    throw new RangeError(`a packed array of ${length} ${packed.packed} values needs ${length * width} bytes, its data has ${bytes.length}`);
  }
  const offset = Number(packed.offset);
  const scale = Number(packed.scale);
  const values = new Float64Array(length);
  if (width === 1) {
    for (let index = 0; index < length; index++) values[index] = offset + bytes[index] * scale;
  } else {
    for (let index = 0; index < length; index++) values[index] = offset + (bytes[2 * index] | (bytes[2 * index + 1] << 8)) * scale;
  }
  return values;
}

/** `value` with every packed array in it, at any depth, unpacked. */
export function unpackAll(value) {
  if (isPacked(value)) return unpack(value);
  if (Array.isArray(value)) return value.map(unpackAll);
  if (value !== null && typeof value === "object") {
    const result = {};
    for (const [key, item] of Object.entries(value)) result[key] = unpackAll(item);
    return result;
  }
  return value;
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function merge(target, changes) {
  for (const [key, value] of Object.entries(changes)) {
    if (isPlainObject(value) && isPlainObject(target[key]) && !isPacked(value)) {
      merge(target[key], value);
    } else {
      target[key] = value;
    }
  }
}

function deepCopy(value) {
  return value === null || typeof value !== "object" ? value : JSON.parse(JSON.stringify(value));
}

/**
 * Rebuilds the complete payloads of one subscription from delta and packed frames, as
 * Docs/COMPRESSION.md ("Rebuilding on the client") says. Frames without a `delta` member
 * pass through (with packed arrays unpacked), so it is safe on any stream.
 */
export class FrameRebuilder {
  #views = new Map();
  #lastSequence = null;

  /** Forgets every rebuilt payload: after a gap, a reload or a new subscription. */
  reset() {
    this.#views.clear();
    this.#lastSequence = null;
  }

  /** The complete payload of a data frame, or null while waiting for a keyframe of its type. */
  receive(type, payload) {
    const sequence = payload.sequence;
    if (this.#lastSequence !== null && sequence !== this.#lastSequence + 1) this.#views.clear();
    if (Number.isSafeInteger(sequence)) this.#lastSequence = sequence;
    if (!("delta" in payload)) {
      this.#views.delete(type);
      return unpackAll(payload);
    }
    const { delta: marker, ...members } = payload;
    if (marker?.keyframe === true) {
      this.#views.set(type, deepCopy(members));
    } else if (this.#views.has(type)) {
      const view = this.#views.get(type);
      for (const path of Array.isArray(marker?.removed) ? marker.removed : []) {
        if (!Array.isArray(path) || path.length === 0) continue;
        let parent = view;
        for (const key of path.slice(0, -1)) parent = isPlainObject(parent) ? parent[key] : undefined;
        if (isPlainObject(parent)) delete parent[path[path.length - 1]];
      }
      merge(view, deepCopy(members));
    } else {
      return null;
    }
    return unpackAll(this.#views.get(type));
  }
}

// ---------------------------------------------------------------------------
// The client.

/** A refusal from the host: `code` is its error_code (AUTH_FAILED, SUBSCRIBE_ERROR, ...). */
export class HyphaeError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "HyphaeError";
    this.code = code;
  }
}

const DEFAULTS = {
  apiKey: null,
  clientInfo: CLIENT_INFO,
  reconnect: true,
  initialDelayMs: 250,
  maxDelayMs: 5000,
  replyTimeoutMs: 10000,
  // Events a subscription holds for a reader that falls behind; the oldest go first.
  maxBufferedEvents: 1000,
  WebSocket: globalThis.WebSocket,
};

/**
 * A connection to a host endpoint (usually `ws://HOST:PORT/ws`), or to the first of
 * several that answers, that reconnects with exponential backoff and subscribes again,
 * with `since` (the resume API), after each reconnection. It is an EventTarget: `state`
 * events carry `detail.state`, one of "connecting", "open", "reconnecting", "closed";
 * `error` events carry `detail.error`.
 *
 * With several URLs: a failed attempt moves on to the next URL at once, and the client
 * waits (backoff) only after every URL failed in a row. A lost connection is tried again
 * on the same URL first (its host holds the history to resume from), unless its host
 * said it was going away (close code 1001, after `stream_end` `server_shutdown`).
 */
export class HyphaeClient extends EventTarget {
  #urls;
  #urlIndex = 0;
  #options;
  #socket = null;
  #state = "idle";
  #attempt = 0;
  #waiters = new Set();
  #subscriptions = new Map();
  #nextStreamNumber = 1;
  #closedByUser = false;
  #reconnectTimer = null;
  #openPromise = null;

  /** `urls`: one WebSocket URL, or an array of them (hosts of the same pipelines), tried in turn. */
  constructor(urls, options = {}) {
    super();
    this.#urls = (Array.isArray(urls) ? urls : [urls]).map(String);
    if (this.#urls.length === 0) throw new TypeError("give at least one WebSocket URL");
    this.#options = { ...DEFAULTS, ...options };
    if (typeof this.#options.WebSocket !== "function") throw new Error("no WebSocket implementation: pass options.WebSocket");
    /** The `init` reply's payload of the current connection (auth_required, heartbeat_interval_ms, ...). */
    this.serverInfo = null;
    /** How many times the connection was made again after it was lost. */
    this.reconnects = 0;
  }

  get state() { return this.#state; }
  /** The URL of the current connection (or of the next attempt). */
  get url() { return this.#urls[this.#urlIndex]; }
  get urls() { return [...this.#urls]; }
  get apiKey() { return this.#options.apiKey; }
  set apiKey(value) { this.#options.apiKey = value || null; }

  /** Connects, sends init and, where a key is set, auth. Resolves with the init payload. */
  connect() {
    this.#closedByUser = false;
    if (this.#openPromise === null) {
      this.#openPromise = this.#open().finally(() => { this.#openPromise = null; });
    }
    return this.#openPromise;
  }

  /**
   * Subscribes to a pipeline by name. Resolves with a Subscription once the host
   * accepted; rejects with a HyphaeError (code SUBSCRIBE_ERROR, UNKNOWN_STREAM, ...).
   */
  async subscribe(pipeline, params = {}, { streamId } = {}) {
    if (this.#state !== "open") await this.connect();
    const id = streamId ?? `${pipeline}-${this.#nextStreamNumber++}`;
    const subscription = new Subscription(this, id, pipeline, params, this.#options.maxBufferedEvents);
    this.#subscriptions.set(id, subscription);
    try {
      const reply = await this.#sendSubscribe(subscription);
      subscription._accepted(reply.payload ?? {}, false, this.url);
      return subscription;
    } catch (error) {
      this.#subscriptions.delete(id);
      throw error;
    }
  }

  /** Closes the connection for good: subscriptions end, no reconnection. */
  close() {
    this.#closedByUser = true;
    clearTimeout(this.#reconnectTimer);
    for (const subscription of this.#subscriptions.values()) subscription._end({ kind: "notice", type: "closed", payload: {} });
    this.#subscriptions.clear();
    if (this.#socket) {
      try { this.#send({ type: "close" }); } catch { /* already closing */ }
      this.#socket.close(1000);
    }
    this.#setState("closed");
  }

  // Internal: used by Subscription.
  get _reconnects() { return this.#options.reconnect && !this.#closedByUser; }

  _unsubscribe(subscription) {
    if (this.#subscriptions.get(subscription.streamId) !== subscription) return;
    this.#subscriptions.delete(subscription.streamId);
    if (this.#state === "open") this.#send({ type: "unsubscribe", payload: { stream_id: subscription.streamId } });
  }

  #setState(state) {
    if (this.#state === state) return;
    this.#state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
  }

  #send(message) {
    this.#socket.send(JSON.stringify(message));
  }

  #moveToNextUrl() {
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
  }

  async #open() {
    // The other URLs to try at once before waiting: every host gets a turn per round.
    let untried = this.#urls.length - 1;
    for (;;) {
      this.#setState(this.reconnects > 0 || this.#attempt > 0 ? "reconnecting" : "connecting");
      try {
        const info = await this.#openOnce();
        this.#attempt = 0;
        return info;
      } catch (error) {
        // Forgotten before it closes, so that its close is not taken for a lost connection.
        const failed = this.#socket;
        this.#socket = null;
        failed?.close();
        if (this.#closedByUser) throw error;
        const fatal = error instanceof HyphaeError && (error.code === "AUTH_FAILED" || error.code === "AUTH_ERROR" || error.code === "AUTH_REQUIRED");
        this.#moveToNextUrl();
        if (fatal || (!this.#options.reconnect && untried === 0)) {
          this.#setState("closed");
          this.dispatchEvent(new CustomEvent("error", { detail: { error } }));
          throw error;
        }
        if (untried > 0) {
          untried -= 1;
          continue;
        }
        untried = this.#urls.length - 1;
        await this.#backoff();
      }
    }
  }

  #backoff() {
    const ceiling = Math.min(this.#options.maxDelayMs, this.#options.initialDelayMs * 2 ** Math.min(this.#attempt, 16));
    this.#attempt += 1;
    // Half fixed, half random: clients that lost one host do not all come back at once.
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    return new Promise((resolve) => { this.#reconnectTimer = setTimeout(resolve, delay); });
  }

  async #openOnce() {
    const url = this.url;
    const socket = new this.#options.WebSocket(url);
    this.#socket = socket;
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
      socket.onclose = () => reject(new Error(`cannot connect to ${url}`));
    });
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onerror = () => {};
    socket.onclose = (event) => this.#lost(socket, event.code);
    this.#send({ type: "init", payload: { protocol_version: PROTOCOL_VERSION, client_info: this.#options.clientInfo } });
    const init = await this.#reply((message) => message.type === "init" || (message.type === "error" && message.payload?.error_code === "INIT_FAILED"));
    if (init.type === "error") throw new HyphaeError("INIT_FAILED", init.payload?.message ?? "init failed");
    this.serverInfo = init.payload ?? {};
    if (this.#options.apiKey) {
      this.#send({ type: "auth", payload: await authPayload(this.#options.apiKey) });
      const reply = await this.#reply((message) => message.type === "auth_success" || message.type === "auth_failed");
      if (reply.type === "auth_failed") throw new HyphaeError(reply.payload?.error_code ?? "AUTH_FAILED", reply.payload?.message ?? "authentication failed");
    } else if (this.serverInfo.auth_required) {
      throw new HyphaeError("AUTH_REQUIRED", "this host requires an API key");
    }
    this.#setState("open");
    if (this.#subscriptions.size > 0) await this.#resubscribeAll();
    return this.serverInfo;
  }

  // Every subscription that was live when the connection was lost, subscribed again
  // with `since` (its epoch and last sequence), so a host that keeps history resumes it.
  async #resubscribeAll() {
    for (const subscription of [...this.#subscriptions.values()]) {
      try {
        const reply = await this.#sendSubscribe(subscription);
        subscription._accepted(reply.payload ?? {}, true, this.url);
      } catch (error) {
        if (!(error instanceof HyphaeError)) throw error;
        this.#subscriptions.delete(subscription.streamId);
        subscription._end({ kind: "notice", type: "subscribe_failed", payload: { error_code: error.code, message: error.message } });
      }
    }
  }

  async #sendSubscribe(subscription) {
    const payload = { stream_type: subscription.pipeline, stream_id: subscription.streamId, params: subscription.params };
    const since = subscription.position;
    if (since) payload.since = since;
    this.#send({ type: "subscribe", payload });
    const reply = await this.#reply((message) =>
      (message.type === "subscribe_success" || message.type === "subscribe_failed") && message.stream_id === subscription.streamId);
    if (reply.type === "subscribe_failed") {
      throw new HyphaeError(reply.payload?.error_code ?? "SUBSCRIBE_ERROR", reply.payload?.message ?? "the subscription was refused");
    }
    return reply;
  }

  #reply(matches) {
    return new Promise((resolve, reject) => {
      const waiter = {
        matches, resolve, reject,
        timer: setTimeout(() => { this.#waiters.delete(waiter); reject(new Error("the host did not answer in time")); }, this.#options.replyTimeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  #lost(socket, closeCode) {
    if (socket !== this.#socket) return;
    this.#socket = null;
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error("the connection was lost"));
    }
    this.#waiters.clear();
    if (this.#closedByUser || this.#state === "closed") return;
    if (!this.#options.reconnect) {
      for (const subscription of this.#subscriptions.values()) subscription._end({ kind: "notice", type: "disconnected", payload: {} });
      this.#subscriptions.clear();
      this.#setState("closed");
      return;
    }
    this.reconnects += 1;
    // 1001: the host is going away; its history goes with it, so the next host is as good.
    if (closeCode === 1001) this.#moveToNextUrl();
    this.#setState("reconnecting");
    for (const subscription of this.#subscriptions.values()) subscription._push({ kind: "notice", type: "reconnecting", payload: {} });
    this.#backoff().then(() => {
      if (!this.#closedByUser) this.connect().catch(() => {});
    });
  }

  #receive(text) {
    const receivedAt = Date.now();
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!isPlainObject(message) || typeof message.type !== "string") return;
    if (message.type === "heartbeat") {
      this.#send({ type: "pong" });
      return;
    }
    for (const waiter of this.#waiters) {
      if (waiter.matches(message)) {
        this.#waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(message);
        return;
      }
    }
    const streamId = message.stream_id ?? message.payload?.stream_id;
    const subscription = typeof streamId === "string" ? this.#subscriptions.get(streamId) : undefined;
    if (subscription) {
      subscription._message(message, receivedAt);
    } else if (message.type === "error") {
      this.dispatchEvent(new CustomEvent("error", { detail: { error: new HyphaeError(message.payload?.error_code ?? "ERROR", message.payload?.message ?? "error") } }));
    }
  }
}

const NOTICES = new Set(["stream_reloaded", "stream_end", "error", "unsubscribe"]);

/**
 * One subscription: an async iterable of events, each `{kind: "frame", type, payload,
 * sequence, timestamp, receivedAt, gap}` (payload rebuilt and unpacked; gap: frames lost
 * just before this one) or `{kind: "notice", type, payload}` (stream_reloaded,
 * stream_end, error, reconnecting, resubscribed). Iteration ends after stream_end, except
 * a `server_shutdown` one (`willResume: true`) while the client reconnects.
 *
 * `resubscribed` also carries how the resume went: `recovered` (true: every missed frame
 * follows, in order, before live ones), `missed` (frames the host could not replay, when
 * it knows; null otherwise), `epochChanged` (another run of the pipeline: another host
 * without a shared relay, or a restarted one; its sequences are not comparable) and `url`.
 */
export class Subscription {
  #client;
  #events = [];
  #wakeUp = null;
  #ended = false;
  #rebuilder = new FrameRebuilder();
  #maxBuffered;

  constructor(client, streamId, pipeline, params, maxBuffered) {
    this.#client = client;
    this.streamId = streamId;
    this.pipeline = pipeline;
    this.params = { ...params };
    this.#maxBuffered = maxBuffered;
    /** The run that produces the frames (subscribe_success's `epoch`), when the host names it. */
    this.epoch = null;
    /** The last sequence received, or the stream's sequence when subscribed. */
    this.lastSequence = null;
    /** Frames lost: sequence gaps, plus events this object dropped for a reader that fell behind. */
    this.lostFrames = 0;
    this.droppedEvents = 0;
    /** The subscribe_success payload: resolved params, pipeline_version, epoch, ... */
    this.info = null;
    /** The URL of the host that accepted the subscription last. */
    this.url = null;
  }

  /** Where a resumed subscription starts: `{epoch, sequence}`, or null when unknown. */
  get position() {
    return this.epoch !== null && this.lastSequence !== null ? { epoch: this.epoch, sequence: this.lastSequence } : null;
  }

  get ended() { return this.#ended; }

  /** Stops the subscription (sends unsubscribe) and ends the iteration. */
  close() {
    this.#client._unsubscribe(this);
    this._end(null);
  }

  [Symbol.asyncIterator]() {
    return {
      next: () => this.#next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  async #next() {
    for (;;) {
      if (this.#events.length > 0) return { value: this.#events.shift(), done: false };
      if (this.#ended) return { value: undefined, done: true };
      await new Promise((resolve) => { this.#wakeUp = resolve; });
    }
  }

  _accepted(payload, again, url) {
    this.info = payload;
    this.url = url;
    const previousEpoch = this.epoch;
    const missed = Number.isSafeInteger(payload.missed) && payload.missed >= 0 ? payload.missed : null;
    if (typeof payload.epoch === "string") {
      const sameRun = payload.epoch === this.epoch;
      this.epoch = payload.epoch;
      if (!(again && sameRun && payload.recovered === true)) {
        // The next frame follows the stream's sequence; nothing before it is rebuilt.
        this.#rebuilder.reset();
        if (missed !== null) this.lostFrames += missed;
        if (Number.isSafeInteger(payload.sequence)) this.lastSequence = payload.sequence;
        else if (!sameRun) this.lastSequence = null;
      }
    } else {
      this.#rebuilder.reset();
      this.lastSequence = null;
    }
    if (again) {
      this._push({
        kind: "notice", type: "resubscribed", payload, url,
        recovered: payload.recovered === true, missed,
        epochChanged: previousEpoch !== null && typeof payload.epoch === "string" && payload.epoch !== previousEpoch,
      });
    }
  }

  _message(message, receivedAt) {
    const payload = isPlainObject(message.payload) ? message.payload : {};
    if (NOTICES.has(message.type)) {
      if (message.type === "stream_reloaded") this.#rebuilder.reset();
      const event = { kind: "notice", type: message.type, payload, receivedAt };
      // A host that is shutting down ends every stream; with reconnection on, the
      // subscription lives on and is made again on the next host that answers.
      if (message.type === "stream_end" && payload.reason === "server_shutdown" && this.#client._reconnects) {
        event.willResume = true;
        this._push(event);
      } else if (message.type === "stream_end") {
        this.#client._unsubscribe(this);
        this._end(event);
      } else {
        this._push(event);
      }
      return;
    }
    const sequence = payload.sequence;
    let gap = 0;
    if (Number.isSafeInteger(sequence)) {
      if (this.lastSequence !== null && sequence > this.lastSequence + 1) gap = sequence - this.lastSequence - 1;
      this.lastSequence = sequence;
    }
    this.lostFrames += gap;
    const rebuilt = this.#rebuilder.receive(message.type, payload);
    const timestamp = typeof payload.timestamp === "number" ? payload.timestamp : message.timestamp;
    this._push({ kind: "frame", type: message.type, payload: rebuilt, waitingForKeyframe: rebuilt === null, sequence, timestamp, receivedAt, gap });
  }

  _push(event) {
    if (this.#ended) return;
    if (this.#events.length >= this.#maxBuffered) {
      this.#events.shift();
      this.droppedEvents += 1;
    }
    this.#events.push(event);
    this.#wake();
  }

  _end(event) {
    if (this.#ended) return;
    if (event) this.#events.push(event);
    this.#ended = true;
    this.#wake();
  }

  #wake() {
    const wakeUp = this.#wakeUp;
    this.#wakeUp = null;
    wakeUp?.();
  }
}
