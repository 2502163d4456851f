// Analysis panel of the case page: job states and running times every few seconds while anything is
// pending, crash table sorting. New crashes and findings arrive with the live page (live.js), which swaps
// the whole panel when a job changes state. The page works without this file.
(() => {
  "use strict";
  const POLL_MS = 2500;
  let timer = null;

  const panel = () => document.getElementById("analysis");

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  function applyStatus(root, data) {
    for (const item of data.uploads) {
      const row = root.querySelector(`tr[data-upload="${CSS.escape(item.id)}"]`);
      if (!row) continue;
      const state = row.querySelector(".js-state");
      if (state) {
        state.textContent = item.label;
        state.className = `state job-${item.state} js-state`;
      }
      const elapsed = row.querySelector(".js-elapsed");
      // The server words it in the reader's language ("240 ms", "4.2 s", "1:05").
      if (elapsed) elapsed.textContent = item.elapsed_text !== undefined ? item.elapsed_text : duration(item.elapsed);
      const error = row.querySelector(".js-error");
      if (error && item.error) error.textContent = item.error;
      const rerun = row.querySelector(".js-rerun");
      if (rerun) rerun.disabled = item.state === "queued" || item.state === "running";
    }
  }

  async function poll() {
    timer = null;
    const root = panel();
    if (!root || document.hidden) return schedule();
    try {
      const response = await fetch(root.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        applyStatus(root, data);
        root.dataset.pending = data.pending ? "1" : "0";
      }
    } catch (error) {
      // Network hiccup: try again at the next tick.
    }
    schedule();
  }

  function schedule() {
    const root = panel();
    if (!root || timer !== null) return;
    const live = root.querySelector(".js-live");
    const pending = root.dataset.pending === "1";
    if (live) live.hidden = !pending;
    if (pending) timer = window.setTimeout(poll, POLL_MS);
  }

  function sortCrashes(button) {
    const table = button.closest("table");
    const ascending = button.dataset.order !== "asc";
    button.dataset.order = ascending ? "asc" : "desc";
    const bodies = Array.from(table.querySelectorAll("tbody.crash"));
    // Unknown times ("") always last, whatever the direction.
    bodies.sort((a, b) => {
      const x = a.dataset.time;
      const y = b.dataset.time;
      if (!x || !y) return (x ? 0 : 1) - (y ? 0 : 1);
      return ascending ? x.localeCompare(y) : y.localeCompare(x);
    });
    for (const body of bodies) table.appendChild(body);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".js-sort-time");
    if (button) sortCrashes(button);
  });

  // Uploads finishing elsewhere (another tab, the upload page) start the polling again when shown, and
  // a panel swapped in by the live page may have jobs pending.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) schedule();
  });
  document.addEventListener("live:updated", schedule);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", schedule);
  } else {
    schedule();
  }
})();
