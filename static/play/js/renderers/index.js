// One renderer per kind of frame. Each is created with the stage element and
// the page config and has draw(frame, hud).
import { CrafterRenderer } from "./crafter.js";
import { GenericRenderer } from "./generic.js";
import { GridRenderer } from "./grid.js";
import { TerminalRenderer } from "./terminal.js";
import { TextRenderer } from "./text.js";

const KINDS = {
  crafter: CrafterRenderer,
  generic: GenericRenderer,
  grid: GridRenderer,
  terminal: TerminalRenderer,
  text: TextRenderer,
};

export function createRenderer(kind, stage, config) {
  const Kind = KINDS[kind] ?? GenericRenderer;
  stage.classList.add(`stage-${kind in KINDS ? kind : "generic"}`);
  return new Kind(stage, config);
}
