// Any frame, as indented JSON (the toy game; a game without a renderer yet).
import { el } from "../dom.js";

export class GenericRenderer {
  constructor(stage) {
    this.pre = el("pre", { className: "generic-frame" });
    stage.append(this.pre);
  }

  draw(frame) {
    this.pre.textContent = JSON.stringify(frame, null, 1);
  }
}
