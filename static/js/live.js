// A live case page: poll the case's version (a 304 while nothing changed), and when it moved, fetch the
// page once and swap every [data-live] section for its fresh render. What a person is typing, which
// sections they opened and where the focus is survive the swap. The page works without this file.
(() => {
  "use strict";
  const root = document.getElementById("live-root");
  if (!root || !window.fetch || !window.DOMParser) return;

  const POLL_MS = 2000;
  const MAX_BACKOFF_MS = 30000;
  let version = root.dataset.liveVersion;
  let delay = POLL_MS;
  let timer = null;
  let busy = false;
  let stopped = false;

  function fieldKey(field) {
    const form = field.form;
    return (form ? form.getAttribute("action") : "") + "|" + (field.name || field.id);
  }

  // A section someone opened or closed stays so; known by its id, else by its summary's words.
  function detailsKey(details) {
    const summary = details.querySelector("summary");
    return details.id || (summary ? summary.textContent.trim() : "");
  }

  // What the person changed in the old section: values, checks, the focused field and its selection.
  function remember(region) {
    const state = { values: new Map(), open: new Map(), focus: null };
    for (const field of region.querySelectorAll("textarea, input, select")) {
      if (field.type === "hidden" || field.type === "submit" || !(field.name || field.id)) continue;
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) state.values.set(fieldKey(field) + "|" + field.value, field.checked);
      } else if (field.value !== field.defaultValue) {
        state.values.set(fieldKey(field), field.value);
      }
    }
    for (const details of region.querySelectorAll("details")) state.open.set(detailsKey(details), details.open);
    const active = document.activeElement;
    if (active && region.contains(active) && (active.name || active.id)) {
      state.focus = { key: fieldKey(active), start: active.selectionStart, end: active.selectionEnd };
    }
    return state;
  }

  function restore(region, state) {
    for (const field of region.querySelectorAll("textarea, input, select")) {
      if (field.type === "checkbox" || field.type === "radio") {
        const key = fieldKey(field) + "|" + field.value;
        if (state.values.has(key)) field.checked = state.values.get(key);
      } else if (state.values.has(fieldKey(field))) {
        field.value = state.values.get(fieldKey(field));
      }
      if (state.focus && fieldKey(field) === state.focus.key) {
        field.focus();
        if (state.focus.start !== null && state.focus.start !== undefined && field.setSelectionRange) {
          try {
            field.setSelectionRange(state.focus.start, state.focus.end);
          } catch (error) {
            // fields without a text selection
          }
        }
      }
    }
    for (const details of region.querySelectorAll("details")) {
      const key = detailsKey(details);
      if (state.open.has(key)) details.open = state.open.get(key);
    }
  }

  function announce() {
    const status = document.getElementById("live-status");
    if (!status) return;
    status.textContent = status.dataset.textUpdated || "";
    window.setTimeout(() => { status.textContent = ""; }, 4000);
  }

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(window.location.pathname + window.location.search, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { "X-Live-Refresh": "1", Accept: "text/html" },
      });
      if (!response.ok) return;
      // Same-origin HTML rendered (and escaped) by Django; DOMParser runs no scripts.
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of document.querySelectorAll("[data-live][id]")) {
        const replacement = fresh.getElementById(region.id);
        if (!replacement) continue;
        if (replacement.innerHTML === region.innerHTML) continue;
        const state = remember(region);
        region.innerHTML = replacement.innerHTML;
        restore(region, state);
      }
      const freshRoot = fresh.getElementById("live-root");
      if (freshRoot) version = freshRoot.dataset.liveVersion;
      document.title = fresh.title || document.title;
      announce();
      document.dispatchEvent(new CustomEvent("live:updated"));
    } catch (error) {
      // keep the page as it is; the next poll tries again
    } finally {
      busy = false;
    }
  }

  async function poll() {
    timer = null;
    if (stopped) return;
    if (document.hidden) return;  // resumed by visibilitychange
    try {
      const response = await fetch(root.dataset.liveUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { "If-None-Match": '"' + version + '"', Accept: "application/json" },
      });
      if (response.status === 200) {
        const data = await response.json();
        if (String(data.version) !== String(version)) await refresh();
        delay = POLL_MS;
      } else if (response.status === 304) {
        delay = POLL_MS;
      } else if ([401, 403, 404].includes(response.status) || response.redirected) {
        stopped = true;  // signed out, or the case is no longer visible: stop asking
        return;
      } else {
        delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      }
    } catch (error) {
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);  // offline or server restarting: back off
    }
    schedule();
  }

  function schedule() {
    if (timer === null && !stopped && !document.hidden) timer = window.setTimeout(poll, delay);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      delay = POLL_MS;
      if (timer === null) poll();
    }
  });
  // Other scripts (the upload page when a file is stored) ask for a refresh at once.
  document.addEventListener("live:refresh", () => refresh());
  schedule();
})();
