// The annotation console: an episode replayed step by step, keyboard first.
//
// Everything the game or the model produced (frames, observations, raw
// answers, notes) is untrusted text: it only ever reaches the page through
// textContent (here, in dom.js and in browser play's renderers).
import { StepFrames } from "./frames.js";
import { Saver } from "./saver.js";
import { AnnotateWork, ReviewWork } from "./work.js";

const config = JSON.parse(document.getElementById("annotation-config").textContent);
const $ = (id) => document.getElementById(id);
const review = config.mode === "review";
const total = config.total;
const stepLabels = config.taxonomy.step;
const episodeLabels = config.taxonomy.episode;
const cues = { invalid: new Set(config.cues.invalid), repeated: new Set(config.cues.repeated), cycle: new Set(config.cues.cycle) };

const saver = new Saver({
  url: config.save_url,
  csrf: config.csrf,
  storageKey: config.storage_key,
  readOnly: Boolean(config.submitted),
  onStatus: (kind, text) => setStatus(kind, text),
});
const work = review ? new ReviewWork(config, saver) : new AnnotateWork(config, saver);
const frames = new StepFrames(config.steps_url, total, config.window);
const state = { position: null, shown: null, picker: null, renderer: null, drawHud: null };

// ----- small DOM helpers ----------------------------------------------------------------------
function el(tag, { text, className, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

function setStatus(kind, text) {
  const node = $("save-status");
  node.dataset.kind = kind;
  node.textContent = text;
}

function notice(text, kind = "info") {
  const node = $("notice");
  node.dataset.kind = kind;
  node.textContent = text;
}

// ----- the game view (browser play's renderers) ------------------------------------------------------
async function loadRenderer() {
  const stage = $("stage");
  try {
    const [{ createRenderer }, hud] = await Promise.all([import(config.renderers_module), import(config.hud_module)]);
    state.renderer = createRenderer(config.renderer, stage, config);
    state.drawHud = hud.drawHud;
  } catch (error) {
    // Without play's modules the frame still shows, as JSON text.
    const pre = el("pre", { className: "generic-frame" });
    stage.append(pre);
    state.renderer = { draw: (frame) => (pre.textContent = JSON.stringify(frame, null, 1)) };
    state.drawHud = null;
  }
}

function drawFrame(index, item) {
  const previous = state.shown;
  state.renderer.draw(item.frame, item.hud, { version: index, type: "replay" });
  if (state.renderer.history && previous !== index - 1) {
    const earlier = [];
    for (let i = Math.max(0, index - 40); i < index; i++) if (frames.has(i)) earlier.push(frames.peek(i).frame);
    state.renderer.history(earlier);
  }
  const hud = $("hud");
  if (state.drawHud) state.drawHud(hud, item.hud);
  else hud.textContent = JSON.stringify(item.hud);
}

// ----- moving between steps --------------------------------------------------------------------
// Positions 0..total-1 are steps (the state before each); ``total`` is the final state.
function lastIndex() {
  return total;
}

function isEnd(index) {
  return index >= total;
}

async function show(index) {
  index = Math.max(0, Math.min(lastIndex(), index));
  state.position = index;
  $("position").textContent = isEnd(index) ? `the end (after ${total} steps)` : `step ${index + 1} of ${total}`;
  drawStrip();
  let item;
  try {
    item = await frames.get(index);
  } catch (error) {
    notice(`Could not load the steps: ${error.message}`, "error");
    return;
  }
  if (state.position !== index || !item) return;
  drawFrame(index, item);
  state.shown = index;
  $("stage").dataset.step = String(index);
  drawStep(index, item);
  drawStepLabels();
  work.moved(index);
  frames.prefetch(index + config.window);
}

function drawStep(index, item) {
  const final = isEnd(index);
  $("step-number").textContent = final ? "– (the final state)" : String(index + 1);
  $("step-action").textContent = final ? "" : item.action + (item.valid ? "" : "  (default action: the answer was not a valid action)");
  $("step-reward").textContent = final ? "" : `${Number(item.reward).toFixed(3)} · ${(Number(item.progression) * 100).toFixed(1)}/100${item.done ? " · the episode ended here" : ""}`;
  $("raw-output").textContent = final ? "" : item.raw_input;
  $("observation").textContent = item.observation ?? "";
  $("step-meta").textContent = final ? "" : item.meta;
  const badges = $("cues");
  badges.replaceChildren();
  if (cues.invalid.has(index)) badges.append(el("span", { className: "chip cue-invalid", text: "invalid answer" }));
  if (cues.repeated.has(index)) badges.append(el("span", { className: "chip cue-repeated", text: "repeated action" }));
  if (cues.cycle.has(index)) badges.append(el("span", { className: "chip cue-cycle", text: "action cycle" }));
}

function jump(direction) {
  const targets = work.targets;
  const from = state.position ?? 0;
  const next = direction > 0 ? targets.find((i) => i > from) : [...targets].reverse().find((i) => i < from);
  if (next === undefined) {
    notice(review ? "No more disputed steps that way." : "No more invalid answers or repeated actions that way.");
    return;
  }
  notice("");
  show(next);
}

// ----- the strip: one column per step ---------------------------------------------------------------
function drawStrip() {
  const canvas = $("strip");
  const width = canvas.clientWidth || 600;
  if (canvas.width !== width) canvas.width = width;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#262935";
  ctx.fillRect(0, 0, width, canvas.height);
  if (!total) return;
  const scale = width / total;
  const column = (i, color, y, h) => {
    ctx.fillStyle = color;
    ctx.fillRect(Math.floor(i * scale), y, Math.max(1, Math.ceil(scale)), h);
  };
  for (const i of cues.cycle) column(i, "#7a6a30", 0, 6);
  for (const i of cues.repeated) column(i, "#f0a43c", 0, 6);
  for (const i of cues.invalid) column(i, "#e05a5a", 0, 6);
  for (let i = 0; i < total; i++) if (work.marked(i)) column(i, "#5b8def", 8, 6);
  for (const i of work.targets) if (review) column(i, "#e05a5a", 16, 6);
  if (state.position !== null) column(state.position, "#ffffff", 0, canvas.height);
}

$("strip").addEventListener("click", (event) => {
  const canvas = event.currentTarget;
  const x = event.offsetX / (canvas.clientWidth || 1);
  show(Math.floor(x * total));
});

// ----- step labels -----------------------------------------------------------------------------------
function drawStepLabels() {
  const list = $("step-labels");
  list.replaceChildren();
  const index = state.position ?? 0;
  stepLabels.forEach((label, n) => {
    const s = work.labelState(index, label.code);
    const button = el("button", {
      className: `ann-label state-${s.on === true ? "on" : s.on === false ? "off" : "open"}${s.decided ? " decided" : ""}`,
      attrs: { type: "button", "aria-pressed": String(s.on === true), "data-code": label.code, title: label.description },
    }, [
      n < NUMBER_KEYS.length ? el("kbd", { text: NUMBER_KEYS[n] }) : null,
      label.hotkey ? el("kbd", { text: label.hotkey }) : null,
      el("span", { text: ` ${label.name}` }),
    ]);
    button.disabled = isEnd(index) || work.readOnly;
    button.addEventListener("click", () => toggleLabel(label.code));
    const item = el("li", {}, [button]);
    if (review) item.append(reviewLine(s));
    list.append(item);
  });
  const note = $("step-note");
  if (review) {
    drawCoderNotes(index);
  } else if (note.dataset.step !== String(index) || document.activeElement !== note) {
    // Another step (or not being typed in): show that step's note; never overwrite one being typed.
    note.value = work.step(index).note;
    note.dataset.step = String(index);
  }
  note.disabled = isEnd(index) || work.readOnly;
}

function reviewLine(s) {
  const who = s.who.length ? `flagged by ${s.who.join(", ")}` : "flagged by nobody";
  const final = s.on === true ? "final: yes" : s.on === false ? "final: no" : s.disputed ? "final: disputed" : "final: pending";
  return el("small", { className: `ann-review-line${s.disputed ? " disputed" : ""}`, text: ` ${final}${s.decided ? " (your decision)" : ""} · ${who}` });
}

function drawCoderNotes(index) {
  const box = $("coder-notes");
  box.replaceChildren(...work.stepNotes(index).map((n) => el("p", { className: "ann-coder-note" }, [el("strong", { text: `${n.name}: ` }), el("span", { text: n.text })])));
}

function toggleLabel(code) {
  if (isEnd(state.position) || work.readOnly) return;
  work.toggle(state.position, code);
  drawStepLabels();
  drawStrip();
}

// ----- episode labels ---------------------------------------------------------------------------------
function drawEpisodeLabels() {
  const box = $("episode-labels");
  box.replaceChildren();
  for (const label of episodeLabels) {
    const select = el("select", { attrs: { "data-code": label.code, "aria-label": label.name } });
    select.append(el("option", { text: review ? "— annotators' consensus —" : "—", attrs: { value: "" } }));
    label.values.forEach((v, n) => select.append(el("option", { text: optionText(label, v, n), attrs: { value: v.value } })));
    select.value = work.value(label.code) ?? "";
    select.disabled = work.readOnly;
    select.addEventListener("change", () => setEpisodeValue(label.code, select.value || null));
    const head = el("div", { className: "ann-episode-head" }, [
      el("span", { text: label.name + (label.required && !review ? " *" : "") , attrs: { title: label.description } }),
      label.hotkey ? el("kbd", { text: label.hotkey }) : null,
    ]);
    const row = el("div", { className: "ann-episode-label", attrs: { "data-label": label.code } }, [head, select]);
    if (review) row.append(coderValuesLine(label));
    box.append(row);
  }
  if (review) drawCoderEpisodeNotes();
}

/** "3. Oscillation" for a choice (its key in the picker); a rating's value is its own name. */
function optionText(label, value, n) {
  return label.kind === "rating" ? value.name : `${CHOICE_KEYS[n] ?? "·"}. ${value.name}`;
}

function coderValuesLine(label) {
  const names = Object.fromEntries(label.values.map((v) => [v.value, v.name]));
  const parts = work.coderValues(label.code).map(({ name, value }) => `${name}: ${value === null ? "–" : names[value] ?? value}`);
  const disputed = work.disputedEpisode.has(label.code);
  return el("small", { className: `ann-review-line${disputed ? " disputed" : ""}`, text: (disputed ? "disputed · " : "") + (parts.join(" · ") || "no submitted work") });
}

function drawCoderEpisodeNotes() {
  const notes = work.coders.filter((c) => c.note);
  $("coder-episode-notes").replaceChildren(...notes.map((c) => el("p", { className: "ann-coder-note" }, [el("strong", { text: `${c.name}: ` }), el("span", { text: c.note })])));
}

function setEpisodeValue(code, value) {
  work.setValue(code, value);
  drawEpisodeLabels();
}

// ----- the picker: an episode label's key, then its choice's key --------------------------------------------
// Keyboard order, so every choice has one key: 1-9, 0 (the tenth: the default
// failure reasons are ten), then letters. Backspace or Delete clears.
const CHOICE_KEYS = [..."1234567890abcdefghijklmnopqrstuvwxyz"];

function openPicker(label) {
  if (work.readOnly) return;
  state.picker = label;
  $("picker-title").textContent = label.name;
  $("picker-options").replaceChildren(
    ...label.values.map((v, n) =>
      el("li", { attrs: { "data-value": v.value, "data-key": CHOICE_KEYS[n] ?? "" } }, [
        CHOICE_KEYS[n] ? el("kbd", { text: CHOICE_KEYS[n] }) : null,
        el("span", { text: ` ${v.name}` }),
      ]),
    ),
  );
  $("picker").hidden = false;
}

function closePicker() {
  state.picker = null;
  $("picker").hidden = true;
}

function pick(key) {
  const label = state.picker;
  if (key === "Escape") return closePicker();
  if (key === "Backspace" || key === "Delete") setEpisodeValue(label.code, null);
  else {
    const n = CHOICE_KEYS.indexOf(key);
    if (n < 0 || n >= label.values.length) return;
    setEpisodeValue(label.code, label.values[n].value);
  }
  closePicker();
}

// ----- submit ----------------------------------------------------------------------------------------
async function submit() {
  if (review || work.readOnly) return;
  const button = $("submit");
  button.disabled = true;
  try {
    await saver.flush();
    const response = await fetch(config.submit_url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf },
      body: "{}",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
    work.readOnly = true;
    saver.readOnly = true;
    saver.forget();
    setStatus("submitted", "Submitted");
    notice(body.next ? "Submitted. Opening your next assignment…" : "Submitted. That was your last assignment.", "ok");
    drawEpisodeLabels();
    drawStepLabels();
    if (body.next) setTimeout(() => (window.location.href = body.next), 1200);
  } catch (error) {
    button.disabled = false;
    notice(`Not submitted: ${error.message}`, "error");
  }
}

// ----- the keyboard ------------------------------------------------------------------------------------
const MOVES = { j: 1, ArrowDown: 1, ArrowRight: 1, k: -1, ArrowUp: -1, ArrowLeft: -1 };
const NUMBER_KEYS = [..."1234567890"]; // the first ten step labels, in keyboard order

function onKey(event) {
  if (event.altKey || event.metaKey) return;
  if (event.ctrlKey) {
    if (event.key === "Enter") {
      event.preventDefault();
      submit();
    }
    return;
  }
  const target = event.target;
  if (target instanceof HTMLElement && target.matches("textarea, input, select")) {
    if (event.key === "Escape") target.blur();
    return;
  }
  if (state.picker) {
    event.preventDefault();
    return pick(event.key);
  }
  if (handleKey(event.key)) event.preventDefault();
}

function handleKey(key) {
  if (key in MOVES) return show((state.position ?? 0) + MOVES[key]), true;
  if (key === "Home") return show(0), true;
  if (key === "End") return show(lastIndex()), true;
  if (key === "n") return jump(1), true;
  if (key === "p") return jump(-1), true;
  if (key === "c" && !review) return $("step-note").focus(), true;
  if (key === "C" && !review) return $("episode-note").focus(), true;
  if (key === "Backspace" && review) {
    if (!isEnd(state.position)) work.clearStep(state.position);
    drawStepLabels();
    drawStrip();
    return true;
  }
  if (NUMBER_KEYS.includes(key)) {
    const label = stepLabels[NUMBER_KEYS.indexOf(key)];
    if (label) toggleLabel(label.code);
    return Boolean(label);
  }
  const stepLabel = stepLabels.find((l) => l.hotkey === key);
  if (stepLabel) return toggleLabel(stepLabel.code), true;
  const episodeLabel = episodeLabels.find((l) => l.hotkey === key);
  if (episodeLabel) return openPicker(episodeLabel), true;
  return false;
}

// ----- notes -----------------------------------------------------------------------------------------
function wireNotes() {
  const stepNote = $("step-note");
  const episodeNote = $("episode-note");
  if (review) {
    // A reviewer decides; the annotators' notes show beside each step and the episode.
    for (const id of ["step-note", "step-note-label", "episode-note", "episode-note-label"]) $(id).hidden = true;
    return;
  }
  episodeNote.value = work.note;
  episodeNote.disabled = work.readOnly;
  stepNote.addEventListener("input", () => {
    const index = Number(stepNote.dataset.step);
    if (Number.isNaN(index) || isEnd(index)) return;
    work.setStepNote(index, stepNote.value);
    drawStrip();
  });
  episodeNote.addEventListener("input", () => work.setNote(episodeNote.value));
}

// ----- start -------------------------------------------------------------------------------------------
async function start() {
  await loadRenderer();
  wireNotes();
  drawEpisodeLabels();
  document.addEventListener("keydown", onKey);
  const submitButton = $("submit");
  if (submitButton) {
    submitButton.addEventListener("click", submit);
    submitButton.disabled = work.readOnly;
  }
  window.addEventListener("pagehide", () => {
    if (saver.pending) saver.flush({ keepalive: true }).catch(() => {});
  });
  window.addEventListener("resize", drawStrip);
  if (work.readOnly) setStatus("submitted", review ? "" : "Submitted: read-only");
  else if (!saver.pending) setStatus("saved", "All changes saved");
  await show(work.position ?? 0);
  document.body.dataset.consoleReady = "1";
}

window.annotationConsole = { state, work, saver, frames, show };
start();
