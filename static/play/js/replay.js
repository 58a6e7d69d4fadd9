// The replay page: frames come from the server in windows, each computed in
// one replay pass; the page keeps a bounded cache of them around the position.
import { clear, el, percent } from "./dom.js";
import { drawHud } from "./hud.js";
import { createRenderer } from "./renderers/index.js";

const WINDOW = 100;
const CACHE_MAX = 1500;
const PREFETCH_AHEAD = 40;
const config = JSON.parse(document.getElementById("play-config").textContent);
const $ = (id) => document.getElementById(id);
const stage = $("stage");
const renderer = createRenderer(config.renderer, stage, config);
const scrubber = $("scrubber");
const last = Number(scrubber.max);

const cache = new Map(); // version -> {frame, hud, step, observation}
const inflight = new Map(); // window start -> Promise
const state = { position: 0, drawn: null, playing: false, timer: null, observation: false, generation: 0 };

async function fetchWindow(start) {
  if (inflight.has(start)) return inflight.get(start);
  const generation = state.generation;
  const url = `${config.frames}?start=${start}&count=${WINDOW}${state.observation ? "&observation=1" : ""}`;
  const request = fetch(url)
    .then((response) => {
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      return response.json();
    })
    .then((data) => {
      if (generation !== state.generation) return;
      data.frames.forEach((frame, i) => cache.set(data.start + i, frame));
      trimCache();
    })
    .finally(() => inflight.delete(start));
  inflight.set(start, request);
  return request;
}

function trimCache() {
  if (cache.size <= CACHE_MAX) return;
  const far = [...cache.keys()].sort((a, b) => Math.abs(b - state.position) - Math.abs(a - state.position));
  for (const version of far.slice(0, cache.size - CACHE_MAX)) cache.delete(version);
}

async function frameAt(version) {
  if (!cache.has(version)) await fetchWindow(version);
  const ahead = Math.min(last, version + PREFETCH_AHEAD);
  if (!cache.has(ahead) && state.playing) fetchWindow(ahead).catch(() => {});
  return cache.get(version);
}

async function show(version) {
  version = Math.max(0, Math.min(last, version));
  state.position = version;
  scrubber.value = String(version);
  $("position").textContent = `${version} / ${last}`;
  let data;
  try {
    data = await frameAt(version);
  } catch (error) {
    $("notice").textContent = `Could not load the frames: ${error.message}`;
    stop();
    return;
  }
  if (!data || state.position !== version) return;
  const previous = state.drawn;
  renderer.draw(data.frame, data.hud, { version, type: "replay" });
  if (renderer.history && previous !== version - 1) renderer.history(earlierFrames(version));
  state.drawn = version;
  stage.dataset.version = String(version);
  drawHud($("hud"), data.hud);
  drawStep(data.step);
  $("observation").textContent = data.observation ?? "";
}

function earlierFrames(version) {
  const frames = [];
  for (let v = Math.max(0, version - 40); v < version; v++) if (cache.has(v)) frames.push(cache.get(v).frame);
  return frames;
}

function drawStep(step) {
  const info = $("step-info");
  clear(info);
  if (!step) {
    info.append(el("dt", { text: "Start" }), el("dd", { className: "muted", text: "the state after reset" }));
    return;
  }
  const rows = [
    ["Step", String(step.index + 1)],
    ["Action", step.action + (step.valid ? "" : " (default: the input was not an action)")],
    ["Input", step.input],
    ["Reward", Number(step.reward).toFixed(3)],
    ["Progression", `${percent(step.progression)} / 100`],
    ["Env actions", JSON.stringify(step.executed)],
  ];
  if (step.done) rows.push(["End", "the episode ended here"]);
  for (const [term, value] of rows) info.append(el("dt", { text: term }), el("dd", { text: value }));
}

// ----- playback ------------------------------------------------------------------
function speed() {
  return Number($("speed").value) || 5;
}

function play() {
  if (state.position >= last) show(0);
  state.playing = true;
  $("play-pause").textContent = "Pause";
  tick();
}

function tick() {
  if (!state.playing) return;
  if (state.position >= last) return stop();
  const started = performance.now();
  show(state.position + 1).then(() => {
    const wait = Math.max(0, 1000 / speed() - (performance.now() - started));
    state.timer = setTimeout(tick, wait);
  });
}

function stop() {
  state.playing = false;
  clearTimeout(state.timer);
  $("play-pause").textContent = "Play";
}

$("play-pause").addEventListener("click", () => (state.playing ? stop() : play()));
$("step-forward").addEventListener("click", () => show(state.position + 1));
$("step-back").addEventListener("click", () => show(state.position - 1));
scrubber.addEventListener("input", () => show(Number(scrubber.value)));
$("model-view-toggle").addEventListener("change", (event) => {
  state.observation = event.target.checked;
  $("observation").hidden = !state.observation;
  state.generation += 1; // windows fetched without the text are dropped
  cache.clear();
  show(state.position);
});

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof HTMLElement && event.target.matches("input[type=range], select")) {
    if (event.key !== "j" && event.key !== "k") return;
  }
  const moves = { j: 1, k: -1, ArrowRight: 1, ArrowLeft: -1 };
  if (event.key in moves) {
    event.preventDefault();
    stop();
    show(state.position + moves[event.key]);
  } else if (event.key === " ") {
    event.preventDefault();
    state.playing ? stop() : play();
  } else if (event.key === "Home") {
    show(0);
  } else if (event.key === "End") {
    show(last);
  }
});

window.balrog = { state, show, cache };
// ?step=N opens the replay at version N (the state after N steps), e.g. from the leaderboard's side-by-side view.
show(Number(new URLSearchParams(window.location.search).get("step")) || 0);
