// BabyAI and Baba Is AI: tiled grids drawn on a canvas.
//
// BabyAI frames: ``grid`` rows of space-separated cell codes (type letter,
// colour letter, door state letter; "W" wall, "." empty), ``view`` rows of
// 0/1 (cells the agent sees), ``agent`` {x, y, dir}, ``carrying``, ``mission``.
// Baba Is AI frames: ``grid`` rows of cells, each a stack of tokens bottom
// first ("border", "baba:white", "word:is"), ``rules``, ``notice``.
import { el } from "../dom.js";

const TILE = 48;
const COLORS = {
  red: "#e04848",
  green: "#44c05a",
  blue: "#4a78f0",
  purple: "#9a5ce0",
  yellow: "#e8d040",
  grey: "#9a9aa0",
  white: "#f0f0f0",
};
const BABYAI_COLOR = { r: "red", g: "green", b: "blue", p: "purple", y: "yellow", e: "grey" };
const DIR_ANGLE = { east: 0, south: Math.PI / 2, west: Math.PI, north: -Math.PI / 2 };
const WORD_FILL = { noun: "#e26eaa", is: "#ebebeb", property: "#f0aa3c" };
const NOUNS = new Set(["baba", "wall", "ball", "key", "door"]);

export class GridRenderer {
  constructor(stage) {
    this.canvas = el("canvas", { className: "grid-canvas", attrs: { role: "img", "aria-label": "The grid" } });
    this.caption = el("p", { className: "grid-caption" });
    this.extra = el("ul", { className: "rules" });
    stage.append(this.caption, this.canvas, this.extra);
    this.ctx = this.canvas.getContext("2d");
  }

  draw(frame) {
    const rows = frame.grid ?? [];
    const babyai = typeof rows[0] === "string";
    const width = frame.width ?? (babyai ? rows[0].split(" ").length : rows[0]?.length ?? 0);
    const height = frame.height ?? rows.length;
    this.resize(width, height);
    if (babyai) this.drawBabyAI(frame, rows, width, height);
    else this.drawBaba(frame, rows);
  }

  resize(width, height) {
    const ratio = window.devicePixelRatio || 1;
    const w = width * TILE;
    const h = height * TILE;
    if (this.canvas.width !== w * ratio || this.canvas.height !== h * ratio) {
      this.canvas.width = w * ratio;
      this.canvas.height = h * ratio;
      // The CSS width caps it at the stage's width; the height follows the canvas's ratio.
      this.canvas.style.width = `${w}px`;
    }
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.ctx.fillStyle = "#101018";
    this.ctx.fillRect(0, 0, w, h);
  }

  // ----- BabyAI ---------------------------------------------------------------
  drawBabyAI(frame, rows, width, height) {
    const ctx = this.ctx;
    const view = frame.view ?? [];
    for (let y = 0; y < height; y++) {
      const cells = rows[y].split(" ");
      for (let x = 0; x < width; x++) {
        ctx.save();
        ctx.translate(x * TILE, y * TILE);
        drawBabyCell(ctx, cells[x] ?? ".");
        if (view[y] && view[y][x] === "1") {
          ctx.fillStyle = "rgba(255,255,255,0.13)";
          ctx.fillRect(0, 0, TILE, TILE);
        }
        ctx.strokeStyle = "rgba(255,255,255,0.06)";
        ctx.strokeRect(0.5, 0.5, TILE - 1, TILE - 1);
        ctx.restore();
      }
    }
    if (frame.agent) drawAgent(ctx, frame.agent);
    const carrying = frame.carrying ? ` · carrying a ${frame.carrying}` : "";
    this.caption.textContent = `Mission: ${frame.mission ?? ""}${carrying}`;
    this.extra.replaceChildren();
  }

  // ----- Baba Is AI -------------------------------------------------------------
  drawBaba(frame, rows) {
    const ctx = this.ctx;
    rows.forEach((row, y) =>
      row.forEach((stack, x) => {
        for (const token of stack) {
          ctx.save();
          ctx.translate(x * TILE, y * TILE);
          drawBabaToken(ctx, token);
          ctx.restore();
        }
      }),
    );
    this.caption.textContent = frame.notice ? frame.notice : `Layout ${frame.layout ?? 1}`;
    this.extra.replaceChildren(
      el("li", { className: "muted", text: "Active rules:" }),
      ...(frame.rules ?? []).map((rule) => el("li", { text: rule })),
    );
  }
}

