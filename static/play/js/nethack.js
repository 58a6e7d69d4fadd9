// NetHack's own input, as NAO and BrowserHack players type it:
// - `#` opens the extended-command prompt: type a few letters, Tab completes,
//   Enter sends (only commands the task accepts are offered);
// - Ctrl keys send the commands NetHack binds to them (^D kick, ^T teleport…)
//   when the task accepts them (the browser keeps some, e.g. Ctrl+T, Ctrl+W);
// - a count is typed as digits before a command (`20s` searches 20 turns):
//   NetHack reads each digit as a key, so each is a step; the line under the
//   game shows the count being typed;
// - `?` shows these keys (the game's own help is not in the action set).
import { el, keyName } from "./dom.js";

// NetHack 3.6's extended commands (its `#` list); offered when the task accepts them.
const EXTENDED = new Set(
  ("adjust annotate apply attributes autopickup call cast chat close conduct dip down drop droptype eat " +
    "engrave enhance exploremode fight fire force glance history inventory inventtype invoke jump kick known " +
    "knownclass look loot monster name offer open options overview pay pickup pray prevmsg puton quaff quit " +
    "quiver read redraw remove ride rub save search seeall seearmor seegold seerings seetools seeweapons sit " +
    "spells swap takeoff takeoffall teleport terrain throw tip travel turn twoweapon untrap up vanquished " +
    "version wait wear whatdoes whatis wield wipe zap").split(" "),
);
// Ctrl+key -> NetHack's command (nle.nethack.Command's control characters).
const CTRL = { d: "kick", t: "teleport", x: "attributes", o: "overview", r: "redraw", p: "prevmsg", a: "redo" };
const MAX_SHOWN = 8;

export class NetHackInput {
  /**
   * @param {HTMLElement} anchor  the prompts go after it
   * @param {object} hooks  send(action, input, source), actions() (the accepted list now),
   *   focusGame(), bindings (the page's key bindings)
   */
  constructor(anchor, hooks) {
    this.hooks = hooks;
    this.count = "";
    this.prompt = this.buildPrompt();
    this.help = this.buildHelp();
    // Its own line: the notice line is cleared by every frame.
    this.countLine = el("p", { className: "notice-line", attrs: { id: "nethack-count", "aria-live": "polite" } });
    anchor.after(this.countLine, this.prompt, this.help);
  }

  /** Extended commands the task accepts, in the game's order. */
  extendedCommands() {
    return this.hooks.actions().filter((action) => EXTENDED.has(action));
  }

  /** A key on the game (not in a text field): true when handled here. */
  keydown(event) {
    if (event.altKey || event.metaKey) return false;
    if (event.ctrlKey) return this.ctrlKey(event);
    if (event.key === "#") return this.openPrompt(), true;
    if (event.key === "?") return this.toggleHelp(), true;
    if (event.key === "Escape" && !this.help.hidden) return this.toggleHelp(), true;
    return false;
  }

  ctrlKey(event) {
    const action = CTRL[event.key.toLowerCase()];
    if (!action || !this.hooks.actions().includes(action)) return false;
    this.hooks.send(action, `^${event.key.toUpperCase()}`, "key");
    return true;
  }

  /** After each action sent: a digit extends the count, anything else ends it. */
  sent(action) {
    if (/^[0-9]$/.test(action) && (this.count || action !== "0")) {
      this.count += action;
      this.countLine.textContent = `Count: ${this.count} (now the command)`;
    } else if (this.count) {
      this.countLine.textContent = `${this.count} × ${action}`;
      this.count = "";
    } else {
      this.countLine.textContent = "";
    }
  }

  // ----- the extended-command prompt ---------------------------------------------------------
  buildPrompt() {
    this.input = el("input", {
      attrs: {
        id: "extcmd-input",
        role: "combobox",
        "aria-autocomplete": "list",
        "aria-controls": "extcmd-list",
        "aria-expanded": "false",
        autocomplete: "off",
        spellcheck: "false",
      },
    });
    this.list = el("ul", { className: "extcmd-list", attrs: { id: "extcmd-list", role: "listbox" } });
    const label = el("label", { attrs: { for: "extcmd-input" } }, [el("span", { className: "prompt", text: "#" })]);
    this.status = el("p", { className: "notice-line", attrs: { id: "extcmd-status", role: "status", "data-kind": "error" } });
    const box = el("div", { className: "extcmd", attrs: { id: "extcmd", role: "dialog", "aria-label": "Extended command" } }, [
      el("p", { className: "muted small", text: "Extended command: Tab completes, Enter sends, Esc cancels." }),
      el("div", { className: "extcmd-line" }, [label, this.input]),
      this.list,
      this.status,
    ]);
    box.hidden = true;
    this.input.addEventListener("input", () => this.showMatches());
    this.input.addEventListener("keydown", (event) => this.promptKey(event));
    this.input.addEventListener("blur", () => setTimeout(() => this.closePrompt(false), 150));
    return box;
  }

