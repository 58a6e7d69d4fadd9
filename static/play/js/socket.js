// The client side of the episode websocket (docs/websocket-protocol.md).
//
// Actions carry seq = the step index they are meant to be (the episode's
// version when they are sent). One action is in flight at a time; keys pressed
// meanwhile wait in a short queue (pressed while disconnected too). After a
// reconnect the client says hello with the last version it saw, gets the
// missed steps and the current state, and re-sends the action that was in
// flight with the same seq: the server applies each seq at most once, so
// nothing is lost and nothing is applied twice.
//
// Protocol 2: the server sends an action's new frame as soon as the game has
// stepped, then its ack once the step is committed. The frame is drawn at
// once; the action stays in flight (re-sent after a reconnect) until its ack.
//
// The error "unavailable" (the server cannot reach its database) loses
// nothing either: the action stays in flight, the queue stays, and the client
// reconnects after a growing delay, which re-sends it with the same seq.
//
// Versions tell a viewer what it missed: a step whose version skips ahead of
// the one drawn (a broadcast lost while the server's channel layer was down)
// is not drawn; the client asks for the steps between with a sync instead.

export const PROTOCOL = 2;
const MAX_QUEUE = 8;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;
const UNAVAILABLE_MIN_MS = 1000; // the server probes its database at most once a second
const VIEWER_LIMIT_RETRY_MS = 10000; // after close 4429: too many viewers from this address
const SYNC_RETRY_MS = 1000; // after a sync refused as rate_limited

export class EpisodeSocket {
  /**
   * @param {string} path  e.g. "/ws/episodes/12/"
   * @param {object} handlers  onState(message), onRole(role, welcome),
   *   onObservation(text), onError(message), onConnection(status), onEnd(end)
   */
  constructor(path, handlers) {
    this.url = new URL(path, window.location.href);
    this.url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
    this.handlers = handlers;
    this.version = null; // the last version drawn; null before the first snapshot
    this.role = "";
    this.pending = null; // the action in flight: {seq, action, input, source}
    this.queue = [];
    this.observation = false;
    this.ended = false;
    this.ws = null;
    this.ready = false;
    this.stopped = false;
    this.retryMs = RECONNECT_MIN_MS;
    this.opened = 0; // connections opened so far (1 + reconnects)
    this.unavailableMs = UNAVAILABLE_MIN_MS;
    this.unavailableTimer = null;
  }