function drawBabyCell(ctx, code) {
  const type = code[0];
  const color = COLORS[BABYAI_COLOR[code[1]]] ?? "#888";
  const state = code[2];
  const c = TILE / 2;
  ctx.fillStyle = "#1c1c24";
  ctx.fillRect(0, 0, TILE, TILE);
  if (type === "W") {
    ctx.fillStyle = "#6c6c74";
    ctx.fillRect(0, 0, TILE, TILE);
  } else if (type === "G") {
    ctx.fillStyle = "#3cb450";
    ctx.fillRect(2, 2, TILE - 4, TILE - 4);
  } else if (type === "L") {
    ctx.fillStyle = "#ff8a1c";
    ctx.fillRect(0, 0, TILE, TILE);
  } else if (type === "A") {
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(c, c, TILE * 0.3, 0, 2 * Math.PI);
    ctx.fill();
  } else if (type === "B") {
    ctx.strokeStyle = color;
    ctx.lineWidth = 4;
    ctx.strokeRect(TILE * 0.18, TILE * 0.18, TILE * 0.64, TILE * 0.64);
    ctx.beginPath();
    ctx.moveTo(TILE * 0.18, c);
    ctx.lineTo(TILE * 0.82, c);
    ctx.stroke();
  } else if (type === "K") {
    drawKey(ctx, color);
  } else if (type === "D") {
    drawDoor(ctx, color, state);
  } else if (type === "F") {
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.5;
    ctx.fillRect(1, 1, TILE - 2, TILE - 2);
    ctx.globalAlpha = 1;
  }
}

function drawKey(ctx, color) {
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 4;
  ctx.beginPath();
  ctx.arc(TILE * 0.35, TILE * 0.35, TILE * 0.14, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(TILE * 0.45, TILE * 0.45);
  ctx.lineTo(TILE * 0.78, TILE * 0.78);
  ctx.moveTo(TILE * 0.64, TILE * 0.78);
  ctx.lineTo(TILE * 0.78, TILE * 0.64);
  ctx.stroke();
}

function drawDoor(ctx, color, state) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 3;
  if (state === "o") {
    ctx.strokeRect(2, 2, TILE - 4, TILE - 4);
    return;
  }
  ctx.fillStyle = color;
  ctx.globalAlpha = state === "l" ? 0.9 : 0.45;
  ctx.fillRect(2, 2, TILE - 4, TILE - 4);
  ctx.globalAlpha = 1;
  ctx.strokeRect(2, 2, TILE - 4, TILE - 4);
  ctx.fillStyle = "#101018";
  if (state === "l") {
    ctx.fillRect(TILE * 0.3, TILE * 0.45, TILE * 0.4, TILE * 0.1);
  } else {
    ctx.beginPath();
    ctx.arc(TILE * 0.72, TILE * 0.5, TILE * 0.06, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawAgent(ctx, agent) {
  ctx.save();
  ctx.translate(agent.x * TILE + TILE / 2, agent.y * TILE + TILE / 2);
  ctx.rotate(DIR_ANGLE[agent.dir] ?? 0);
  ctx.fillStyle = "#ff3030";
  ctx.beginPath();
  ctx.moveTo(TILE * 0.36, 0);
  ctx.lineTo(-TILE * 0.3, -TILE * 0.26);
  ctx.lineTo(-TILE * 0.3, TILE * 0.26);
  ctx.closePath();
  ctx.fill();
  ctx.restore();
}

function drawBabaToken(ctx, token) {
  if (token === "border") {
    ctx.fillStyle = "#464650";
    ctx.fillRect(0, 0, TILE, TILE);
    return;
  }
  const [kind, value] = token.split(":");
  if (kind === "word") return drawWord(ctx, value);
  const color = COLORS[value] ?? "#ccc";
  ctx.fillStyle = color;
  ctx.strokeStyle = color;
  const c = TILE / 2;
  if (kind === "wall") {
    ctx.fillRect(4, 4, TILE - 8, TILE - 8);
  } else if (kind === "ball") {
    ctx.beginPath();
    ctx.arc(c, c, TILE * 0.28, 0, 2 * Math.PI);
    ctx.fill();
  } else if (kind === "key") {
    drawKey(ctx, color);
  } else if (kind === "door") {
    ctx.lineWidth = 4;
    ctx.strokeRect(TILE * 0.22, TILE * 0.12, TILE * 0.56, TILE * 0.8);
  } else {
    // baba: a round creature with two eyes
    ctx.beginPath();
    ctx.roundRect(TILE * 0.18, TILE * 0.24, TILE * 0.64, TILE * 0.6, 10);
    ctx.fill();
    ctx.fillStyle = "#101018";
    ctx.fillRect(TILE * 0.34, TILE * 0.4, 4, 5);
    ctx.fillRect(TILE * 0.58, TILE * 0.4, 4, 5);
  }
}

function drawWord(ctx, word) {
  const kind = NOUNS.has(word) ? "noun" : word === "is" ? "is" : "property";
  ctx.fillStyle = WORD_FILL[kind];
  ctx.beginPath();
  ctx.roundRect(3, 3, TILE - 6, TILE - 6, 6);
  ctx.fill();
  ctx.fillStyle = "#141414";
  ctx.font = `bold ${word.length > 4 ? 10 : 12}px monospace`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(word.toUpperCase(), TILE / 2, TILE / 2);
}