  openPrompt() {
    this.prompt.hidden = false;
    this.input.value = "";
    this.status.textContent = "";
    this.showMatches();
    this.input.focus();
  }

  closePrompt(refocus = true) {
    if (this.prompt.hidden) return;
    this.prompt.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    if (refocus) this.hooks.focusGame();
  }

  matches() {
    const typed = this.input.value.trim().toLowerCase();
    return this.extendedCommands().filter((name) => name.startsWith(typed));
  }

  showMatches() {
    const matches = this.matches();
    this.list.replaceChildren(
      ...matches.slice(0, MAX_SHOWN).map((name, n) => {
        const item = el("li", { text: `#${name}`, attrs: { role: "option", "data-command": name, "aria-selected": String(n === 0) } });
        item.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the input's focus
          this.input.value = name;
          this.submitPrompt();
        });
        return item;
      }),
      ...(matches.length > MAX_SHOWN ? [el("li", { className: "muted", text: `… ${matches.length - MAX_SHOWN} more` })] : []),
    );
    if (!matches.length) this.list.append(el("li", { className: "muted", text: "no such command in this game" }));
    this.input.setAttribute("aria-expanded", String(matches.length > 0));
  }

  promptKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      this.closePrompt();
    } else if (event.key === "Tab") {
      event.preventDefault();
      const matches = this.matches();
      if (matches.length) this.input.value = commonPrefix(matches);
      this.showMatches();
    } else if (event.key === "Enter") {
      event.preventDefault();
      this.submitPrompt();
    }
  }

  submitPrompt() {
    const typed = this.input.value.trim().toLowerCase();
    const matches = this.matches();
    const command = matches.includes(typed) ? typed : matches.length === 1 ? matches[0] : null;
    if (!command) {
      const options = matches.slice(0, 5).map((m) => "#" + m).join(", ");
      this.status.textContent = matches.length ? `#${typed}: which one? ${options}` : `#${typed}: no such command in this game`;
      return;
    }
    this.closePrompt();
    this.hooks.send(command, `#${command}`, "text");
  }

  // ----- help ------------------------------------------------------------------------------------
  buildHelp() {
    const box = el("div", { className: "nethack-help", attrs: { id: "nethack-help", role: "dialog", "aria-label": "NetHack keys" } });
    box.hidden = true;
    return box;
  }

  toggleHelp() {
    if (!this.help.hidden) {
      this.help.hidden = true;
      this.hooks.focusGame();
      return;
    }
    const accepted = this.hooks.actions();
    const ctrl = Object.entries(CTRL).filter(([, action]) => accepted.includes(action));
    this.help.replaceChildren(
      el("h2", { text: "Keys (? or Esc closes)" }),
      el("p", { text: "Letters, digits and symbols are NetHack's own keys; in a menu or an item prompt a letter picks that letter." }),
      el("p", { text: "Counts: type digits, then the command (20s searches 20 turns)." }),
      el("p", {}, [
        el("kbd", { text: "#" }),
        ` extended command, with completion: ${this.extendedCommands().map((c) => "#" + c).join(" ")}`,
      ]),
      ctrl.length
        ? el("p", {}, ctrl.flatMap(([key, action]) => [el("kbd", { text: `Ctrl+${key.toUpperCase()}` }), ` ${action}  `]))
        : null,
      el("ul", { className: "nethack-help-keys" }, this.hooks.bindings.map((b) => el("li", {}, [el("kbd", { text: keyName(b.key) }), ` ${b.label}`]))),
    );
    this.help.hidden = false;
  }
}

function commonPrefix(words) {
  let prefix = words[0];
  for (const word of words) while (!word.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}
