// The live room's connection: hello, snapshot, sequenced events, resume, clock sync.
// Used by the viewer's room (live.js) and the host console (console.js). The small pure functions
// are exported so that their rules can be read (and tested) on their own.
import { errorText, t } from "./core.js";

export const PING_FAST_MS = 2000; // clock sync: a ping every 2 s for the first 10 s…
export const PING_SLOW_MS = 15000; // …then every 15 s
export const FAST_PHASE_MS = 10000;
export const MAX_SAMPLES = 8;
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 30000;
export const LIKE_FLUSH_MS = 400;
export const MAX_LIKES_PER_MESSAGE = 50;
const CLOSE_NOT_FOUND = 4004;

/** One clock sample from a ping sent at local t0, answered with serverTime, received at t1. */
export function clockSample(t0, serverTime, t1) {
  const rtt = Math.max(0, t1 - t0);
  return { rtt, offset: serverTime + rtt / 2 - t1 };
}

/** The offset (server − local, ms) of the lowest-round-trip sample, or null without samples. */
export function bestOffset(samples) {
  let best = null;
  for (const s of samples) if (best === null || s.rtt < best.rtt) best = s;
  return best === null ? null : best.offset;
}

/** Keep the last `max` samples, oldest first. */
export function addSample(samples, sample, max = MAX_SAMPLES) {
  const out = [...samples, sample];
  return out.length > max ? out.slice(out.length - max) : out;
}

/** How long to wait before the next ping, `sinceConnect` ms after the connection opened. */
export function pingDelay(sinceConnect) {
  return sinceConnect < FAST_PHASE_MS ? PING_FAST_MS : PING_SLOW_MS;
}

/** Exponential backoff with jitter: attempt 0 waits 250–500 ms, then doubles up to 30 s. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** What to do with an event numbered `seq` when the last one applied was `lastSeq`. */
export function sequenceAction(lastSeq, seq) {
  if (seq <= lastSeq) return "duplicate";
  return seq === lastSeq + 1 ? "apply" : "gap";
}

/** A link drop at server time `now`: still counting down (whole seconds shown) or open. */
export function dropState(drop, now) {
  const left = drop.opens_at - now;
  if (left <= 0) return { open: true, msLeft: 0, seconds: 0 };
  return { open: false, msLeft: left, seconds: Math.ceil(left / 1000) };
}

/** A wait in ms as whole minutes and seconds, rounded up. */
export function splitDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return { m: Math.floor(total / 60), s: total % 60 };
}

/** Split a number of likes into messages of at most 50. */
export function likeBatches(count, max = MAX_LIKES_PER_MESSAGE) {
  const out = [];
  for (let left = count; left > 0; left -= max) out.push(Math.min(max, left));
  return out;
}

/** A wait in words, e.g. 9 min 12 s. */
export function durationText(ms) {
  const { m, s } = splitDuration(ms);
  return m > 0 ? t("time.min_sec", { m, s }) : t("time.sec", { s });
}

/** The text for a refused room message. */
export function roomErrorText(err) {
  const wait = err.data?.retry_after_ms;
  if (err.code === "muted") {
    return typeof wait === "number" ? t("err.muted", { time: durationText(wait) }) : t("err.muted_plain");
  }
  if (err.code === "slow_mode" && typeof wait === "number") {
    return t("err.slow_mode", { time: durationText(wait) });
  }
  return errorText(err);
}

const localNow = () => performance.timeOrigin + performance.now();

export class RoomClient {
  /**
   * @param {string} url  ws(s)://…/rooms/{id}
   * @param {object} opts token, onSnapshot(snap), onEvent(event), onMessage(direct), onStatus(state)
   */
  constructor(url, opts = {}) {
    this.url = url;
    this.token = opts.token || null;
    this.handlers = opts;
    this.ws = null;
    this.epoch = null;
    this.seq = null; // last applied seq
    this.synced = false; // a snapshot (or a resume) is in place: events may be applied
    this.samples = [];
    this.fallbackOffset = null;
    this.attempt = 0;
    this.stopped = false;
    this.pingTimer = null;
    this.retryTimer = null;
    this.likes = 0;
    this.likeTimer = null;
  }

