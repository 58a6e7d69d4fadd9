// Steps of the episode as the server replays them, fetched in windows (one
// replay pass each) and kept in a bounded cache around the current step.
// Item i is the state before step i and the step itself; item ``total`` is
// the final state.
const CACHE_MAX = 600;

export class StepFrames {
  constructor(url, total, window) {
    this.url = url;
    this.total = total;
    this.window = window;
    this.cache = new Map();
    this.inflight = new Map();
  }

  has(index) {
    return this.cache.has(index);
  }

  peek(index) {
    return this.cache.get(index);
  }

  async get(index, around = index) {
    if (!this.cache.has(index)) {
      await this.fetchWindow(this.windowStart(index));
      // A window may stop early (the server caps its size): fetch from the index itself.
      if (!this.cache.has(index)) await this.fetchWindow(Math.min(index, Math.max(0, this.total - 1)));
    }
    this.trim(around);
    return this.cache.get(index);
  }

  prefetch(index) {
    if (index < 0 || index > this.total || this.cache.has(index)) return;
    this.fetchWindow(this.windowStart(index)).catch(() => {});
  }

  windowStart(index) {
    return Math.max(0, Math.min(index, this.total - 1) - (Math.min(index, this.total - 1) % this.window));
  }

  fetchWindow(start) {
    if (this.inflight.has(start)) return this.inflight.get(start);
    const request = fetch(`${this.url}?start=${start}&count=${this.window}`, { credentials: "same-origin" })
      .then(async (response) => {
        const data = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(data.error || `the server answered ${response.status}`);
        for (const item of data.steps) this.cache.set(item.index, item);
        if (data.final) this.cache.set(data.total, { ...data.final, final: true });
      })
      .finally(() => this.inflight.delete(start));
    this.inflight.set(start, request);
    return request;
  }

  trim(around) {
    if (this.cache.size <= CACHE_MAX) return;
    const far = [...this.cache.keys()].sort((a, b) => Math.abs(b - around) - Math.abs(a - around));
    for (const index of far.slice(0, this.cache.size - CACHE_MAX)) this.cache.delete(index);
  }
}
