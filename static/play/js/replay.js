// The replay page: frames come from the server in windows, each computed in
// one replay pass; the page keeps a bounded cache of them around the position.
import { clear, el, percent } from "./dom.js";
import { FrameWindows } from "./frames.js";
import { drawHud } from "./hud.js";
import { createPlayback } from "./playback.js";
import { createRenderer } from "./renderers/index.js";

const CACHE_MAX = 1500;
const PREFETCH_AHEAD = 40;
const config = JSON.parse(document.getElementById("play-config").textContent);
const $ = (id) => document.getElementById(id);
const stage = $("stage");
const renderer = createRenderer(config.renderer, stage, config);
const scrubber = $("scrubber");
const last = Number(scrubber.max);

const state = { position: 0, drawn: null, playing: false, timer: null, observation: false };
const frames = new FrameWindows(config.frames, {
  cacheMax: CACHE_MAX,
  position: () => state.position,
  query: () => (state.observation ? "&observation=1" : ""),
});
// While playing, the next window is asked for before the position reaches it.
async function frameAt(version) {
  const data = await frames.frameAt(version);
  if (state.playing) frames.prefetch(Math.min(last, version + PREFETCH_AHEAD));
  return data;
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
    playback.stop();
    return;
  }
  if (!data || state.position !== version) return;
  const previous = state.drawn;
  renderer.draw(data.frame, data.hud, { version, type: "replay" });
  if (renderer.history && previous !== version - 1) renderer.history(frames.earlierFrames(version));
  state.drawn = version;
  stage.dataset.version = String(version);
  drawHud($("hud"), data.hud);
  drawStep(data.step);
  $("observation").textContent = data.observation ?? "";
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

const playback = createPlayback({ state, show, last, button: $("play-pause"), speed: $("speed") });
$("step-forward").addEventListener("click", () => show(state.position + 1));
$("step-back").addEventListener("click", () => show(state.position - 1));
scrubber.addEventListener("input", () => show(Number(scrubber.value)));
$("model-view-toggle").addEventListener("change", (event) => {
  state.observation = event.target.checked;
  $("observation").hidden = !state.observation;
  frames.reset(); // windows fetched without the text are dropped
  show(state.position);
});

window.balrog = { state, show, cache: frames.cache };
// ?step=N opens the replay at version N (the state after N steps), e.g. from the leaderboard's side-by-side view.
show(Number(new URLSearchParams(window.location.search).get("step")) || 0);
