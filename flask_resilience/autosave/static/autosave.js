/*! flask-resilience autosave.js: drafts that survive crashes, closed tabs and flaky networks.
 *
 * No dependencies, no build step, ES2018. Served by the extension at
 * <prefix>/autosave/static/autosave.js; see docs/autosave.md.
 *
 *   const saver = Autosave.attach({
 *     url: "/resilience/autosave/attempt/42",
 *     getState: () => ({answers: collectAnswers()}),
 *     applyState: (state) => showAnswers(state.answers),
 *     watch: "#quiz-form",          // or call saver.changed() yourself
 *     interval: 30000, debounce: 2000,
 *   });
 *
 * Saves are PUTs with If-Match (the draft's version) and an Idempotency-Key, so a retried save
 * never lands twice and a save based on an old version is refused (412) instead of overwriting a
 * newer one. Every unsaved state is also kept in localStorage; on load, a backup that is newer
 * than the server's draft is offered back through a recovery dialog.
 */
(function (global) {
  "use strict";

  // The Fetch spec lets all keepalive requests in flight share 64 KiB of body; keep a margin.
  var KEEPALIVE_BUDGET = 60 * 1024;
  var STORAGE_PREFIX = "resilience-autosave:";
  var BACKUP_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  var MAX_RETRY_DELAY_MS = 60000;

  var TEXT = {
    saving: "Saving…",
    saved: "Saved",
    offline: "Offline – saved locally",
    retrying: "Not saved yet – retrying",
    conflict: "Conflict",
    error: "Not saved",
    recoverMessage: "This browser holds changes that were not saved yet (from {time}). Recover them?",
    recover: "Recover",
    startFresh: "Start fresh",
    conflictMessage:
      "This draft was changed somewhere else (another tab or device) since you opened it.",
    loadServer: "Load saved version",
    keepMine: "Keep mine",
  };

  /** JSON with sorted keys, so the same state compares equal whatever order a server keeps. */
  function stableStringify(value) {
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(stableStringify).join(",") + "]";
    var keys = Object.keys(value).filter(function (k) { return value[k] !== undefined; }).sort();
    return "{" + keys.map(function (k) {
      return JSON.stringify(k) + ":" + stableStringify(value[k]);
    }).join(",") + "}";
  }

  /** "just now", "10 s ago", "3 min ago", "at 14:02": how old the last save is. */
  function formatAge(ms, now) {
    var seconds = Math.max(0, Math.round(((now || Date.now()) - ms) / 1000));
    if (seconds < 5) return "just now";
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    var date = new Date(ms);
    return "at " + String(date.getHours()).padStart(2, "0") + ":" +
      String(date.getMinutes()).padStart(2, "0");
  }

  function randomKey() {
    if (global.crypto && typeof global.crypto.randomUUID === "function") {
      return global.crypto.randomUUID();
    }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  /** Exponential backoff with jitter: ~1 s, 2 s, 4 s ... capped at a minute. */
  function backoffDelay(attempt) {
    var base = Math.min(MAX_RETRY_DELAY_MS, 1000 * Math.pow(2, attempt));
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  function byteLength(text) {
    return typeof TextEncoder === "function" ? new TextEncoder().encode(text).length : text.length * 3;
  }

  function isOffline() {
    return typeof navigator !== "undefined" && navigator.onLine === false;
  }

  function resolveElement(target) {
    if (!target) return null;
    return typeof target === "string" ? document.querySelector(target) : target;
  }

  /** A modal <dialog> with two buttons; resolves true for the first. Escape does not dismiss it,
   * because either answer matters (dropping a backup loses work). */
  function ask(message, yesLabel, noLabel) {
    return new Promise(function (resolve) {
      if (typeof global.HTMLDialogElement !== "function") {
        resolve(global.confirm(message));
        return;
      }
      var dialog = document.createElement("dialog");
      dialog.className = "resilience-autosave-dialog";
      var text = document.createElement("p");
      text.textContent = message;
      var form = document.createElement("form");
      form.method = "dialog";
      [[yesLabel, "yes"], [noLabel, "no"]].forEach(function (pair) {
        var button = document.createElement("button");
        button.type = "submit";
        button.textContent = pair[0];
        button.value = pair[1];
        form.appendChild(button);
      });
      dialog.appendChild(text);
      dialog.appendChild(form);
      dialog.addEventListener("cancel", function (event) { event.preventDefault(); });
      dialog.addEventListener("close", function () {
        resolve(dialog.returnValue === "yes");
        dialog.remove();
      });
      document.body.appendChild(dialog);
      dialog.showModal();
    });
  }

  function pruneOldBackups(storage, now) {
    try {
      for (var i = storage.length - 1; i >= 0; i--) {
        var name = storage.key(i);
        if (!name || name.indexOf(STORAGE_PREFIX) !== 0) continue;
        var entry = JSON.parse(storage.getItem(name) || "null");
        if (!entry || now - entry.savedAt > BACKUP_MAX_AGE_MS) storage.removeItem(name);
      }
    } catch (error) { /* storage unavailable or corrupt: nothing to prune */ }
  }

  class Saver {
    constructor(options) {
      if (!options || !options.url || typeof options.getState !== "function" ||
          typeof options.applyState !== "function") {
        throw new TypeError("Autosave.attach needs {url, getState, applyState}");
      }
      this.options = Object.assign({
        interval: 30000,
        debounce: 2000,
        beaconUrl: options.url.replace(/\/$/, "") + "/beacon",
        storageKey: STORAGE_PREFIX + options.url,
        indicator: "[data-resilience-autosave-indicator]",
        headers: {},
        confirmRecovery: function (info) {
          var time = new Date(info.savedAt).toLocaleTimeString();
          return ask(TEXT.recoverMessage.replace("{time}", time), TEXT.recover, TEXT.startFresh);
        },
        keepMineOnConflict: function () {
          return ask(TEXT.conflictMessage, TEXT.keepMine, TEXT.loadServer);
        },
      }, options);
      this.version = null;      // the server version our state is based on (the ETag)
      this.seq = 0;             // bumped by every change
      this.savedSeq = 0;        // the change the server has acknowledged
      this.pending = null;      // the snapshot being sent; retries resend it with the same key
      this.inflight = null;
      this.again = false;
      this.retryAttempt = 0;
      this.retryTimer = null;
      this.debounceTimer = null;
      this.flushedSeq = -1;
      this.lastSavedAt = null;
      this.status = "idle";
      this.conflict = false;
      this.stopped = false;
      this.indicator = resolveElement(this.options.indicator);
      this.storage = this._storage();
      this._listeners = [];
      this._bind();
      this.ready = this._load();
    }

    get dirty() { return this.seq !== this.savedSeq; }

    /** Tell the saver the state changed: back it up now, save after the debounce. */
    changed() {
      if (this.stopped) return;
      this.seq += 1;
      this._writeBackup(this.options.getState());
      if (isOffline()) this._setStatus("offline");
      clearTimeout(this.debounceTimer);
      this.debounceTimer = setTimeout(() => this.save(), this.options.debounce);
    }

    /** Save now (a no-op when nothing changed); resolves when the request is answered. */
    save() {
      if (this.stopped || this.conflict) return Promise.resolve();
      if (this.inflight) {
        this.again = true;
        return this.inflight;
      }
      if (!this.dirty && !this.pending) return Promise.resolve();
      clearTimeout(this.debounceTimer);
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      var snap = this._snapshot();
      this._setStatus("saving");
      this.inflight = this._send(snap).catch(() => this._offline()).finally(() => {
        this.inflight = null;
        if (this.again) {
          this.again = false;
          if (this.dirty) this.save();
        }
      });
      return this.inflight;
    }

    /** The page-exit save: fetch keepalive (which can carry If-Match), else sendBeacon. */
    flush() {
      if (this.stopped || this.conflict || isOffline()) return;
      if (!this.dirty && !this.pending) return;
      if (this.flushedSeq === this.seq) return;
      this.flushedSeq = this.seq;
      var snap = this._snapshot();
      if (byteLength(snap.body) <= KEEPALIVE_BUDGET && typeof fetch === "function") {
        try {
          fetch(this.options.url, this._request(snap, true))
            .then((response) => (response.ok ? response.json() : null))
            .then((data) => { if (data) this._acknowledged(snap, data); })
            .catch(() => this._beacon(snap));
          return;
        } catch (error) { /* over the keepalive quota: the beacon below */ }
      }
      this._beacon(snap);
    }

    /** Stop saving (after submit, say); ``clearBackup`` also forgets the local copy. */
    stop(options) {
      this.stopped = true;
      clearTimeout(this.debounceTimer);
      clearTimeout(this.retryTimer);
      clearInterval(this.intervalTimer);
      clearInterval(this.tickTimer);
      this._listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2], l[3]); });
      this._listeners = [];
      if (options && options.clearBackup) this._clearBackup();
    }

    /** Stop, forget the local copy and delete the server draft. */
    discard() {
      this.stop({clearBackup: true});
      var headers = Object.assign({}, this.options.headers);
      return fetch(this.options.url, {
        method: "DELETE", credentials: "same-origin", keepalive: true, headers: headers,
      }).catch(function () { /* the server's own cleanup (TTL, submit) covers it */ });
    }

    // -- loading and recovery -------------------------------------------------------------

    async _load() {
      var local = this._readBackup();
      var server;
      try {
        server = await this._fetchServer();
      } catch (error) {
        if (local) {  // offline at load: our backup is the best state we have
          this.version = local.baseVersion;
          this.options.applyState(local.payload);
          this.seq += 1;
        }
        this._setStatus(error && error.status ? "error" : "offline");
        if (!error || !error.status) this._scheduleRetry();
        return;
      }
      if (server) this.version = server.version;
      if (local && this._worthRecovering(local, server)) {
        if (await this.options.confirmRecovery({savedAt: local.savedAt, server: server})) {
          this.options.applyState(local.payload);
          this.changed();
          await this.save();
          return;
        }
      }
      this._clearBackup();
      if (server) {
        this.options.applyState(server.payload);
        this.lastSavedAt = Date.parse(server.updated_at) || null;
        this._setStatus("saved");
      }
    }

    async _fetchServer() {
      var response = await fetch(this.options.url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: Object.assign({Accept: "application/json"}, this.options.headers),
      });
      if (response.status === 404) return null;
      if (!response.ok) {
        var error = new Error("autosave: HTTP " + response.status);
        error.status = response.status;
        throw error;
      }
      return response.json();
    }

    /** Offer a backup only when it differs from the server's draft and is not older than it. */
    _worthRecovering(local, server) {
      if (!server) return true;
      if (stableStringify(local.payload) === stableStringify(server.payload)) return false;
      var serverTime = Date.parse(server.client_saved_at || server.updated_at) || 0;
      return local.baseVersion === server.version || local.savedAt > serverTime;
    }

    // -- sending --------------------------------------------------------------------------

    _snapshot() {
      if (this.pending && this.pending.seq === this.seq) return this.pending;
      var payload = this.options.getState();
      var savedAt = Date.now();
      this.pending = {
        seq: this.seq, payload: payload, body: JSON.stringify(payload), key: randomKey(),
        version: this.version, savedAt: savedAt,
      };
      this._writeBackup(payload, savedAt);  // the backup is exactly what we send
      return this.pending;
    }

    _request(snap, keepalive) {
      var headers = Object.assign({
        "Content-Type": "application/json",
        "Idempotency-Key": snap.key,
        "Client-Saved-At": new Date(snap.savedAt).toISOString(),
      }, this.options.headers);
      if (snap.version !== null && snap.version !== undefined) {
        headers["If-Match"] = "\"" + snap.version + "\"";
      }
      return {
        method: "PUT", credentials: "same-origin", headers: headers, body: snap.body,
        keepalive: Boolean(keepalive),
      };
    }

    async _send(snap) {
      var response = await fetch(this.options.url, this._request(snap, false));
      if (response.ok) {
        this._acknowledged(snap, await response.json());
      } else if (response.status === 412) {
        await this._conflicted(await response.json().catch(function () { return {}; }));
      } else if (response.status === 429 || response.status >= 500) {
        var retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
        this._setStatus("retrying");
        this._scheduleRetry(isNaN(retryAfter) ? null : retryAfter * 1000);
      } else {
        this.pending = null;  // 4xx: resending the same body cannot help; the backup stays
        this._setStatus("error", TEXT.error + " (HTTP " + response.status + ")");
      }
    }

    _beacon(snap) {
      if (!this.options.beaconUrl || typeof navigator.sendBeacon !== "function") return;
      var envelope = JSON.stringify({
        version: snap.version, payload: snap.payload, client_saved_at: snap.savedAt,
        idempotency_key: snap.key,
      });
      navigator.sendBeacon(this.options.beaconUrl, new Blob([envelope], {type: "text/plain"}));
    }

    _acknowledged(snap, data) {
      if (typeof data.version === "number" && (this.version === null || data.version > this.version)) {
        this.version = data.version;
      }
      if (this.pending === snap) this.pending = null;
      this.retryAttempt = 0;
      this.lastSavedAt = Date.now();
      if (snap.seq === this.seq) {
        this.savedSeq = snap.seq;
        this._clearBackup();
      } else {
        this._writeBackup(this.options.getState());  // newer changes wait; rebase the backup
      }
      this._setStatus("saved");
    }

    async _conflicted(problem) {
      this.pending = null;
      this.conflict = true;
      this._setStatus("conflict");
      var serverVersion = typeof problem.current_version === "number" ? problem.current_version : null;
      var keepMine = serverVersion === null || await this.options.keepMineOnConflict({
        version: serverVersion, payload: problem.current_payload,
      });
      this.conflict = false;
      this.version = serverVersion;
      if (keepMine) {
        this.seq += 1;  // our state, now based on the server's version, is unsaved again
        return this.save();
      }
      this.options.applyState(problem.current_payload);
      this.savedSeq = this.seq;
      this._clearBackup();
      this.lastSavedAt = Date.now();
      this._setStatus("saved");
    }

    _offline() {
      this._setStatus("offline");
      this._scheduleRetry();
    }

    _scheduleRetry(delay) {
      clearTimeout(this.retryTimer);
      var wait = delay === null || delay === undefined ? backoffDelay(this.retryAttempt) : delay;
      this.retryAttempt += 1;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (isOffline()) this._scheduleRetry(); else this.save();
      }, wait);
    }

    // -- page events, indicator, storage ----------------------------------------------------

    _bind() {
      var flush = () => this.flush();
      this._on(document, "visibilitychange", () => {
        if (document.visibilityState === "hidden") flush();
      });
      this._on(global, "pagehide", flush);
      this._on(global, "online", () => {
        this.retryAttempt = 0;
        if (this.dirty || this.pending) this.save();
      });
      this._on(global, "offline", () => { if (this.dirty) this._setStatus("offline"); });
      var watched = resolveElement(this.options.watch);
      if (watched) {
        var changed = () => this.changed();
        this._on(watched, "input", changed);
        this._on(watched, "change", changed);
      }
      this.intervalTimer = setInterval(() => {
        if (this.dirty && !this.inflight && !this.retryTimer) this.save();
      }, this.options.interval);
      this.tickTimer = setInterval(() => { if (this.status === "saved") this._render(); }, 1000);
    }

    _on(target, type, handler, options) {
      target.addEventListener(type, handler, options);
      this._listeners.push([target, type, handler, options]);
    }

    _setStatus(status, text) {
      this.status = status;
      this._statusText = text || null;
      this._render();
      if (typeof this.options.onStatus === "function") this.options.onStatus(status, this);
    }

    _render() {
      if (!this.indicator) return;
      var text = this._statusText || TEXT[this.status] || "";
      if (this.status === "saved" && this.lastSavedAt) {
        text = TEXT.saved + " " + formatAge(this.lastSavedAt);
      }
      this.indicator.textContent = text;
      this.indicator.setAttribute("data-state", this.status);
    }

    _storage() {
      try {
        var storage = global.localStorage;
        pruneOldBackups(storage, Date.now());
        return storage;
      } catch (error) {
        return null;  // private mode or disabled: server saves still work
      }
    }

    _readBackup() {
      try {
        var entry = this.storage && JSON.parse(this.storage.getItem(this.options.storageKey));
        return entry && entry.payload !== undefined ? entry : null;
      } catch (error) {
        return null;
      }
    }

    _writeBackup(payload, savedAt) {
      if (!this.storage) return;
      var entry = {v: 1, baseVersion: this.version, savedAt: savedAt || Date.now(), payload: payload};
      try {
        this.storage.setItem(this.options.storageKey, JSON.stringify(entry));
      } catch (error) { /* quota: the server copy is the only one */ }
    }

    _clearBackup() {
      try {
        if (this.storage) this.storage.removeItem(this.options.storageKey);
      } catch (error) { /* nothing to clear */ }
    }
  }

  global.Autosave = {
    attach: function (options) { return new Saver(options); },
    text: TEXT,
    stableStringify: stableStringify,
    formatAge: formatAge,
    backoffDelay: backoffDelay,
  };
})(typeof window !== "undefined" ? window : this);
