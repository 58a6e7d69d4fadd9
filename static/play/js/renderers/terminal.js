// NetHack and MiniHack: the 80x24 tty as a monospace grid. The frame carries
// ``rows`` (24 strings of 80 characters), ``colors`` (per cell one hex digit,
// NetHack's colour 0-15) and ``cursor`` [row, col]. Only rows that changed are
// rebuilt; runs of one colour become one span (text via textContent).
import { el } from "../dom.js";

export class TerminalRenderer {
  constructor(stage) {
    this.screen = el("pre", { className: "terminal", attrs: { role: "img", "aria-label": "NetHack screen" } });
    stage.append(this.screen);
    this.lines = [];
    this.keys = [];
  }

  draw(frame) {
    const rows = frame.rows ?? [];
    const colors = frame.colors ?? [];
    const [cursorRow, cursorCol] = frame.cursor ?? [-1, -1];
    while (this.lines.length < rows.length) {
      const line = el("div", { className: "term-line" });
      this.screen.append(line);
      this.lines.push(line);
      this.keys.push(null);
    }
    for (let r = 0; r < rows.length; r++) {
      const cursor = r === cursorRow ? cursorCol : -1;
      const key = `${rows[r]}\u0000${colors[r] ?? ""}\u0000${cursor}`;
      if (this.keys[r] === key) continue;
      this.keys[r] = key;
      this.drawLine(this.lines[r], rows[r], colors[r] ?? "", cursor);
    }
  }

  drawLine(line, text, colors, cursor) {
    const spans = [];
    let start = 0;
    for (let c = 1; c <= text.length; c++) {
      const boundary = c === text.length || colors[c] !== colors[start] || c === cursor || c === cursor + 1;
      if (!boundary) continue;
      const span = el("span", { className: `c${colors[start] ?? "7"}`, text: text.slice(start, c) });
      if (start === cursor) span.classList.add("cursor");
      spans.push(span);
      start = c;
    }
    line.replaceChildren(...spans);
  }
}
