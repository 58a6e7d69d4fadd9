// A bounded cache of one episode's replay frames. The server's frames.json
// computes a whole window of frames in one replay pass, so frames are asked
// for a window at a time; the cache keeps those nearest the position shown.
// Used by the replay page and, once per side, by the leaderboard's compare page.

export const WINDOW = 100;
const HISTORY = 40; // previous frames handed to renderers that draw a history

export class FrameWindows {
  /**
   * @param {string} url the episode's frames.json endpoint
   * @param {object} options
   * @param {number} options.cacheMax frames kept; the farthest from position() go first
   * @param {() => number} options.position the version shown now
   * @param {boolean} [options.aligned] start windows at multiples of WINDOW
   * @param {() => string} [options.query] extra query string, e.g. "&observation=1"
   */
  constructor(url, { cacheMax, position, aligned = false, query = () => "" }) {
    this.url = url;
    this.cacheMax = cacheMax;
    this.position = position;
    this.aligned = aligned;
    this.query = query;
    this.cache = new Map(); // version -> {frame, hud, ...}
    this.inflight = new Map(); // window start -> Promise
    this.generation = 0;
  }

  // Aligned windows let stepping in both directions reuse them; unaligned ones
  // start at the version asked for, which is what playing forward wants.
  fetchWindow(version) {
    const start = this.aligned ? Math.floor(version / WINDOW) * WINDOW : version;
    if (this.inflight.has(start)) return this.inflight.get(start);
    const generation = this.generation;
    const request = fetch(`${this.url}?start=${start}&count=${WINDOW}${this.query()}`)
      .then((response) => {
        if (!response.ok) throw new Error(`the server answered ${response.status}`);
        return response.json();
      })
      .then((data) => {
        if (generation !== this.generation) return;
        data.frames.forEach((frame, i) => this.cache.set(data.start + i, frame));
        this.trim();
      })
      .finally(() => {
        if (this.inflight.get(start) === request) this.inflight.delete(start);
      });
    this.inflight.set(start, request);
    return request;
  }

  /** Drop every frame, and the windows still in flight, e.g. once query() changes. */
  reset() {
    this.generation += 1;
    this.inflight.clear();
    this.cache.clear();
  }

  trim() {
    if (this.cache.size <= this.cacheMax) return;
    const position = this.position();
    const far = [...this.cache.keys()].sort((a, b) => Math.abs(b - position) - Math.abs(a - position));
    for (const version of far.slice(0, this.cache.size - this.cacheMax)) this.cache.delete(version);
  }

  async frameAt(version) {
    if (!this.cache.has(version)) await this.fetchWindow(version);
    return this.cache.get(version);
  }

  /** Fetch the window from ``version`` in the background unless it is cached. */
  prefetch(version) {
    if (!this.cache.has(version)) this.fetchWindow(version).catch(() => {});
  }

  earlierFrames(version) {
    const frames = [];
    for (let v = Math.max(0, version - HISTORY); v < version; v++) {
      if (this.cache.has(v)) frames.push(this.cache.get(v).frame);
    }
    return frames;
  }
}
