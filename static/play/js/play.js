// The play page: draws what the server sends, sends keys and clicks as actions.
import { clear, el, keyName, percent } from "./dom.js";
import { drawHud } from "./hud.js";
import { NetHackInput } from "./nethack.js";
import { createRenderer } from "./renderers/index.js";
import { EpisodeSocket } from "./socket.js";

const HISTORY_TURNS = 40;
const DROPPED_SHOWN_MS = 4000;
const config = JSON.parse(document.getElementById("play-config").textContent);
const $ = (id) => document.getElementById(id);
const stage = $("stage");
const renderer = createRenderer(config.renderer, stage, config);
const bindings = new Map(config.bindings.map((b) => [b.key, b.action]));
const keysOf = new Map();
for (const b of config.bindings) if (!keysOf.has(b.action)) keysOf.set(b.action, b.key);

const state = {
  role: "",
  actions: [],
  lastVersion: null,
  commands: [],
  commandAt: 0,
  limits: null,
  feed: "",
  admissible: [],
  verbs: [],
  completion: null, // Tab's cycle: {prefix, at, shown}
  commandsLoaded: false,
  dropped: 0,
  droppedTimer: 0,
  frameCommand: null, // the command that led to the snapshot's frame (TextWorld)
  connection: "offline",
  ended: false,
};

const socket = new EpisodeSocket(config.socket, {
  onRole: (role, welcome) => {
    if (welcome?.episode?.command_limits) state.limits = welcome.episode.command_limits;
    state.feed = welcome?.feed ?? "";
    setRole(role);
  },
  onState: (message) => drawState(message),
  onConfirm: (message) => {
    notice("");
    markConfirmed(message.version);
  },
  onObservation: (text) => showObservation(text),
  onError: (message) => notice(message.message, "error"),
  onConnection: (status) => {
    state.connection = status;
    showConnection();
  },
  onEnd: (end) => {
    state.ended = true;
    showEnd(end);
    showConnection();
  },
});

// ----- drawing -------------------------------------------------------------------
function drawState(message) {
  const jumped =
    state.lastVersion === null || (message.version !== state.lastVersion && message.version !== state.lastVersion + 1);
  renderer.draw(message.frame, message.hud, { version: message.version, type: message.type });
  drawHud($("hud"), message.hud);
  if (message.actions) setActions(message.actions);
  if (message.observation !== undefined) showObservation(message.observation);
  if (message.status) $("status").textContent = message.status;
  if (message.type === "ack" && message.step && message.duplicate) notice("(already applied: resynchronised)");
  else if (message.type === "ack" || message.type === "frame") notice("");
  state.lastVersion = message.version;
  stage.dataset.version = String(message.version);
  if (message.type !== "frame") markConfirmed(message.version);
  if (message.type === "snapshot") state.frameCommand = message.frame?.command ?? null;
  if (message.type === "snapshot" && jumped) loadHistory(message.version);
  if (config.free_text && message.frame?.verbs) setVerbs(message.frame.verbs);
  if (config.free_text && message.frame) setCompletions(message.frame);
}

// The badge says what is true: connected as the player, watching steps pushed
// as they commit, watching a feed polled from the database (the episode runs
// in another process and the channel layer is in memory), or the end.
function showConnection() {
  const badge = $("connection");
  let text = state.connection;
  if (state.connection === "online" && state.ended) text = "ended";
  else if (state.connection === "online" && state.role === "viewer") {
    text = state.feed === "poll" ? "live (polling)" : "live";
  }
  badge.textContent = text;
  badge.dataset.status = state.connection;
  badge.title =
    text === "live (polling)"
      ? "Steps made by another process are read from the database a few times a second."
      : "";
}

// The last version the server has confirmed as written: a protocol-2 frame is
// drawn before its step is durable, and only its ack says it is.
function markConfirmed(version) {
  stage.dataset.confirmed = String(version);
}

function setRole(role) {
  state.role = role;
  document.body.dataset.role = role;
  $("role").textContent = role === "player" ? "your game" : "watching";
  const playing = role === "player";
  $("actions-box").hidden = !playing;
  $("command").hidden = !(playing && config.free_text);
  if (playing && config.free_text) $("command-input").focus({ preventScroll: true });
  else if (playing) stage.focus({ preventScroll: true });
}

