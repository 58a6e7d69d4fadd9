// The HUD: steps, progression (x100), return, then each game's own numbers
// (Crafter achievements, NetHack depth and level, Baba Is AI rules...).
import { clear, el, percent } from "./dom.js";

const FIRST = ["steps", "progression", "return"];
const HIDDEN = new Set(["done", "end_reason"]);
const LABELS = {
  steps: "Steps",
  progression: "Progression",
  return: "Return",
  depth: "Depth (Dlvl)",
  experience_level: "Level (Xp)",
  hp: "HP",
  hp_max: "Max HP",
  turn: "Turn",
  achievements_unlocked: "Achievements unlocked",
  achievements: "Achievements",
  max_steps: "Step limit",
  max_score: "Max score",
  layout_steps: "Steps in this layout",
};

export function drawHud(target, hud) {
  clear(target);
  if (!hud) return;
  const keys = [...FIRST.filter((k) => k in hud), ...Object.keys(hud).filter((k) => !FIRST.includes(k))];
  for (const key of keys) {
    if (HIDDEN.has(key)) continue;
    const value = hud[key];
    const term = el("dt", { text: LABELS[key] ?? capitalize(key.replaceAll("_", " ")) });
    target.append(term, el("dd", { attrs: { "data-hud": key } }, [formatValue(key, value)]));
  }
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function formatValue(key, value) {
  if (key === "progression") return el("span", { text: `${percent(value)} / 100` });
  if (key === "return") return el("span", { text: Number(value).toFixed(2) });
  if (Array.isArray(value)) {
    if (!value.length) return el("span", { className: "muted", text: "none" });
    return el("ul", { className: "chips" }, value.map((item) => el("li", { text: String(item).replaceAll("_", " ") })));
  }
  if (value === null || value === undefined) return el("span", { className: "muted", text: "–" });
  if (typeof value === "object") return el("span", { text: JSON.stringify(value) });
  if (typeof value === "number" && !Number.isInteger(value)) return el("span", { text: value.toFixed(3) });
  return el("span", { text: String(value) });
}
