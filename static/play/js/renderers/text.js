// TextWorld: a transcript of turns. A frame is one turn: the ``command`` that
// led to it (null at the start) and the game's ``text`` answer, plus the
// ``objective``, ``inventory`` and score. All game text goes in as textContent.
import { el } from "../dom.js";

const MAX_TURNS = 200;

export class TextRenderer {
  constructor(stage) {
    this.objective = el("p", { className: "objective" });
    this.transcript = el("div", {
      className: "transcript",
      // it scrolls: focusable so keyboard users can scroll it (axe: scrollable-region-focusable)
      attrs: { "aria-live": "polite", tabindex: "0", role: "log", "aria-label": "Transcript" },
    });
    this.inventory = el("p", { className: "inventory muted" });
    stage.append(this.objective, this.transcript, this.inventory);
    this.version = null;
  }

  /** Draw a state; a frame right after the last one adds a turn, any other
   * version restarts the transcript at it (history() fills in the earlier turns). */
  draw(frame, _hud, info = {}) {
    const version = info.version ?? null;
    if (version !== null && version === this.version) return;
    if (this.version === null || version === null || version !== this.version + 1) {
      this.transcript.replaceChildren();
    }
    this.version = version;
    this.addTurn(frame);
    this.objective.textContent = frame.objective ? `Objective: ${frame.objective}` : "";
    this.inventory.textContent = frame.inventory ?? "";
  }

  /** The turns before the current one, oldest first (frames from a replay window). */
  history(frames) {
    const current = Array.from(this.transcript.children);
    this.transcript.replaceChildren(...frames.map((frame) => this.turn(frame)), ...current);
    this.trim();
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }

  addTurn(frame) {
    this.transcript.append(this.turn(frame));
    this.trim();
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }

  turn(frame) {
    const node = el("div", { className: "turn" });
    if (frame.command) node.append(el("p", { className: "command-echo", text: `> ${frame.command}` }));
    node.append(el("p", { className: "feedback", text: frame.text ?? "" }));
    return node;
  }

  trim() {
    while (this.transcript.children.length > MAX_TURNS) this.transcript.firstChild.remove();
  }
}