  start() {
    this.stopped = false;
    this._connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pingTimer);
    this.ws?.close(1000, "bye");
  }

  /** The server's clock now, in ms since the Unix epoch. */
  serverNow() {
    return localNow() + this.offset();
  }

  offset() {
    return bestOffset(this.samples) ?? this.fallbackOffset ?? 0;
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.synced;
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Count likes now; they go out in one message every LIKE_FLUSH_MS. */
  like(count = 1) {
    this.likes += count;
    if (this.likeTimer === null) this.likeTimer = setTimeout(() => this._flushLikes(), LIKE_FLUSH_MS);
  }

  get pendingLikes() {
    return this.likes;
  }

  _flushLikes() {
    this.likeTimer = null;
    if (!this.likes) return;
    if (!this.open) {
      this.likeTimer = setTimeout(() => this._flushLikes(), LIKE_FLUSH_MS * 4);
      return;
    }
    for (const count of likeBatches(this.likes)) this.send({ type: "like", count });
    this.likes = 0;
  }

  _status(state, detail) {
    this.handlers.onStatus?.(state, detail);
  }

  _connect() {
    this._status(this.attempt ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this._retry();
      return;
    }
    this.ws = ws;
    this.synced = false;
    ws.addEventListener("open", () => {
      const hello = { type: "hello" };
      if (this.token) hello.token = this.token;
      if (this.epoch !== null && this.seq !== null) {
        hello.last_seq = this.seq;
        hello.epoch = this.epoch;
      }
      ws.send(JSON.stringify(hello));
      this._startPings();
    });
    ws.addEventListener("message", (e) => {
      let message;
      try {
        message = JSON.parse(e.data);
      } catch {
        return;
      }
      this._receive(message);
    });
    ws.addEventListener("close", (e) => {
      if (this.ws !== ws) return;
      clearTimeout(this.pingTimer);
      this.synced = false;
      if (this.stopped) return;
      if (e.code === CLOSE_NOT_FOUND) {
        this._status("gone");
        return;
      }
      this._retry();
    });
  }

  _retry() {
    if (this.stopped) return;
    const wait = backoffDelay(this.attempt);
    this.attempt += 1;
    this._status("reconnecting", { wait });
    this.retryTimer = setTimeout(() => this._connect(), wait);
  }

  _startPings() {
    const opened = localNow();
    const ping = () => {
      if (!this.send({ type: "ping", t0: localNow() })) return;
      this.pingTimer = setTimeout(ping, pingDelay(localNow() - opened));
    };
    ping();
  }

  _receive(m) {
    switch (m.type) {
      case "pong":
        this.samples = addSample(this.samples, clockSample(m.t0, m.server_time, localNow()));
        return;
      case "snapshot":
        this.epoch = m.epoch;
        this.seq = m.seq;
        this.synced = true;
        this.attempt = 0;
        if (typeof m.server_time === "number") this.fallbackOffset = m.server_time - localNow();
        this._status("open");
        this.handlers.onSnapshot?.(m);
        return;
      case "welcome":
        // Resumed where we left off; the missed events follow with seq + 1 onwards.
        this.epoch = m.epoch;
        this.seq = m.seq;
        this.synced = true;
        this.attempt = 0;
        this._status("open", { resumed: true, missed: m.missed });
        return;
      case "resync":
        this._resync();
        return;
      case "error":
        if (m.ref === "hello" && m.code === "invalid_token") {
          // An expired session: watch on as a guest.
          this.token = null;
          this.handlers.onMessage?.(m);
          this.ws?.close(4000, "retry as guest");
          return;
        }
        break;
      default:
        break;
    }
    if (typeof m.seq === "number") {
      if (!this.synced) return; // the coming snapshot already has it
      const action = sequenceAction(this.seq, m.seq);
      if (action === "duplicate") return;
      if (action === "gap") {
        this._resync();
        return;
      }
      this.seq = m.seq;
      this.handlers.onEvent?.(m);
      return;
    }
    this.handlers.onMessage?.(m);
  }

  _resync() {
    this.synced = false;
    this.send({ type: "resync" });
  }
}

/** A room client for the page's own room (page data: room_url, token). */
export function connectRoom(page, handlers) {
  return new RoomClient(page.room_url, { token: page.token, ...handlers }).start();
}
