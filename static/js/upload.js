// The upload page's tus 1.0 client: chunked PATCH with a per-chunk SHA-256 (crypto.subtle), pause and
// resume, resume after a reload (upload URLs remembered in localStorage), retries after a lost
// connection. No third-party code; no inline script (the page's configuration is in data attributes).
"use strict";

(function () {
  const app = document.getElementById("upload-app");
  if (!app) return;

  const cfg = {
    endpoint: app.dataset.endpoint,
    csrf: app.dataset.csrf,
    chunkSize: parseInt(app.dataset.chunkSize, 10) || 64 * 1024 * 1024,
    maxSize: parseInt(app.dataset.maxSize, 10),
    caseNumber: app.dataset.case,
  };
  const strings = JSON.parse(document.getElementById("upload-strings").textContent);
  const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 30000];
  const queue = [];
  let running = false;

  function t(key, values) {
    let text = strings[key] || key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("%(" + name + ")s").join(String(value));
    }
    return text;
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
      this.render();
    }

    render() {
      const fragment = document.getElementById("queue-item").content.cloneNode(true);
      this.el = fragment.querySelector(".qitem");
      this.el.querySelector(".qname").textContent = this.file.name;
      this.el.querySelector(".qsize").textContent = formatBytes(this.file.size);
      this.bar = this.el.querySelector("progress");
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

    say(text, kind) {
      this.status.textContent = text;
      this.el.classList.toggle("qerror", kind === "error");
      this.el.classList.toggle("qdone", kind === "done");
    }

    showProgress(sent) {
      const percent = this.file.size ? Math.floor((sent / this.file.size) * 100) : 100;
      this.bar.value = percent;
      this.bar.textContent = percent + "%";
      this.el.dataset.percent = String(percent);
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
      this.finished = true;
      this.pauseButton.hidden = true;
      this.resumeButton.hidden = true;
      this.cancelButton.hidden = true;
      this.say(text, kind);
    }

    pause() {
      this.paused = true;
      if (this.xhr) this.xhr.abort();
      this.pauseButton.hidden = true;
      this.resumeButton.hidden = false;
      this.say(t("paused", { done: formatBytes(this.offset), total: formatBytes(this.file.size) }));
    }

    resume() {
      this.paused = false;
      this.pauseButton.hidden = false;
      this.resumeButton.hidden = true;
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
        return;
      }
      if (xhr.status === 404 || xhr.status === 410) localStorage.removeItem(this.key);
      this.stop(t("refused", { reason: reason(xhr) }), "error");
    }

    async done() {
      localStorage.removeItem(this.key);
      this.bar.value = 100;
      this.el.dataset.percent = "100";
      this.say(t("verifying"));
      const id = this.url.replace(/\/$/, "").split("/").pop();
      let sha256 = "";
      try {
        const response = await fetch("/api/uploads/" + id + "/", { credentials: "same-origin" });
        if (response.ok) sha256 = (await response.json()).sha256;
      } catch (error) {
        // the list below shows it anyway
      }
      this.stop(t("done", { sha256: sha256 }), "done");
      this.el.querySelector(".qstatus").classList.add("mono");
      refreshList();
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

  // Refuse to lose an upload silently when the tab closes mid-way (it can still resume later).
  window.addEventListener("beforeunload", (event) => {
    if (queue.length || running) event.preventDefault();
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(source.textContent);
      const note = button.parentElement.querySelector(".copied");
      if (note) note.hidden = false;
    } catch (error) {
      const range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
    }
  });
})();
