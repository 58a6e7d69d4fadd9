// The side-by-side replay of two episodes of the same game: one scrubber
// moves both to the same version (the state after that many steps). Frames
// come from the play replay page's own endpoint (play.views.frames, one
// replay pass per window) and are drawn by the play app's renderers.
import { drawHud } from "../play/js/hud.js";
import { createRenderer } from "../play/js/renderers/index.js";

const WINDOW = 100;
const CACHE_MAX = 1000;
const config = JSON.parse(document.getElementById("compare-config").textContent);
const $ = (id) => document.getElementById(id);
const scrubber = $("scrubber");
const last = config.total;
const state = { position: 0, playing: false, timer: null };

class Side {
  constructor(spec, root, column) {
    this.spec = spec;
    this.root = root;
    this.column = column; // 0: left, 1: right (the index into config.actions rows)
    this.stage = root.querySelector(".stage");
    this.hud = root.querySelector(".hud");
    this.renderer = createRenderer(spec.renderer, this.stage, spec);
    this.cache = new Map(); // version -> frame
    this.inflight = new Map(); // window start -> Promise
    this.drawn = null;
  }

  // Windows start at multiples of WINDOW, so both directions reuse them.
  fetchWindow(version) {
    const start = Math.floor(version / WINDOW) * WINDOW;
    if (this.inflight.has(start)) return this.inflight.get(start);
    const request = fetch(`${this.spec.frames}?start=${start}&count=${WINDOW}`)
      .then((response) => {
        if (!response.ok) throw new Error(`the server answered ${response.status}`);
        return response.json();
      })
      .then((data) => {
        data.frames.forEach((frame, i) => this.cache.set(data.start + i, frame));
        this.trim();
      })
      .finally(() => this.inflight.delete(start));
    this.inflight.set(start, request);
    return request;
  }

  trim() {
    if (this.cache.size <= CACHE_MAX) return;
    const far = [...this.cache.keys()].sort((a, b) => Math.abs(b - state.position) - Math.abs(a - state.position));
    for (const version of far.slice(0, this.cache.size - CACHE_MAX)) this.cache.delete(version);
  }

  async frameAt(version) {
    if (!this.cache.has(version)) await this.fetchWindow(version);
    return this.cache.get(version);
  }

  /** Show the state after ``position`` steps (or this episode's last state). */
  async show(position) {
    const version = Math.min(position, this.spec.steps);
    this.root.querySelector(".replay-at").href = `${this.spec.replay}?step=${version}`;
    this.root.querySelector(".action").textContent = this.actionAt(position);
    this.root.querySelector(".side-state").textContent =
      position > this.spec.steps ? `(ended after ${this.spec.steps} steps)` : "";
    if (!this.spec.replayable) {
      this.stage.textContent = "Imported result: no replayable log, no frames.";
      return;
    }
    const data = await this.frameAt(version);
    if (!data || state.position !== position) return; // moved on meanwhile
    const previous = this.drawn;
    this.renderer.draw(data.frame, data.hud, { version, type: "replay" });
    if (this.renderer.history && previous !== version - 1 && previous !== version) {
      this.renderer.history(this.earlierFrames(version));
    }
    this.drawn = version;
    this.stage.dataset.version = String(version);
    drawHud(this.hud, data.hud);
  }

  actionAt(position) {
    if (position === 0) return "(start)";
    const row = config.actions[position - 1];
    if (row === undefined) return "(not shown: beyond the aligned steps)";
    return row[this.column] ?? "(ended)";
  }

  earlierFrames(version) {
    const frames = [];
    for (let v = Math.max(0, version - 40); v < version; v++) if (this.cache.has(v)) frames.push(this.cache.get(v).frame);
    return frames;
  }
}

const sides = config.sides.map((spec, i) => new Side(spec, $(`side-${i}`), i));

async function show(position) {
  position = Math.max(0, Math.min(last, position));
  state.position = position;
  scrubber.value = String(position);
  $("position").textContent = `${position} / ${last}`;
  const diverged = config.divergence !== null && position >= config.divergence;
  for (const side of sides) side.root.classList.toggle("diverged", diverged);
  markRow(position);
  const url = new URL(window.location.href);
  url.searchParams.set("step", String(position));
  window.history.replaceState(null, "", url);
  try {
    await Promise.all(sides.map((side) => side.show(position)));
    $("notice").textContent = "";
  } catch (error) {
    $("notice").textContent = `Could not load the frames: ${error.message}`;
    stop();
  }
}

function markRow(position) {
  for (const row of document.querySelectorAll("#aligned tr.current")) row.classList.remove("current");
  const row = document.querySelector(`#aligned tr[data-version="${position}"]`);
  if (row) row.classList.add("current");
}

// ----- playback ------------------------------------------------------------------
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
    const wait = Math.max(0, 1000 / (Number($("speed").value) || 5) - (performance.now() - started));
    state.timer = setTimeout(tick, wait);
  });
}

function stop() {
  state.playing = false;
  clearTimeout(state.timer);
  $("play-pause").textContent = "Play";
}

function jumpToDivergence() {
  if (config.divergence === null) return;
  stop();
  show(config.divergence);
}

$("play-pause").addEventListener("click", () => (state.playing ? stop() : play()));
$("step-forward").addEventListener("click", () => (stop(), show(state.position + 1)));
$("step-back").addEventListener("click", () => (stop(), show(state.position - 1)));
$("jump-divergence").addEventListener("click", jumpToDivergence);
scrubber.addEventListener("input", () => show(Number(scrubber.value)));

const marker = $("divergence-marker");
if (marker) {
  marker.style.left = last ? `${(100 * config.divergence) / last}%` : "0%";
  marker.addEventListener("click", jumpToDivergence);
}

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
  } else if (event.key === "d") {
    jumpToDivergence();
  } else if (event.key === "Home") {
    show(0);
  } else if (event.key === "End") {
    show(last);
  }
});

window.balrogCompare = { state, show, sides };
show(Number(new URLSearchParams(window.location.search).get("step")) || 0);