function setActions(actions) {
  state.actions = actions;
  const box = $("action-buttons");
  box.replaceChildren(
    ...actions.map((action) => {
      const key = keysOf.get(action);
      const button = el("button", { className: "action", attrs: { type: "button", "data-action": action } }, [
        el("span", { text: action }),
        key ? el("kbd", { text: keyName(key) }) : null,
      ]);
      button.addEventListener("click", () => {
        send(action, action, "button");
        button.blur();
        if (!config.free_text) stage.focus({ preventScroll: true });
      });
      return button;
    }),
  );
}

function setVerbs(verbs) {
  const box = $("verbs");
  if (box.dataset.count === String(verbs.length)) return;
  box.dataset.count = String(verbs.length);
  box.replaceChildren(
    el("span", { className: "muted", text: "Verbs: " }),
    ...verbs.map((verb) => {
      const chip = el("button", { className: "chip", text: verb, attrs: { type: "button" } });
      chip.addEventListener("click", () => {
        const input = $("command-input");
        input.value = `${verb} `;
        input.focus();
      });
      return chip;
    }),
  );
}

// What the command line offers (its list, and Tab): the game's admissible
// commands where it tracks them; the reference protocol's games do not (tracking
// them changes the game's texts), so there the player's own earlier commands
// and the game's verbs.
function setCompletions(frame) {
  state.admissible = frame.admissible ?? [];
  state.verbs = frame.verbs ?? state.verbs;
  $("command-options").replaceChildren(...completions().map((c) => el("option", { attrs: { value: c } })));
}

function completions() {
  if (state.admissible.length) return state.admissible;
  return [...new Set([...state.commands.slice().reverse(), ...state.verbs])];
}

/** Tab: the typed text grows to what every admissible command starting with it
 * shares; pressed again at that point, it cycles through them. */
function completeCommand(input) {
  const typed = input.value;
  const typedLower = typed.toLowerCase();
  const cycling = state.completion && state.completion.shown === typed;
  const prefix = cycling ? state.completion.prefix : typedLower;
  const matches = completions().filter((c) => c.toLowerCase().startsWith(prefix));
  if (!matches.length) return notice(`No known command starts with "${typed}".`);
  let next = commonPrefix(matches);
  if (next.length <= typed.length || cycling) {
    const at = cycling ? (state.completion.at + 1) % matches.length : 0;
    next = matches[at];
    state.completion = { prefix, at, shown: next };
  } else {
    state.completion = null;
  }
  input.value = next;
  notice(matches.length > 1 ? `${matches.length} commands: ${matches.slice(0, 6).join(" · ")}${matches.length > 6 ? " …" : ""}` : "");
}

