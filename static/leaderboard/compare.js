// The side-by-side replay of two episodes of the same game: one scrubber
// moves both to the same version (the state after that many steps). Frames
// come from the play replay page's own endpoint (play.views.frames, one
// replay pass per window) and are drawn by the play app's renderers.
import { FrameWindows } from "../play/js/frames.js";
import { drawHud } from "../play/js/hud.js";
import { createPlayback } from "../play/js/playback.js";
import { createRenderer } from "../play/js/renderers/index.js";

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
    // Windows start at multiples of WINDOW, so both directions reuse them.
    this.frames = new FrameWindows(spec.frames, { cacheMax: CACHE_MAX, position: () => state.position, aligned: true });
    this.drawn = null;
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
    const data = await this.frames.frameAt(version);
    if (!data || state.position !== position) return; // moved on meanwhile
    const previous = this.drawn;
    this.renderer.draw(data.frame, data.hud, { version, type: "replay" });
    if (this.renderer.history && previous !== version - 1 && previous !== version) {
      this.renderer.history(this.frames.earlierFrames(version));
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
    playback.stop();
  }
}

function markRow(position) {
  for (const row of document.querySelectorAll("#aligned tr.current")) row.classList.remove("current");
  const row = document.querySelector(`#aligned tr[data-version="${position}"]`);
  if (row) row.classList.add("current");
}

function jumpToDivergence() {
  if (config.divergence === null) return;
  playback.stop();
  show(config.divergence);
}

const playback = createPlayback({
  state,
  show,
  last,
  button: $("play-pause"),
  speed: $("speed"),
  keys: { d: jumpToDivergence },
});

$("step-forward").addEventListener("click", () => (playback.stop(), show(state.position + 1)));
$("step-back").addEventListener("click", () => (playback.stop(), show(state.position - 1)));
$("jump-divergence").addEventListener("click", jumpToDivergence);
scrubber.addEventListener("input", () => show(Number(scrubber.value)));

const marker = $("divergence-marker");
if (marker) {
  marker.style.left = last ? `${(100 * config.divergence) / last}%` : "0%";
  marker.addEventListener("click", jumpToDivergence);
}

window.balrogCompare = { state, show, sides };
show(Number(new URLSearchParams(window.location.search).get("step")) || 0);
