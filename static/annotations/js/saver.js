// Autosave with no lost work.
//
// Every change is an entry (a path into the save payload and its value). An
// entry stays pending until the server has acknowledged exactly that value:
// it is written to localStorage at once, sent after a short pause, and
// re-sent after a failure or on the next load of the page (pending entries
// are newer than what the server sent with the page, so they win).
const DEBOUNCE_MS = 500;
const RETRY_MS = [1000, 2000, 5000, 10000, 30000];

export class Saver {
  constructor({ url, csrf, storageKey, onStatus, readOnly = false }) {
    this.url = url;
    this.csrf = csrf;
    this.storageKey = storageKey;
    this.onStatus = onStatus;
    this.readOnly = readOnly;
    this.entries = new Map(); // path key -> {path, value, rev}
    this.rev = 0;
    this.timer = null;
    this.inflight = null;
    this.failures = 0;
    this.fatal = "";
  }

  /** Pending entries left by an earlier visit (a reload, a crash, a lost network). */
  restore() {
    if (this.readOnly) return this.forget();
    let saved;
    try {
      saved = JSON.parse(localStorage.getItem(this.storageKey) || "[]");
    } catch {
      saved = [];
    }
    for (const { path, value } of Array.isArray(saved) ? saved : []) this.entries.set(key(path), { path, value, rev: ++this.rev });
    if (this.entries.size) this.schedule(0);
    return saved;
  }

  set(path, value) {
    if (this.readOnly) return;
    this.entries.set(key(path), { path, value, rev: ++this.rev });
    this.persist();
    this.status("pending", "Unsaved changes…");
    this.schedule(DEBOUNCE_MS);
  }

  get pending() {
    return this.entries.size > 0;
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush().catch(() => {}), delay);
  }

  /** Send every pending entry; resolves once the server has them (or rejects). */
  async flush({ keepalive = false } = {}) {
    clearTimeout(this.timer);
    if (this.inflight) await this.inflight.catch(() => {});
    if (!this.entries.size) return;
    const sent = [...this.entries.values()];
    this.status("saving", "Saving…");
    this.inflight = this.send(sent, keepalive);
    try {
      await this.inflight;
    } finally {
      this.inflight = null;
    }
    for (const entry of sent) {
      const current = this.entries.get(key(entry.path));
      if (current && current.rev === entry.rev) this.entries.delete(key(entry.path));
    }
    this.persist();
    if (this.entries.size) this.schedule(DEBOUNCE_MS);
    else this.status("saved", "All changes saved");
  }

  async send(entries, keepalive) {
    let response;
    try {
      response = await fetch(this.url, {
        method: "POST",
        credentials: "same-origin",
        keepalive,
        headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf },
        body: JSON.stringify(payload(entries)),
      });
    } catch (error) {
      this.retryLater("Offline: your changes are kept in this browser and will be sent");
      throw error;
    }
    if (response.ok) {
      this.failures = 0;
      return;
    }
    const body = await response.json().catch(() => ({}));
    const message = body.error || `the server answered ${response.status}`;
    if (response.status >= 500 || response.status === 429) {
      this.retryLater(`Not saved yet (${message}): kept in this browser, retrying`);
    } else {
      // A refusal (bad value, submitted, logged out): retrying cannot help; keep the work locally.
      this.fatal = message;
      this.status("error", `Not saved: ${message}. Your changes are kept in this browser.`);
    }
    throw new Error(message);
  }

  retryLater(message) {
    this.status("offline", message);
    const delay = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)];
    this.failures += 1;
    this.schedule(delay);
  }

  persist() {
    try {
      if (this.entries.size) {
        const list = [...this.entries.values()].map(({ path, value }) => ({ path, value }));
        localStorage.setItem(this.storageKey, JSON.stringify(list));
      } else {
        localStorage.removeItem(this.storageKey);
      }
    } catch {
      // Storage full or disabled: the server copy is all there is; keep saving.
    }
  }

  forget() {
    this.entries.clear();
    try {
      localStorage.removeItem(this.storageKey);
    } catch {
      // nothing stored
    }
    return [];
  }

  status(kind, text) {
    if (this.onStatus) this.onStatus(kind, text);
  }
}

function key(path) {
  return JSON.stringify(path);
}

/** Nest the entries' paths into one object: [["steps", 3], {...}] -> {steps: {3: {...}}}. */
export function payload(entries) {
  const body = {};
  for (const { path, value } of entries) {
    let node = body;
    for (const part of path.slice(0, -1)) node = node[part] ??= {};
    node[path[path.length - 1]] = value;
  }
  return body;
}