function commonPrefix(words) {
  let prefix = words[0].toLowerCase();
  for (const word of words) while (!word.toLowerCase().startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

function showObservation(text) {
  $("observation").textContent = text ?? "";
}

function notice(text, kind = "") {
  const line = $("notice");
  line.textContent = text ?? "";
  line.dataset.kind = kind;
}

function showEnd(end) {
  const panel = $("end-panel");
  panel.hidden = false;
  const field = (name) => panel.querySelector(`[data-end="${name}"]`);
  field("progression").textContent = percent(end.progression);
  field("reason").textContent = end.reason || end.status;
  field("detail").textContent = end.detail ?? "";
  field("steps").textContent = String(end.steps);
  field("return").textContent = Number(end.return).toFixed(2);
  const list = $("same-seed");
  clear(list);
  for (const other of end.same_seed ?? []) {
    const link = el("a", { text: `Episode ${other.id}`, attrs: { href: config.replay_url_template.replace("{id}", other.id) } });
    list.append(el("li", {}, [link, ` ${other.agent}: ${percent(other.progression)} in ${other.steps} steps`]));
  }
  $("same-seed-none").hidden = (end.same_seed ?? []).length > 0;
  $("status").textContent = end.status;
  setRole("viewer");
  $("abandon-form")?.remove();
}

/** TextWorld: after a (re)load, fetch the earlier turns of the transcript. */
async function loadHistory(version) {
  if (!renderer.history || version <= 0) return;
  const start = Math.max(0, version - HISTORY_TURNS);
  try {
    const response = await fetch(`${config.frames}?start=${start}&count=${version - start}`);
    if (!response.ok) return;
    const data = await response.json();
    renderer.history(data.frames.map((f) => f.frame));
    rememberCommands([...data.frames.map((f) => f.frame?.command), state.frameCommand].filter(Boolean));
  } catch {
    /* the transcript starts at the current turn */
  }
}

/** Commands typed before a reload come back on the up arrow, before this page's own. */
function rememberCommands(earlier) {
  if (state.commandsLoaded) return;
  state.commandsLoaded = true;
  state.commands = [...earlier, ...state.commands].slice(-200);
  state.commandAt = state.commands.length;
}

// ----- input -----------------------------------------------------------------------
function send(action, input, source) {
  if (state.role !== "player") return;
  if (socket.act(action, input, source)) {
    nethack?.sent(action);
    return;
  }
  showDropped(input);
}

// A key pressed while the queue is full is dropped; say so where it stays
// readable (the notice line is cleared by the next frame) and is announced.
function showDropped(input) {
  state.dropped += 1;
  const line = $("dropped");
  line.hidden = false;
  line.textContent = `${state.dropped} key${state.dropped === 1 ? "" : "s"} dropped (last: ${keyName(input)}): the game is ${socket.queue.length} keys behind; wait for it to catch up.`;
  clearTimeout(state.droppedTimer);
  state.droppedTimer = setTimeout(() => {
    line.hidden = true;
    state.dropped = 0;
  }, DROPPED_SHOWN_MS);
}

const nethack =
  config.renderer === "terminal"
    ? new NetHackInput($("notice"), {
        send,
        actions: () => state.actions,
        focusGame: () => stage.focus({ preventScroll: true }),
        bindings: config.bindings,
      })
    : null;
$("notice").after(
  el("p", { className: "notice-line", attrs: { id: "dropped", role: "alert", "data-kind": "error" } }),
);
$("dropped").hidden = true;
$("command-input").setAttribute("list", "command-options");
$("command-form").append(el("datalist", { attrs: { id: "command-options" } }));

function typing(target) {
  return target instanceof HTMLElement && target.matches("textarea, select, input:not([type=checkbox]):not([type=radio])");
}

document.addEventListener("keydown", (event) => {
  if (typing(event.target)) return;
  if (nethack && state.role === "player" && nethack.keydown(event)) {
    event.preventDefault();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const action = bindings.get(event.key);
  if (action === undefined || state.role !== "player") return;
  event.preventDefault();
  send(action, event.key, "key");
});

$("command-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("command-input");
  const command = input.value.trim();
  if (!command) return;
  const refusal = commandRefusal(command, state.limits);
  if (refusal) {
    notice(refusal, "error");
    return;
  }
  send(command, command, "text");
  state.commands.push(command);
  if (state.commands.length > 200) state.commands.shift();
  state.commandAt = state.commands.length;
  input.value = "";
});

/** The server's limits from the welcome (play.services.command_limits): characters
 * as the server counts them (code points, not UTF-16 units) and, for a game with
 * an input buffer, UTF-8 bytes. */
function commandRefusal(command, limits) {
  if (!limits) return "";
  const chars = [...command].length;
  if (chars > limits.chars) return `Commands are limited to ${limits.chars} characters (this one has ${chars}).`;
  const bytes = new TextEncoder().encode(command).length;
  if (limits.utf8_bytes != null && bytes > limits.utf8_bytes) {
    return `This game reads at most ${limits.utf8_bytes} bytes of a command (this one has ${bytes}; accented letters count 2).`;
  }
  return "";
}

$("command-input").addEventListener("keydown", (event) => {
  if (event.key === "Tab" && !event.shiftKey && event.target.value.trim()) {
    event.preventDefault();
    completeCommand(event.target);
    return;
  }
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  event.preventDefault();
  const step = event.key === "ArrowUp" ? -1 : 1;
  state.commandAt = Math.max(0, Math.min(state.commands.length, state.commandAt + step));
  event.target.value = state.commands[state.commandAt] ?? "";
});

$("model-view-toggle").addEventListener("change", (event) => {
  const on = event.target.checked;
  $("observation").hidden = !on;
  socket.setObservation(on);
});

$("abandon-form")?.addEventListener("submit", (event) => {
  if (!window.confirm("Abandon this episode? It is scored as it stands.")) event.preventDefault();
});

socket.connect();
window.addEventListener("pagehide", () => socket.stop());
// For tests and the curious: the live connection and page state.
window.balrog = { socket, state };
