// Playback and keyboard control of a replay scrubber, shared by the replay
// page and the leaderboard's compare page: Play/Pause at the speed chosen,
// j/k and the arrows step, space toggles, Home/End jump to the ends.

/**
 * @param {object} options
 * @param {{position: number, playing: boolean, timer: any}} options.state the page's state (playing and timer are set here)
 * @param {(position: number) => Promise<void>} options.show draws a position (clamped by the page)
 * @param {number} options.last the last position
 * @param {HTMLButtonElement} options.button the Play/Pause button
 * @param {HTMLInputElement | HTMLSelectElement} options.speed steps per second
 * @param {Record<string, () => void>} [options.keys] the page's own keys, e.g. {d: jumpToDivergence}
 */
export function createPlayback({ state, show, last, button, speed, keys = {} }) {
  function play() {
    if (state.position >= last) show(0);
    state.playing = true;
    button.textContent = "Pause";
    tick();
  }

  // The wait counts the time show() took, so slow frames don't slow the speed further.
  function tick() {
    if (!state.playing) return;
    if (state.position >= last) return stop();
    const started = performance.now();
    show(state.position + 1).then(() => {
      const wait = Math.max(0, 1000 / (Number(speed.value) || 5) - (performance.now() - started));
      state.timer = setTimeout(tick, wait);
    });
  }

  function stop() {
    state.playing = false;
    clearTimeout(state.timer);
    button.textContent = "Play";
  }

  function toggle() {
    state.playing ? stop() : play();
  }

  button.addEventListener("click", toggle);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    // The scrubber and the speed select keep their own arrow keys; j/k still step.
    if (event.target instanceof HTMLElement && event.target.matches("input[type=range], select")) {
      if (event.key !== "j" && event.key !== "k") return;
    }
    const moves = { j: 1, k: -1, ArrowRight: 1, ArrowLeft: -1 };
    if (event.key in moves) {
      event.preventDefault();
      stop();
      show(state.position + moves[event.key]);
    } else if (event.key === " ") {
      event.preventDefault();
      toggle();
    } else if (Object.hasOwn(keys, event.key)) {
      keys[event.key]();
    } else if (event.key === "Home") {
      show(0);
    } else if (event.key === "End") {
      show(last);
    }
  });

  return { play, stop, toggle };
}
