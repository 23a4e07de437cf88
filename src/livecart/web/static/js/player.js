// The show's video: hls.js (bundled, see static/vendor) tuned for a low delay behind live, and
// the clock of the picture: `playingDate()` is the server time of the frame on screen (from the
// segments' EXT-X-PROGRAM-DATE-TIME), which is what room events are synchronised to.
import Hls from "../vendor/hls.light.min.mjs";

// The production settings; the glass-to-glass benchmark plays with exactly these.
// 1-second segments: start 1.5 s behind the live edge, catch up (up to 1.25×) when 3 s behind.
export const LIVE_CONFIG = Object.freeze({
  lowLatencyMode: true,
  liveSyncDuration: 1.5,
  liveMaxLatencyDuration: 3,
  maxLiveSyncPlaybackRate: 1.25,
  liveDurationInfinity: true,
  maxBufferLength: 6,
  backBufferLength: 30,
  enableWorker: false, // the ES-module build has no inline worker; the work is small at 1 s
  manifestLoadingMaxRetry: 2,
  levelLoadingMaxRetry: 6,
  fragLoadingMaxRetry: 6,
});

export const REPLAY_CONFIG = Object.freeze({
  enableWorker: false,
  maxBufferLength: 30,
  backBufferLength: 60,
});

const RETRY_MS = 3000;

/**
 * Play `url` in `video`. Keeps trying while the playlist is not there yet (the show is live but
 * no stream has arrived). Returns a handle: playingDate() (ms, or null), destroy().
 */
export function attachPlayer(video, url, { live = true, onStatus = () => {} } = {}) {
  let hls = null;
  let retryTimer = null;
  let stopped = false;
  const native = !Hls.isSupported() && video.canPlayType("application/vnd.apple.mpegurl");

  const start = () => {
    if (stopped) return;
    if (native) {
      video.src = url;
      onStatus("loading");
      return;
    }
    hls = new Hls({ ...(live ? LIVE_CONFIG : REPLAY_CONFIG) }); // hls.js writes into its config
    let parsed = false;
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      parsed = true;
      onStatus("ready");
      video.play().catch(() => onStatus("blocked"));
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      console.warn(`video: ${data.type} ${data.details} ${data.error?.message || data.reason || ""}`);
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
        return;
      }
      onStatus("waiting");
      if (parsed) {
        // The playlist was there: the network or the server hiccuped. Load again from where
        // hls.js is (it jumps to the live edge if that is far behind).
        retryTimer = setTimeout(() => hls?.startLoad(), RETRY_MS / 3);
        return;
      }
      // No playlist yet (the show is live but no stream has arrived): start again in a moment.
      hls.destroy();
      hls = null;
      retryTimer = setTimeout(start, RETRY_MS);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  };
  start();

  return {
    get hls() {
      return hls;
    },
    /** The server time (ms) of the frame on screen, or null when no video is playing. */
    playingDate() {
      if (video.paused || video.readyState < 2) return null;
      if (hls) return hls.playingDate ? hls.playingDate.getTime() : null;
      const start = video.getStartDate?.();
      return start && !Number.isNaN(start.getTime()) ? start.getTime() + video.currentTime * 1000 : null;
    },
    destroy() {
      stopped = true;
      clearTimeout(retryTimer);
      hls?.destroy();
    },
  };
}

/**
 * Runs callbacks when the viewer's own picture reaches a server time: a room event stamped
 * `t_event` is shown with the video that was live at that instant, not when its message arrives.
 * Without a playing video (none yet, paused, blocked) a callback runs at once, as before video.
 * A callback never waits more than `maxWaitMs`: a stalled picture does not hold the room back.
 */
export class VideoClock {
  constructor(player, { maxWaitMs = 10000, now = () => performance.now() } = {}) {
    this.player = player;
    this.maxWaitMs = maxWaitMs;
    this.now = now;
    this.queue = [];
    this.timer = null;
  }

  at(tEvent, fn) {
    const date = this.player?.playingDate();
    if (date === null || date === undefined || (date >= tEvent && this.queue.length === 0)) {
      this.flush();
      fn();
      return;
    }
    this.queue.push({ tEvent, fn, queuedAt: this.now() });
    this._arm();
  }

  /** Run everything waiting, in order (a snapshot replaced the room's state). */
  flush() {
    const queued = this.queue;
    this.queue = [];
    for (const item of queued) item.fn();
  }

  _arm() {
    if (this.timer !== null) return;
    const tick = () => {
      this.timer = null;
      const date = this.player?.playingDate();
      while (this.queue.length) {
        const head = this.queue[0];
        const due =
          date === null || date === undefined || date >= head.tEvent || this.now() - head.queuedAt > this.maxWaitMs;
        if (!due) break;
        this.queue.shift();
        head.fn();
      }
      if (this.queue.length) this.timer = setTimeout(tick, 40);
    };
    this.timer = setTimeout(tick, 40);
  }
}
