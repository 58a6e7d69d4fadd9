// What the console edits, in its two modes. Both expose the same small
// interface to the console: step state per label, toggle, episode values,
// notes, and which steps "n"/"p" jump between.

/** The annotator's own work on an assignment (saved to the assignment). */
export class AnnotateWork {
  constructor(config, saver) {
    this.saver = saver;
    this.readOnly = config.submitted;
    const work = config.work;
    this.steps = new Map(Object.entries(work.steps).map(([i, s]) => [Number(i), { labels: new Set(s.labels), note: s.note }]));
    this.values = { ...work.values };
    this.note = work.note;
    this.position = work.position;
    const cues = config.cues;
    // "n"/"p" visit invalid answers and repeated actions (one action again, or a cycle again).
    this.targets = [...new Set([...cues.invalid, ...cues.repeated, ...cues.cycle])].sort((a, b) => a - b);
    for (const { path, value } of saver.restore()) this.apply(path, value);
  }

  /** Re-apply an entry that was pending from an earlier visit. */
  apply(path, value) {
    const [head, second, third] = path;
    if (head === "steps") this.steps.set(Number(second), { labels: new Set(value.labels), note: value.note });
    else if (head === "episode" && second === "values") this.storeValue(third, value);
    else if (head === "episode" && second === "note") this.note = value;
    else if (head === "position") this.position = value;
  }

  step(index) {
    return this.steps.get(index) ?? { labels: new Set(), note: "" };
  }

  labelState(index, code) {
    return { on: this.step(index).labels.has(code) };
  }

  toggle(index, code) {
    if (this.readOnly) return;
    const step = this.step(index);
    const labels = new Set(step.labels);
    labels.has(code) ? labels.delete(code) : labels.add(code);
    this.putStep(index, { labels, note: step.note });
  }

  setStepNote(index, note) {
    if (this.readOnly) return;
    this.putStep(index, { labels: this.step(index).labels, note });
  }

  putStep(index, step) {
    this.steps.set(index, step);
    this.saver.set(["steps", index], { labels: [...step.labels].sort(), note: step.note });
  }

  value(code) {
    return this.values[code] ?? null;
  }

  setValue(code, value) {
    if (this.readOnly) return;
    this.storeValue(code, value);
    this.saver.set(["episode", "values", code], value);
  }

  storeValue(code, value) {
    if (value === null) delete this.values[code];
    else this.values[code] = value;
  }

  setNote(note) {
    if (this.readOnly) return;
    this.note = note;
    this.saver.set(["episode", "note"], note);
  }

  moved(index) {
    if (this.readOnly || index === this.position) return;
    this.position = index;
    this.saver.set(["position"], index);
  }

  marked(index) {
    const step = this.steps.get(index);
    return Boolean(step && (step.labels.size || step.note));
  }
}

/** A reviewer's decisions on an episode, beside every annotator's submitted work. */
export class ReviewWork {
  constructor(config, saver) {
    this.saver = saver;
    this.readOnly = false;
    const review = config.review;
    this.coders = review.coders;
    this.complete = review.complete;
    this.decisions = new Map(Object.entries(review.decisions.steps).map(([i, d]) => [Number(i), { ...d }]));
    this.values = { ...review.decisions.values };
    this.disputedEpisode = new Set(review.disputed_episode);
    this.targets = Object.keys(review.disputed_steps).map(Number).sort((a, b) => a - b);
    this.note = "";
    this.position = 0;
    for (const { path, value } of saver.restore()) this.apply(path, value);
  }

  apply(path, value) {
    const [head, second, third] = path;
    if (head === "steps") this.storeDecision(Number(second), third, value);
    else if (head === "episode") this.storeValue(second, value);
  }

  flaggedBy(index, code) {
    return this.coders.filter((c) => (c.steps[index] ?? []).includes(code)).map((c) => c.name);
  }

  /** on: the final value (true, false, or null while undecided); decided: the reviewer set it. */
  labelState(index, code) {
    const decision = this.decisions.get(index)?.[code];
    const who = this.flaggedBy(index, code);
    const m = this.coders.length;
    let consensus = null;
    if (this.complete) consensus = who.length === m ? true : who.length === 0 ? false : null;
    const decided = decision !== undefined;
    return { on: decided ? decision : consensus, decided, who, disputed: who.length > 0 && who.length < m };
  }

  toggle(index, code) {
    this.setDecision(index, code, this.labelState(index, code).on !== true);
  }

  clearStep(index) {
    for (const code of Object.keys(this.decisions.get(index) ?? {})) this.setDecision(index, code, null);
  }

  setDecision(index, code, present) {
    this.storeDecision(index, code, present);
    this.saver.set(["steps", index, code], present);
  }

  storeDecision(index, code, present) {
    const decisions = this.decisions.get(index) ?? {};
    if (present === null) delete decisions[code];
    else decisions[code] = present;
    this.decisions.set(index, decisions);
  }

  value(code) {
    return this.values[code] ?? null;
  }

  setValue(code, value) {
    this.storeValue(code, value);
    this.saver.set(["episode", code], value);
  }

  storeValue(code, value) {
    if (value === null) delete this.values[code];
    else this.values[code] = value;
  }

  coderValues(code) {
    return this.coders.map((c) => ({ name: c.name, value: c.values[code] ?? null }));
  }

  stepNotes(index) {
    return this.coders.filter((c) => c.notes[index]).map((c) => ({ name: c.name, text: c.notes[index] }));
  }

  moved() {}

  marked(index) {
    return this.coders.some((c) => (c.steps[index] ?? []).length) || this.decisions.has(index);
  }
}
