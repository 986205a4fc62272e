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
 * Saves are PUTs with If-Match (the draft's version; If-None-Match: * while there is no draft)
 * and an Idempotency-Key, so a retried save never lands twice and a save based on an old version
 * is refused (412) instead of overwriting a newer one. Nothing is sent before the first GET has
 * said what the server holds (it is retried with backoff): a write must never replace a draft the
 * page has not seen. A write also names, in Autosave-Supersedes, this page's earlier writes whose
 * answers never came, so a lost response or a page-exit save overtaking the save in flight is
 * never mistaken for someone else's change. Every unsaved state is also kept in localStorage; on
 * load, a backup that is newer than the server's draft is offered back through a recovery dialog.
 */
(function (global) {
  "use strict";

  // The Fetch spec lets all keepalive requests in flight share 64 KiB of body; keep a margin.
  var KEEPALIVE_BUDGET = 60 * 1024;
  var MERGE_PATCH = "application/merge-patch+json";
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

  /** The RFC 7396 merge patch turning ``source`` into ``target``, or undefined when it cannot say
   * so (a null in ``target`` would read as "delete"). */
  function mergeDiff(source, target) {
    if (target === null) return undefined;
    if (!source || typeof source !== "object" || Array.isArray(source) ||
        typeof target !== "object" || Array.isArray(target)) {
      return containsNull(target) ? undefined : target;
    }
    var patch = {};
    Object.keys(source).forEach(function (name) {
      if (!(name in target)) patch[name] = null;
    });
    var names = Object.keys(target);
    for (var i = 0; i < names.length; i++) {
      var name = names[i];
      if (stableStringify(source[name]) === stableStringify(target[name])) continue;
      var member = name in source ? mergeDiff(source[name], target[name]) : target[name];
      if (member === undefined || (!(name in source) && containsNull(member))) return undefined;
      patch[name] = member;
    }
    return patch;
  }

  function containsNull(value) {
    if (value === null) return true;
    if (typeof value !== "object") return false;
    return Object.keys(value).some(function (k) { return containsNull(value[k]); });
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

  function retryable(status) {
    return status === 408 || status === 425 || status === 429 || status >= 500;
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
      this.loaded = false;      // the first GET answered: we know what the server holds
      this.loadFailed = false;  // it answered a 4xx that retrying cannot cure: nothing is sent
      this.version = null;      // once loaded: the version our state is based on; null = no draft
      this.seq = 0;             // bumped by every change
      this.savedSeq = 0;        // the newest change the server has acknowledged
      this.acked = null;        // {version, payload}: the server's copy of our last saved state
      this.pending = null;      // the snapshot of the newest state sent; a resend reuses its key
      this.unacked = [];        // writes sent since the last acknowledged one, fate unknown
      this.inflight = null;     // the one regular save in flight
      this.again = false;       // save once more when it settles
      this.retryAttempt = 0;
      this.retryTimer = null;
      this.debounceTimer = null;
      this.flushedSeq = -1;
      this.lastSavedAt = null;
      this.status = "idle";
      this.conflict = false;
      this.stopped = false;
      this._shownBase = undefined;  // base version of a backup shown before the draft loaded
      this._wake = null;
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

    /** Save now (a no-op when nothing changed); resolves when the request is answered.
     * Before the draft has loaded it waits: a save must be based on a version the page saw. */
    save() {
      if (this.stopped || this.conflict || this.loadFailed) return Promise.resolve();
      if (!this.loaded) return this.ready.then(() => this.save());
      if (this.inflight) {
        this.again = true;
        return this.inflight;
      }
      if (!this.dirty) return Promise.resolve();
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

    /** The page-exit save: a keepalive PUT (which can carry If-Match), else sendBeacon, else a
     * keepalive merge patch of what changed since the last save.
     *
     * It may overlap the regular save in flight, whose outcome the dying page will never learn.
     * So it carries the version the state is based on plus, in Autosave-Supersedes, the keys of
     * every write of ours still unanswered: the server accepts it on top of the base version or
     * of any version those writes produced, in whichever order the two arrive, and nothing else.
     * The newest state lands, and a save of ours can never make it (or us) see a conflict.
     *
     * Chromium caps sendBeacon at 64 KiB like keepalive, so a bigger state is sent as a merge
     * patch against the last acknowledged version, when nothing of ours is in the air (a patch
     * must apply to exactly the document it was computed from). Failing all three, the
     * localStorage backup keeps the state for the next visit. Before the draft has loaded nothing
     * is sent: the backup holds the state. */
    flush() {
      if (this.stopped || this.conflict || !this.loaded || this.loadFailed || isOffline()) return;
      if (!this.dirty || this.flushedSeq === this.seq) return;
      this.flushedSeq = this.seq;
      var snap = this._snapshot();
      var condition = this._condition(snap);
      var patch = this.unacked.length === 0 ? this._exitPatch(snap) : null;
      this._sent(snap);
      if (byteLength(snap.body) <= KEEPALIVE_BUDGET && typeof fetch === "function") {
        this._keepalive(snap, this._request(snap, condition, true),
          () => this._beacon(snap, condition));
      } else if (!this._beacon(snap, condition) && patch) {
        this._forget(snap);
        this._sent(patch);
        this._keepalive(patch, this._request(patch, {version: this.version, supersedes: []}, true));
      }
    }

    /** Stop saving (after submit, say); ``clearBackup`` also forgets the local copy. */
    stop(options) {
      this.stopped = true;
      clearTimeout(this.debounceTimer);
      clearTimeout(this.retryTimer);
      clearInterval(this.intervalTimer);
      clearInterval(this.tickTimer);
      if (this._wake) this._wake();
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

    /** Fetch the draft, retrying with backoff while the network or the server is down. */
    async _load() {
      var local = this._readBackup();
      var shown = null;
      var server;
      for (var attempt = 0; ; attempt++) {
        try {
          server = await this._fetchServer();
          break;
        } catch (error) {
          if (this.stopped) return;
          if (error && error.status && !retryable(error.status)) {
            this.loadFailed = true;  // 401, 403 ...: a save would be refused the same way
            this._setStatus("error", TEXT.error + " (HTTP " + error.status + ")");
            return;
          }
          if (local && !shown && this.seq === 0) {  // our backup is the best state we have
            shown = local;
            this._shownBase = local.baseVersion;
            this.options.applyState(local.payload);
            this.seq += 1;
          }
          this._setStatus(error && error.status ? "retrying" : "offline");
          await this._pause(attempt, error && error.retryAfter);
          if (this.stopped) return;
        }
      }
      if (this.seq > 0) {
        await this._settleLive(server, shown);
      } else {
        await this._settleBackup(server, local);
      }
    }

    /** The page shows a state of its own (edits made while loading, or the backup shown while
     * offline): save it where nothing can be clobbered, else let the user choose. */
    async _settleLive(server, shown) {
      var state = this.options.getState();
      var same = server && stableStringify(state) === stableStringify(server.payload);
      var continues = !server || (shown && shown.baseVersion === server.version);
      if (!same && !continues && !(await this.options.confirmRecovery({
        savedAt: Date.now(), server: server, early: !shown,
      }))) {
        this._loaded(server);
        this._adoptServer(server);
        return;
      }
      this._loaded(server);
      if (same) {
        this._adoptServer(server);
        return;
      }
      await this.save();
    }

    /** A backup from an earlier visit: offer it back when it is worth it. */
    async _settleBackup(server, local) {
      if (local && this._worthRecovering(local, server) &&
          await this.options.confirmRecovery({savedAt: local.savedAt, server: server})) {
        this._loaded(server);
        this.options.applyState(local.payload);
        this.changed();
        await this.save();
        return;
      }
      this._loaded(server);
      this._clearBackup();
      if (server) this._adoptServer(server);
    }

    _loaded(server) {
      this.version = server ? server.version : null;
      this.acked = server ? {version: server.version, payload: server.payload} : null;
      this.loaded = true;
    }

    _adoptServer(server) {
      if (server) this.options.applyState(server.payload);
      this.savedSeq = this.seq;
      this._clearBackup();
      if (server) {
        this.lastSavedAt = Date.parse(server.updated_at) || null;
        this._setStatus("saved");
      } else {
        this._setStatus("idle");
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
        var retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
        if (!isNaN(retryAfter)) error.retryAfter = retryAfter * 1000;
        throw error;
      }
      return response.json();
    }

    /** Resolves after the backoff delay, or at once when the network comes back or we stop. */
    _pause(attempt, delay) {
      return new Promise((resolve) => {
        var timer = null;
        var done = () => {
          clearTimeout(timer);
          if (this._wake === done) this._wake = null;
          resolve();
        };
        var wait = delay === undefined || delay === null ? backoffDelay(attempt) : delay;
        timer = setTimeout(done, wait);
        this._wake = done;
      });
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
      var body = JSON.stringify(payload);
      this.pending = {
        seq: this.seq, payload: payload, body: body, text: stableStringify(payload),
        key: randomKey(), savedAt: savedAt,
      };
      this._writeBackup(payload, savedAt);  // the backup is exactly what we send
      return this.pending;
    }

    /** What a write of ``snap`` may replace: the version our state is based on (null: no
     * draft), or whatever our own unanswered earlier writes produced. */
    _condition(snap) {
      var earlier = this.unacked.filter(function (entry) { return entry.key !== snap.key; });
      var keys = earlier.map(function (entry) { return entry.key; });
      return {version: this.version, supersedes: keys};
    }

    /** Remember a write whose answer may never come (at most 16, as the server allows). */
    _sent(snap) {
      if (this.unacked.indexOf(snap) < 0) this.unacked.push(snap);
      if (this.unacked.length > 16) this.unacked.shift();
    }

    _forget(snap) {
      var index = this.unacked.indexOf(snap);
      if (index >= 0) this.unacked.splice(index, 1);
    }

    _request(snap, condition, keepalive) {
      var headers = Object.assign({
        "Content-Type": snap.method === "PATCH" ? MERGE_PATCH : "application/json",
        "Idempotency-Key": snap.key,
        "Client-Saved-At": new Date(snap.savedAt).toISOString(),
      }, this.options.headers);
      if (condition.version === null) {
        headers["If-None-Match"] = "*";  // we saw no draft: never replace one we did not see
      } else {
        headers["If-Match"] = "\"" + condition.version + "\"";
      }
      if (condition.supersedes.length) {
        headers["Autosave-Supersedes"] = condition.supersedes.join(", ");
      }
      return {
        method: snap.method || "PUT", credentials: "same-origin", headers: headers,
        body: snap.body, keepalive: Boolean(keepalive),
      };
    }

    /** A merge patch from the last acknowledged state to ``snap``, when it fits the keepalive
     * budget; its own key, since an idempotency key stands for one exact request. */
    _exitPatch(snap) {
      if (!this.acked || this.acked.version !== this.version) return null;
      var diff = mergeDiff(this.acked.payload, snap.payload);
      var body = diff === undefined ? "" : JSON.stringify(diff);
      if (!body || byteLength(body) > KEEPALIVE_BUDGET) return null;
      return Object.assign({}, snap, {method: "PATCH", body: body, key: randomKey()});
    }

    _keepalive(snap, request, failed) {
      var sent;
      try {
        sent = fetch(this.options.url, request);
      } catch (error) {
        sent = Promise.reject(error);
      }
      sent.then((response) => this._flushAnswered(snap, response), failed || function () {});
    }

    async _send(snap) {
      var request = this._request(snap, this._condition(snap), false);
      this._sent(snap);
      var response = await fetch(this.options.url, request);
      if (response.ok) {
        this._acknowledged(snap, await response.json());
        return;
      }
      this._forget(snap);  // refused: it changed nothing
      if (response.status === 412) {
        await this._conflicted(snap, await response.json().catch(function () { return {}; }), true);
      } else if (retryable(response.status)) {
        var retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
        this._setStatus("retrying");
        this._scheduleRetry(isNaN(retryAfter) ? null : retryAfter * 1000);
      } else {
        this.pending = null;  // 4xx: resending the same body cannot help; the backup stays
        this._setStatus("error", TEXT.error + " (HTTP " + response.status + ")");
      }
    }

    _flushAnswered(snap, response) {
      if (response.ok) {
        return response.json().then((data) => this._acknowledged(snap, data), function () {});
      }
      this._forget(snap);
      if (response.status === 412) {
        return response.json().then((problem) => this._conflicted(snap, problem, false),
          function () {});
      }
      return null;  // 429, 5xx, 4xx: the regular save (timer, retry) deals with it
    }

    /** True when the browser queued the beacon (false past its 64 KiB quota). */
    _beacon(snap, condition) {
      if (!this.options.beaconUrl || typeof navigator.sendBeacon !== "function") return false;
      var envelope = JSON.stringify({
        version: condition.version === null ? 0 : condition.version,  // 0: "I saw no draft"
        supersedes: condition.supersedes, payload: snap.payload, client_saved_at: snap.savedAt,
        idempotency_key: snap.key,
      });
      try {
        var blob = new Blob([envelope], {type: "text/plain"});
        return navigator.sendBeacon(this.options.beaconUrl, blob);
      } catch (error) {
        return false;
      }
    }

    _acknowledged(snap, data) {
      var newer = this.version === null || data.version > this.version;
      if (typeof data.version === "number" && newer) {
        this.version = data.version;
        var payload = data.payload !== undefined ? data.payload : snap.payload;
        this.acked = {version: data.version, payload: payload};
      }
      var index = this.unacked.indexOf(snap);
      if (index >= 0) this.unacked.splice(0, index + 1);  // the older ones were superseded
      if (this.pending === snap) this.pending = null;
      this.retryAttempt = 0;
      this.lastSavedAt = Date.now();
      if (snap.seq > this.savedSeq) this.savedSeq = snap.seq;
      if (this.dirty) {
        this._writeBackup(this.options.getState());  // newer changes wait; rebase the backup
      } else {
        this._clearBackup();
      }
      if (!this.conflict) this._setStatus("saved");
    }

    /** A 412. When the server holds what this page itself wrote (a save whose answer was lost,
     * or the page-exit save overtaking the regular one), that is no conflict: adopt its version
     * silently. Otherwise someone else saved: ask (``interactive``), or leave it to the next
     * regular save to ask. */
    async _conflicted(snap, problem, interactive) {
      if (this.pending === snap) this.pending = null;
      var serverVersion = typeof problem.current_version === "number" ?
        problem.current_version : null;
      var serverPayload = problem.current_payload;
      if (serverVersion !== null && serverVersion === this.version) {
        // A newer write of ours was answered first and we hold its version: nothing to resolve.
        if (this.dirty) this._resaveSoon(); else this._setStatus("saved");
        return;
      }
      if (serverVersion !== null && this._adopt(snap, serverVersion, serverPayload)) return;
      if (!interactive) {
        this._resaveSoon();
        return;
      }
      this.conflict = true;
      this._setStatus("conflict");
      var keepMine = serverVersion === null || await this.options.keepMineOnConflict({
        version: serverVersion, payload: problem.current_payload,
      });
      this.conflict = false;
      this.version = serverVersion;
      this.acked = serverVersion === null ? null : {version: serverVersion, payload: serverPayload};
      this.unacked = [];  // anything of ours still in the air is based on an older version: 412
      if (keepMine) {
        this.seq += 1;  // our state, now based on the server's version, is unsaved again
        this._writeBackup(this.options.getState());
        this._resaveSoon();  // not save(): we may be inside the save in flight, awaiting ourselves
        return;
      }
      this.options.applyState(problem.current_payload);
      this.savedSeq = this.seq;
      this._clearBackup();
      this.lastSavedAt = Date.now();
      this._setStatus("saved");
    }

    _adopt(snap, serverVersion, payload) {
      var text = stableStringify(payload);
      var candidates = this.unacked.concat([snap]);
      for (var i = candidates.length - 1; i >= 0; i--) {
        if (candidates[i].text === text) {
          this._acknowledged(candidates[i], {version: serverVersion});
          if (this.dirty) this._resaveSoon();
          return true;
        }
      }
      if (text !== stableStringify(this.options.getState())) return false;  // someone else's
      if (this.version === null || serverVersion > this.version) {
        this.version = serverVersion;
        this.acked = {version: serverVersion, payload: payload};
      }
      this.savedSeq = this.seq;
      this.unacked = [];
      this._clearBackup();
      this.lastSavedAt = Date.now();
      this._setStatus("saved");
      return true;
    }

    /** Save again once the save in flight (if any) settles. */
    _resaveSoon() {
      if (this.inflight) {
        this.again = true;
      } else {
        Promise.resolve().then(() => this.save());
      }
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
        if (this._wake) this._wake();
        if (this.loaded && this.dirty) this.save();
      });
      this._on(global, "offline", () => { if (this.dirty) this._setStatus("offline"); });
      var watched = resolveElement(this.options.watch);
      if (watched) {
        var changed = () => this.changed();
        this._on(watched, "input", changed);
        this._on(watched, "change", changed);
      }
      this.intervalTimer = setInterval(() => {
        if (this.loaded && this.dirty && !this.inflight && !this.retryTimer) this.save();
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
      // Before the draft has loaded the base is unknown (undefined, left out of the JSON),
      // unless the state shown is an earlier backup, whose base it keeps.
      var base = this.loaded ? this.version : this._shownBase;
      var entry = {v: 1, baseVersion: base, savedAt: savedAt || Date.now(), payload: payload};
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
    /** Forget the local backup of ``url``: on the page a successful submit leads to, so a
     * failed submit (which never gets there) keeps the answers. */
    forgetBackup: function (url) {
      try {
        global.localStorage.removeItem(STORAGE_PREFIX + url);
      } catch (error) { /* storage disabled: nothing was kept */ }
    },
    text: TEXT,
    stableStringify: stableStringify,
    formatAge: formatAge,
    backoffDelay: backoffDelay,
  };
})(typeof window !== "undefined" ? window : this);