  connect() {
    this.stopped = false;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.handlers.onConnection?.("connecting");
    ws.addEventListener("open", () => {
      this.opened += 1;
      this.retryMs = RECONNECT_MIN_MS;
      this.send({ type: "hello", protocol: PROTOCOL, version: this.version, observation: this.observation });
    });
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  /** Close for good (leaving the page). */
  stop() {
    this.stopped = true;
    this.ws?.close();
  }

  /** Drop the connection as a network failure would (it reconnects). */
  drop() {
    this.ws?.close();
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ready = false;
    if (this.stopped || event.code === 4404) {
      this.handlers.onConnection?.("closed");
      return;
    }
    this.handlers.onConnection?.("reconnecting");
    const delay = event.code === 4429 ? VIEWER_LIMIT_RETRY_MS : this.retryMs;
    this.retryMs = Math.min(RECONNECT_MAX_MS, this.retryMs * 2);
    setTimeout(() => this.connect(), delay);
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  /** Queue an action; false when the queue is full (the key is dropped). */
  act(action, input, source) {
    if (this.ended || (this.role && this.role !== "player")) return false;
    if (this.queue.length >= MAX_QUEUE) return false;
    this.queue.push({ action, input: input ?? action, source: source ?? "key" });
    this.pump();
    return true;
  }

  setObservation(on) {
    this.observation = on;
    this.send({ type: "options", observation: on });
  }

  abandon() {
    this.queue = [];
    this.send({ type: "abandon" });
  }

  pump() {
    if (!this.ready || this.pending || this.role !== "player" || this.version === null) return;
    const next = this.queue.shift();
    if (!next) return;
    this.pending = { ...next, seq: this.version };
    this.sendPending();
  }

  /** The steps after the version drawn, and the state now (a snapshot answers). */
  requestSync() {
    this.send({ type: "sync", version: this.version ?? 0 });
  }

  sendPending() {
    const p = this.pending;
    this.send({ type: "action", seq: p.seq, action: p.action, input: p.input, source: p.source });
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const handler = this["on_" + message.type];
    if (handler) handler.call(this, message);
  }

  on_welcome(message) {
    this.role = message.role;
    this.handlers.onRole?.(message.role, message);
  }

  on_snapshot(message) {
    this.version = message.version;
    this.ready = true;
    this.handlers.onConnection?.("online");
    this.handlers.onState?.(message);
    this.checkEnd(message);
    if (this.pending && this.role === "player") {
      // Its ack may have been lost with the old connection: same seq again.
      this.sendPending();
    } else {
      this.pending = null;
      this.pump();
    }
  }

  on_frame(message) {
    if (!this.pending || this.pending.seq !== message.seq) return; // a late frame of an older action
    this.pending.drawn = true;
    this.version = message.version;
    this.handlers.onState?.(message);
  }

  on_ack(message) {
    if (this.pending && this.pending.seq === message.seq) this.pending = null;
    this.unavailableMs = UNAVAILABLE_MIN_MS; // a step was written: the database is back
    this.version = message.version;
    // An ack with a frame is the state (a duplicate, or no early frame); one
    // without confirms the frame already drawn.
    if (message.frame !== undefined) this.handlers.onState?.(message);
    else this.handlers.onConfirm?.(message);
    this.checkEnd(message);
    this.pump();
  }

  on_step(message) {
    if (this.version !== null && message.version <= this.version) return; // drawn already
    if (this.version !== null && message.version > this.version + 1) {
      this.requestSync(); // steps in between never came: the snapshot brings them and this state
      return;
    }
    this.version = message.version;
    this.handlers.onState?.(message);
    this.checkEnd(message);
  }

  on_observation(message) {
    this.handlers.onObservation?.(message.observation, message.version);
  }

  on_ended(message) {
    if (this.version !== null && message.version > this.version) this.requestSync(); // the last steps first
    else this.version = message.version;
    this.finish(message.end);
  }

  on_error(message) {
    if (message.code === "unavailable") {
      this.retryWhenAvailable();
      const kept = "The server cannot reach its database: your move is kept and will be sent again.";
      this.handlers.onError?.({ ...message, message: kept });
      return;
    }
    if (message.seq !== undefined && this.pending && this.pending.seq === message.seq) {
      const drawn = this.pending.drawn;
      this.pending = null;
      // Redraw from the server: another tab or a lost message moved the
      // episode, or the frame drawn for this action was never committed.
      if (drawn) this.version = message.seq;
      if (drawn || message.code === "out_of_order" || message.code === "step_conflict") {
        this.queue = [];
        this.requestSync();
      }
    }
    if (message.code === "rate_limited" && message.seq === undefined) {
      setTimeout(() => this.requestSync(), SYNC_RETRY_MS); // a sync refused: ask again later
    }
    if (message.code === "not_running" || message.code === "forbidden") this.queue = [];
    this.handlers.onError?.(message);
    this.pump();
  }

  on_pong() {}

  /** Reconnect after a growing delay: hello again, then the action in flight with its seq. */
  retryWhenAvailable() {
    if (this.unavailableTimer !== null) return;
    const delay = this.unavailableMs;
    this.unavailableMs = Math.min(RECONNECT_MAX_MS, this.unavailableMs * 2);
    this.unavailableTimer = setTimeout(() => {
      this.unavailableTimer = null;
      this.drop();
    }, delay);
  }

  checkEnd(message) {
    if (message.end) this.finish(message.end);
  }

  finish(end) {
    if (this.ended) return;
    this.ended = true;
    this.role = "viewer";
    this.queue = [];
    this.pending = null;
    this.handlers.onEnd?.(end);
  }
}
