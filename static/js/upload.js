// The case's files (upload page and the case page's uploads panel): copy buttons for hashes, the focus kept
// across live refreshes. The upload page's tus 1.0 client: chunked PATCH with a per-chunk SHA-256
// (crypto.subtle), pause, resume and cancel, resume after a reload (upload URLs remembered in localStorage)
// or of an abandoned upload listed below, retries after a lost connection, progress announced at
// milestones. No third-party code; no inline script (the page's configuration is in data attributes).
"use strict";

(function () {
  // -- wherever files are listed -------------------------------------------------------------------------

  function revealScriptOnly() {
    for (const element of document.querySelectorAll(".js-only[hidden]")) {
      if (!element.closest("[data-active-upload]")) element.hidden = false;
    }
  }

  // One polite region for short confirmations ("Copied."), made once so that screen readers know it.
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  document.body.appendChild(status);

  function tell(text) {
    status.textContent = "";
    window.setTimeout(() => {
      status.textContent = text;
    }, 50);
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const copied = button.dataset.copied || "✓";
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      const label = button.textContent;
      button.textContent = copied;
      window.setTimeout(() => {
        button.textContent = label;
      }, 2000);
      tell(copied);
    } catch (error) {
      // No clipboard (an old browser, a page not served over HTTPS): show and select the text instead.
      const details = source.closest("details");
      if (details) details.open = true;
      const range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      tell(button.dataset.copyFailed || "");
    }
  });

  // A live refresh replaces the list: a keyboard user keeps their place on the control they were on.
  let lastFocus = null;
  document.addEventListener("focusin", (event) => {
    const target = event.target;
    lastFocus = target.id && target.closest("[data-live]") ? target.id : null;
  });
  document.addEventListener("live:updated", () => {
    revealScriptOnly();
    markActive();
    const active = document.activeElement;
    if (lastFocus && (!active || active === document.body)) {
      const again = document.getElementById(lastFocus);
      if (again) again.focus();
    }
  });

  // Rows of uploads this window is sending: their Resume and Cancel are the queue's own.
  const activeIds = new Set();
  function markActive() {
    for (const row of document.querySelectorAll("[data-manage]")) {
      if (activeIds.has(row.dataset.manage)) {
        row.setAttribute("data-active-upload", "");
        row.hidden = true;
      } else if (row.hasAttribute("data-active-upload")) {
        row.removeAttribute("data-active-upload");
        row.hidden = false;
      }
    }
  }

  revealScriptOnly();

  // -- the upload page ------------------------------------------------------------------------------------

  const stringsElement = document.getElementById("upload-strings");
  const strings = stringsElement ? JSON.parse(stringsElement.textContent) : {};

  function t(key, values) {
    let text = strings[key] || key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("%(" + name + ")s").join(String(value));
    }
    return text;
  }

  // Cancelling a listed upload (a form, so it also works without this file) asks first.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form.js-confirm-cancel");
    if (form && strings.cancel_confirm && !window.confirm(t("cancel_confirm"))) event.preventDefault();
  });

  const app = document.getElementById("upload-app");
  if (!app) return;

  const cfg = {
    endpoint: app.dataset.endpoint,
    csrf: app.dataset.csrf,
    chunkSize: parseInt(app.dataset.chunkSize, 10) || 64 * 1024 * 1024,
    maxSize: parseInt(app.dataset.maxSize, 10),
    caseNumber: app.dataset.case,
  };
  const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 30000];
  const queue = [];
  let running = false;
  const announcer = document.getElementById("upload-announcer");
  const alerter = document.getElementById("upload-alert");

  // Screen readers hear milestones, never every progress event.
  function announce(text) {
    if (announcer) announcer.textContent = text;
  }

  function alertNow(text) {
    if (!alerter) return;
    alerter.textContent = "";
    window.setTimeout(() => {
      alerter.textContent = text;
    }, 50);
  }

  function formatBytes(bytes) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
  }

  function formatDuration(seconds) {
    if (!isFinite(seconds)) return "…";
    seconds = Math.max(0, Math.round(seconds));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
  }

  function storageKey(file) {
    return ["tus", cfg.caseNumber, file.name, file.size, file.lastModified].join("::");
  }

  function uploadId(url) {
    return url ? url.replace(/\/$/, "").split("/").pop() : null;
  }

  function base64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function utf8Base64(text) {
    return base64(new TextEncoder().encode(text));
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // The "same file as ..." note of a stored copy, once the live list shows its row (the server decides
  // what a duplicate is: only it has the whole file's SHA-256).
  function duplicateNote(id, timeout) {
    const read = () => {
      const note = document.getElementById("dup-" + id);
      if (!note) return null;
      const copy = note.cloneNode(true);
      for (const badge of copy.querySelectorAll(".dup-badge")) badge.remove();
      return copy.textContent.replace(/\s+/g, " ").trim();
    };
    return new Promise((resolve) => {
      const found = read();
      if (found) {
        resolve(found);
        return;
      }
      const check = () => {
        const note = read();
        if (note) finish(note);
      };
      const timer = setTimeout(() => finish(read()), timeout);
      function finish(note) {
        clearTimeout(timer);
        document.removeEventListener("live:updated", check);
        resolve(note);
      }
      document.addEventListener("live:updated", check);
    });
  }

  // One HTTP request; resolves with the XHR whatever the status, rejects on a network error or abort.
  function request(method, url, headers, body, onProgress, item) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      if (method !== "HEAD") xhr.setRequestHeader("X-CSRFToken", cfg.csrf);
      for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
      if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new Error("network"));
      xhr.onabort = () => reject(new Error("abort"));
      if (item) item.xhr = xhr;
      xhr.send(body === undefined ? null : body);
    });
  }

  function reason(xhr) {
    try {
      const data = JSON.parse(xhr.responseText);
      if (data && data.detail) return data.detail;
    } catch (error) {
      // not JSON: fall through to the status line
    }
    return xhr.status + " " + xhr.statusText;
  }

  class Item {
    constructor(file) {
      this.file = file;
      this.key = storageKey(file);
      this.url = localStorage.getItem(this.key);
      this.offset = 0;
      this.paused = false;
      this.cancelled = false;
      this.finished = false;
      this.xhr = null;
      this.quarter = -1;
      this.render();
      this.track();
    }

    render() {
      const fragment = document.getElementById("queue-item").content.cloneNode(true);
      this.el = fragment.querySelector(".qitem");
      this.el.querySelector(".qname").textContent = this.file.name;
      this.el.querySelector(".qsize").textContent = formatBytes(this.file.size);
      for (const label of this.el.querySelectorAll(".qlabel")) label.textContent = " " + this.file.name;
      this.bar = this.el.querySelector("progress");
      this.bar.setAttribute("aria-label", this.file.name);
      this.status = this.el.querySelector(".qstatus");
      this.pauseButton = this.el.querySelector(".qpause");
      this.resumeButton = this.el.querySelector(".qresume");
      this.cancelButton = this.el.querySelector(".qcancel");
      this.pauseButton.addEventListener("click", () => this.pause());
      this.resumeButton.addEventListener("click", () => this.resume());
      this.cancelButton.addEventListener("click", () => this.cancel());
      document.getElementById("queue").appendChild(this.el);
      this.say(t("queued"));
    }

    // While this window sends the upload, its row below loses its own Resume and Cancel.
    track() {
      const id = uploadId(this.url);
      if (id && !this.finished) activeIds.add(id);
      else if (id) activeIds.delete(id);
      markActive();
    }

    say(text, kind) {
      this.status.textContent = text;
      this.el.classList.toggle("qerror", kind === "error");
      this.el.classList.toggle("qdone", kind === "done" || kind === "duplicate");
      this.el.classList.toggle("qduplicate", kind === "duplicate");
    }

    showProgress(sent) {
      const percent = this.file.size ? Math.floor((sent / this.file.size) * 100) : 100;
      this.bar.value = percent;
      this.bar.textContent = percent + "%";
      this.el.dataset.percent = String(percent);
      const quarter = Math.floor(percent / 25);
      if (quarter > this.quarter && percent < 100) {
        this.quarter = quarter;
        announce(t("progress", { file: this.file.name, percent: percent + " %" }));
      }
      const elapsed = (performance.now() - this.startedAt) / 1000;
      const speed = elapsed > 0 ? (sent - this.startOffset) / elapsed : 0;
      const left = speed > 0 ? (this.file.size - sent) / speed : Infinity;
      this.say(
        t("uploading", {
          done: formatBytes(sent),
          total: formatBytes(this.file.size),
          speed: formatBytes(speed),
          left: formatDuration(left),
        }),
      );
    }

    stop(text, kind) {
      const hadFocus = this.el.contains(document.activeElement);
      this.finished = true;
      this.pauseButton.hidden = true;
      this.resumeButton.hidden = true;
      this.cancelButton.hidden = true;
      this.say(text, kind);
      this.track();
      // The button pressed is gone: the focus goes to what happened, not to the top of the page.
      if (hadFocus) this.status.focus();
    }

    pause() {
      this.paused = true;
      if (this.xhr) this.xhr.abort();
      this.pauseButton.hidden = true;
      this.resumeButton.hidden = false;
      this.resumeButton.focus();
      const text = t("paused", { done: formatBytes(this.offset), total: formatBytes(this.file.size) });
      this.say(text);
      announce(this.file.name + ": " + text);
    }

    resume() {
      this.paused = false;
      this.pauseButton.hidden = false;
      this.resumeButton.hidden = true;
      this.pauseButton.focus();
      this.say(t("resuming", { done: formatBytes(this.offset) }));
      enqueue(this);
    }

    async cancel() {
      if (!window.confirm(t("cancel_confirm"))) return;
      this.cancelled = true;
      if (this.xhr) this.xhr.abort();
      if (this.url) {
        try {
          await request("DELETE", this.url);
        } catch (error) {
          // the server drops abandoned uploads after their expiry anyway
        }
      }
      localStorage.removeItem(this.key);
      this.stop(t("cancelled"));
      announce(this.file.name + ": " + t("cancelled"));
      refreshList();
    }

    // Where the server stands: null when the remembered upload is gone (expired, cancelled).
    async serverOffset() {
      const xhr = await request("HEAD", this.url);
      if (xhr.status === 200) return parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
      if (xhr.status === 404 || xhr.status === 410) return null;
      throw Object.assign(new Error("refused"), { xhr });
    }

    async create() {
      const xhr = await request("POST", cfg.endpoint, {
        "Upload-Length": String(this.file.size),
        "Upload-Metadata": "filename " + utf8Base64(this.file.name),
      });
      if (xhr.status !== 201) throw Object.assign(new Error("refused"), { xhr });
      this.url = xhr.getResponseHeader("Location");
      localStorage.setItem(this.key, this.url);
      this.offset = 0;
      this.track();
    }

    async sendChunk() {
      const end = Math.min(this.offset + cfg.chunkSize, this.file.size);
      const buffer = await this.file.slice(this.offset, end).arrayBuffer();
      const headers = { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(this.offset) };
      if (window.crypto && window.crypto.subtle) {
        headers["Upload-Checksum"] = "sha256 " + base64(await window.crypto.subtle.digest("SHA-256", buffer));
      }
      const base = this.offset;
      const xhr = await request("PATCH", this.url, headers, buffer, (loaded) => this.showProgress(base + loaded), this);
      if (xhr.status === 204) {
        this.offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
        return;
      }
      if (xhr.status === 460) {
        this.say(t("checksum"));
        return; // same offset: the chunk is sent again
      }
      if (xhr.status === 409) {
        const offset = await this.serverOffset();
        if (offset !== null) {
          this.offset = offset;
          return;
        }
      }
      throw Object.assign(new Error("refused"), { xhr });
    }

    async run() {
      if (this.file.size > cfg.maxSize) {
        this.stop(t("too_large", { max: formatBytes(cfg.maxSize) }), "error");
        alertNow(this.file.name + ": " + t("too_large", { max: formatBytes(cfg.maxSize) }));
        return;
      }
      let attempt = 0;
      while (!this.finished && !this.paused && !this.cancelled) {
        try {
          if (this.url) {
            const offset = await this.serverOffset();
            if (offset === null) {
              localStorage.removeItem(this.key);
              this.url = null;
            } else {
              this.offset = offset;
            }
          }
          if (!this.url) await this.create();
          if (this.quarter < 0) announce(t("started", { file: this.file.name }));
          this.startedAt = performance.now();
          this.startOffset = this.offset;
          while (this.offset < this.file.size && !this.paused && !this.cancelled) {
            await this.sendChunk();
            attempt = 0;
            this.showProgress(this.offset);
          }
          if (this.offset >= this.file.size) await this.done();
          return;
        } catch (error) {
          if (this.paused || this.cancelled) return;
          if (error.xhr) {
            this.fail(error.xhr);
            return;
          }
          // A lost connection: wait, then ask the server where to continue.
          const delay = RETRY_DELAYS[Math.min(attempt, RETRY_DELAYS.length - 1)];
          attempt += 1;
          this.say(t("retrying", { seconds: Math.round(delay / 1000) }));
          await sleep(delay);
        }
      }
    }

    fail(xhr) {
      if (xhr.status === 401 || (xhr.status === 403 && /CSRF/i.test(xhr.responseText))) {
        this.stop(t("session"), "error");
        alertNow(this.file.name + ": " + t("session"));
        return;
      }
      if (xhr.status === 404 || xhr.status === 410) localStorage.removeItem(this.key);
      const text = t("refused", { reason: reason(xhr) });
      this.stop(text, "error");
      alertNow(this.file.name + ": " + text);
    }

    async done() {
      localStorage.removeItem(this.key);
      this.bar.value = 100;
      this.el.dataset.percent = "100";
      this.say(t("verifying"));
      const id = uploadId(this.url);
      let data = null;
      try {
        const response = await fetch("/api/uploads/" + id + "/", { credentials: "same-origin" });
        if (response.ok) data = await response.json();
      } catch (error) {
        // the list below shows it anyway
      }
      refreshList();
      if (data && data.duplicate_of) {
        const note = await duplicateNote(id, 8000);
        this.stop(note ? t("duplicate", { note: note }) : t("duplicate_unknown"), "duplicate");
        announce(this.file.name + ": " + this.status.textContent);
        return;
      }
      this.stop(t("done", { sha256: data ? data.sha256 : "" }), "done");
      this.status.classList.add("mono");
      announce(t("stored", { file: this.file.name }));
    }
  }

  // The files list and the quota line are live sections of the page (live.js): refresh them now.
  function refreshList() {
    document.dispatchEvent(new CustomEvent("live:refresh"));
  }

  function enqueue(item) {
    if (!queue.includes(item)) queue.push(item);
    if (!running) drain();
  }

  async function drain() {
    running = true;
    while (queue.length) {
      const item = queue.shift();
      if (!item.paused && !item.cancelled && !item.finished) await item.run();
    }
    running = false;
  }

  function addFiles(fileList) {
    const files = Array.from(fileList || []);
    if (!files.length) return;
    for (const file of files) enqueue(new Item(file));
  }

  const zone = document.getElementById("dropzone");
  const input = document.getElementById("file-input");
  input.addEventListener("change", () => {
    addFiles(input.files);
    input.value = "";
  });
  // It looks like a button, so Enter opens the file chooser too (browsers open it on Space only).
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") event.preventDefault();
  });
  input.addEventListener("keyup", (event) => {
    if (event.key === "Enter") input.showPicker ? input.showPicker() : input.click();
  });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    addFiles(event.dataTransfer.files);
  });

  // Resume an upload listed below (abandoned in another window or before a restart): the browser may
  // read a file only once the person chooses it, so Resume asks for it and checks it is the same size.
  const resumeInput = document.getElementById("resume-input");
  let resumeTarget = null;
  document.addEventListener("click", (event) => {
    const button = event.target.closest(".js-resume-row");
    if (!button || !resumeInput) return;
    resumeTarget = { id: button.dataset.id, size: Number(button.dataset.size), name: button.dataset.name };
    resumeInput.value = "";
    announce(t("resume_pick", { file: resumeTarget.name }));
    resumeInput.click();
  });
  if (resumeInput) {
    resumeInput.addEventListener("change", () => {
      const file = resumeInput.files[0];
      const target = resumeTarget;
      resumeTarget = null;
      if (!file || !target) return;
      if (file.size !== target.size) {
        const text = t("resume_wrong", { size: formatBytes(file.size), expected: formatBytes(target.size) });
        const message = document.getElementById("resume-message-" + target.id);
        if (message) message.textContent = text;
        alertNow(text);
        return;
      }
      localStorage.setItem(storageKey(file), cfg.endpoint + target.id);
      enqueue(new Item(file));
    });
  }

  // Refuse to lose an upload silently when the tab closes mid-way (it can still resume later).
  window.addEventListener("beforeunload", (event) => {
    if (queue.length || running) event.preventDefault();
  });
})();
