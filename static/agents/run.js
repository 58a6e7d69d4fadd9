// The run page: progress bars and counts refreshed while the run is running.
const box = document.getElementById("run");
const POLL_MS = 2000;

function draw(progress) {
  document.getElementById("run-status").textContent = progress.status;
  document.getElementById("run-done").textContent = String(progress.done);
  document.getElementById("run-cost").textContent = `$${progress.cost.toFixed(4)}`;
  for (const env of progress.envs) {
    const row = box.querySelector(`.bar-row[data-env="${CSS.escape(env.env)}"]`);
    if (!row) continue;
    row.querySelector("progress").value = env.finished + env.failed;
    const failed = env.failed ? ` (${env.failed} failed)` : "";
    const playing = env.playing ? ` · ${env.playing} playing` : "";
    row.querySelector(".bar-text").textContent = `${env.finished + env.failed} / ${env.planned}${failed}${playing}`;
  }
}

async function poll() {
  try {
    const response = await fetch(box.dataset.progressUrl);
    if (response.ok) {
      const progress = await response.json();
      draw(progress);
      if (progress.status !== "running") {
        window.location.reload(); // the results table is rendered by the server
        return;
      }
    }
  } catch {
    /* try again on the next tick */
  }
  setTimeout(poll, POLL_MS);
}

if (box.dataset.status === "running") setTimeout(poll, POLL_MS);
