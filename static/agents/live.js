// A model episode, live: the game drawn by the play app's renderers from its
// websocket (as a viewer: a snapshot on join, then every step), and the
// model's turns (answer, parsed action, executed action, tokens) fetched from
// turns.json whenever a new step arrives.
import { clear, el, percent } from "../play/js/dom.js";
import { drawHud } from "../play/js/hud.js";
import { createRenderer } from "../play/js/renderers/index.js";
import { EpisodeSocket } from "../play/js/socket.js";

const MAX_TURNS_SHOWN = 100;
const config = JSON.parse(document.getElementById("agents-config").textContent);
const $ = (id) => document.getElementById(id);
const renderer = createRenderer(config.renderer, $("stage"), config);
const state = { since: 0, fetching: false, again: false };

function drawState(message) {
  renderer.draw(message.frame, message.hud, { version: message.version, type: message.type });
  drawHud($("hud"), message.hud);
  if (message.status) $("status").textContent = message.status;
  refreshTurns();
}

async function refreshTurns() {
  if (state.fetching) {
    state.again = true;
    return;
  }
  state.fetching = true;
  try {
    const response = await fetch(`${config.turns}?since=${state.since}`);
    if (response.ok) showTurns(await response.json());
  } catch {
    /* the next step fetches again */
  } finally {
    state.fetching = false;
  }
  if (state.again) {
    state.again = false;
    refreshTurns();
  }
}

function showTurns(data) {
  const list = $("turns");
  for (const turn of data.turns) {
    list.prepend(turnItem(turn));
    state.since = turn.index + 1;
  }
  while (list.children.length > MAX_TURNS_SHOWN) list.lastElementChild.remove();
  const total = (name) => document.querySelector(`[data-total="${name}"]`);
  total("steps").textContent = String(data.steps);
  total("progression").textContent = `${percent(data.progression)} / 100`;
  total("calls").textContent = String(data.totals.calls);
  total("tokens").textContent = `${data.totals.input_tokens} / ${data.totals.output_tokens}`;
  total("cost").textContent = `$${data.totals.cost.toFixed(4)}`;
  total("end").textContent = data.end_reason ? `${data.end_reason} ${data.end_detail}` : "–";
  $("status").textContent = data.status;
  if (data.turns.length >= 200) refreshTurns(); // a late joiner catches up in pages
}

function turnItem(turn) {
  const header = el("header", {}, [
    el("strong", { text: `Step ${turn.index}` }),
    el("span", { className: "executed", text: turn.action }),
    turn.valid ? null : el("span", { className: "warning", text: `invalid answer (parsed: "${turn.candidate}")` }),
    el("span", { className: "muted", text: `${turn.input_tokens} in / ${turn.output_tokens} out · ${Math.round(turn.latency_ms)} ms` }),
    turn.attempts > 1 ? el("span", { className: "muted", text: `${turn.attempts} attempts` }) : null,
    turn.reward ? el("span", { text: `reward ${turn.reward}` }) : null,
    turn.prompt ? el("a", { text: "messages sent", attrs: { href: turn.prompt } }) : null,
  ]);
  const item = el("li", { className: turn.valid ? "turn" : "turn invalid" }, [header]);
  // A provider's separate reasoning; CoT reasoning is already part of the answer.
  if (turn.reasoning && !turn.answer.includes(turn.reasoning)) {
    item.append(el("pre", { className: "reasoning muted", text: turn.reasoning }));
  }
  item.append(el("pre", { className: "answer", text: turn.answer }));
  return item;
}

const socket = new EpisodeSocket(config.socket, {
  onState: drawState,
  onError: (message) => {
    $("notice").textContent = message.message ?? "";
  },
  onConnection: (status) => {
    $("connection").textContent = status;
  },
  onEnd: () => refreshTurns(),
});

clear($("turns"));
if (config.replayable) socket.connect();
refreshTurns();
window.addEventListener("pagehide", () => socket.stop());
window.balrogAgents = { socket, state };
