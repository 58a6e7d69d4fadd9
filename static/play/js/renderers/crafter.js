// Crafter with its own textures (served from the crafter package's assets as
// static/crafter/<name>.png). The frame carries the 9x7 map window as texture
// ids (``materials`` and ``objects``, row-major from the north-west corner,
// -1 for none), the ``textures`` file names the ids index, ``vitals``,
// ``items`` [[texture id, count]...] and ``daylight`` in [0, 1].
import { el } from "../dom.js";

const TILE = 56;
const VITALS = ["health", "food", "drink", "energy"];
const VITAL_MAX = 9;

export class CrafterRenderer {
  constructor(stage, config) {
    this.assets = config.assets ?? "/static/crafter/";
    this.canvas = el("canvas", { className: "crafter-canvas", attrs: { role: "img", "aria-label": "Crafter" } });
    this.vitals = el("div", { className: "vitals" });
    this.items = el("ul", { className: "items" });
    stage.append(this.canvas, this.vitals, this.items);
    this.ctx = this.canvas.getContext("2d");
    this.ctx.imageSmoothingEnabled = false;
    this.images = new Map();
    this.last = null;
  }

  image(name) {
    let image = this.images.get(name);
    if (!image) {
      image = new Image();
      image.src = `${this.assets}${name}`;
      image.addEventListener("load", () => this.last && this.draw(this.last));
      this.images.set(name, image);
    }
    return image;
  }

  draw(frame) {
    this.last = frame;
    const [width, height] = frame.view ?? [9, 7];
    if (this.canvas.width !== width * TILE) {
      this.canvas.width = width * TILE;
      this.canvas.height = height * TILE;
    }
    const ctx = this.ctx;
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, width * TILE, height * TILE);
    const textures = frame.textures ?? [];
    for (let i = 0; i < width * height; i++) {
      const x = (i % width) * TILE;
      const y = Math.floor(i / width) * TILE;
      for (const id of [frame.materials?.[i], frame.objects?.[i]]) {
        if (id === undefined || id < 0 || !textures[id]) continue;
        const image = this.image(textures[id]);
        if (image.complete && image.naturalWidth) ctx.drawImage(image, x, y, TILE, TILE);
      }
    }
    this.shade(frame, width * TILE, height * TILE);
    this.drawVitals(frame.vitals ?? {});
    this.drawItems(frame.items ?? [], textures);
  }

  shade(frame, w, h) {
    const dark = 1 - Math.max(0, Math.min(1, frame.daylight ?? 1));
    const sleeping = frame.player?.sleeping;
    const alpha = Math.min(0.85, dark * 0.7 + (sleeping ? 0.35 : 0));
    if (alpha > 0.01) {
      this.ctx.fillStyle = `rgba(0, 0, 20, ${alpha})`;
      this.ctx.fillRect(0, 0, w, h);
    }
  }

  drawVitals(vitals) {
    this.vitals.replaceChildren(
      ...VITALS.map((name) => {
        const value = Number(vitals[name] ?? 0);
        const bar = el("span", { className: `bar ${name}` });
        bar.style.width = `${(100 * Math.max(0, Math.min(VITAL_MAX, value))) / VITAL_MAX}%`;
        return el("div", { className: "vital", title: `${name}: ${value}/${VITAL_MAX}` }, [
          el("span", { className: "vital-name", text: name }),
          el("span", { className: "track" }, [bar]),
          el("span", { className: "vital-value", text: String(value) }),
        ]);
      }),
    );
  }

  drawItems(items, textures) {
    const held = items.filter(([id, count]) => count > 0 && !VITALS.includes(stem(textures[id])));
    if (!held.length) {
      this.items.replaceChildren(el("li", { className: "muted", text: "Inventory: empty" }));
      return;
    }
    this.items.replaceChildren(
      ...held.map(([id, count]) => {
        const name = stem(textures[id]);
        const icon = el("img", { attrs: { src: `${this.assets}${textures[id]}`, alt: name, width: "28", height: "28" } });
        return el("li", { title: name }, [icon, el("span", { text: `${name.replaceAll("_", " ")} ×${count}` })]);
      }),
    );
  }
}

function stem(file) {
  return String(file ?? "").replace(/\.png$/, "");
}
