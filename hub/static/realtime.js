/*
 * Zorghub realtime client (docs/realtime.md). No dependencies, no build step.
 *
 *   var rt = ZorghubRealtime.connect("/ws", {
 *     onSessionEnded: function () { location.href = "/login"; },
 *     onStatus: function (status) { ... "connecting" | "open" | "closed" }
 *   });
 *   rt.subscribe("room:12", { after: 40, onFrame: function (frame) { ... } });
 *   rt.send("room:12", "Hallo", { mentions: [5] }).then(function (ack) { ... });
 *   rt.read("room:12", 41); rt.typing("room:12"); rt.presence("away");
 *
 * It resumes after any close with the last sequence number seen per stream (backoff
 * with jitter), drops duplicates by sequence number, and resends a message that was not
 * acknowledged with the same client message id, so retries never duplicate.
 */
(function () {
  "use strict";

  // only these are deduped by seq (they are replayed from the database); updates such as
  // message_updated carry the seq of a message already seen and always pass
  var SEQUENCED = { message: true, message_edited: true, message_deleted: true };
  var SESSION_ENDED = 4001;

  function randomId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function socketUrl(path) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + path;
  }

  function Realtime(path, options) {
    this.path = path;
    this.options = options || {};
    this.streams = {};      // stream -> {last, onFrame}
    this.pending = {};      // client_message_id -> {frame, resolve, reject, sentAt}
    this.refs = {};         // ref -> {resolve, reject}
    this.ws = null;
    this.attempt = 0;
    this.heartbeat = 20;
    this.lastHeard = 0;
    this.stopped = false;
    this.hello = null;
    this.watchingPresence = false;
    this.open();
    var self = this;
    this.timer = setInterval(function () { self.tick(); }, 1000);
    document.addEventListener("visibilitychange", function () {
      self.presence(document.hidden ? "away" : "online");
    });
  }

  Realtime.prototype.status = function (status) {
    if (this.options.onStatus) { this.options.onStatus(status); }
  };

  Realtime.prototype.open = function () {
    var self = this;
    this.status("connecting");
    var ws = new WebSocket(socketUrl(this.path));
    this.ws = ws;
    ws.onmessage = function (event) { self.receive(event.data); };
    ws.onclose = function (event) { self.closed(ws, event.code); };
  };

  Realtime.prototype.closed = function (ws, code) {
    if (ws !== this.ws) { return; }
    this.ws = null;
    this.status("closed");
    if (code === SESSION_ENDED || this.stopped) {
      this.stopped = true;
      if (code === SESSION_ENDED && this.options.onSessionEnded) { this.options.onSessionEnded(); }
      return;
    }
    // exponential backoff with jitter, so a thousand phones do not return at once
    var delay = Math.min(30000, 500 * Math.pow(2, this.attempt)) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    var self = this;
    setTimeout(function () { if (!self.stopped) { self.open(); } }, delay);
  };

  Realtime.prototype.write = function (frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.hello) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  };

  Realtime.prototype.receive = function (text) {
    var frame;
    try { frame = JSON.parse(text); } catch (e) { return; }
    this.lastHeard = Date.now();
    if (frame.type === "hello") { return this.welcome(frame); }
    if (frame.type === "ack") { return this.acknowledged(frame); }
    if (frame.type === "error") { return this.failed(frame); }
    if (frame.type === "pong") { return; }
    var stream = frame.stream && this.streams[frame.stream];
    if (stream && SEQUENCED[frame.type]) {
      if (frame.seq <= stream.last) { return; } // seen before: a resume overlaps
      stream.last = frame.seq;
    }
    if (stream && stream.onFrame) { stream.onFrame(frame); }
    if (this.options.onFrame) { this.options.onFrame(frame); }
  };

  Realtime.prototype.welcome = function (frame) {
    this.hello = frame;
    this.heartbeat = frame.heartbeat || 20;
    this.attempt = 0;
    this.status("open");
    // a new socket starts online and watching nothing: say again what was said before
    if (document.hidden) { this.presence("away"); }
    if (this.watchingPresence) { this.write({ type: "subscribe", stream: "presence" }); }
    for (var name in this.streams) {
      this.write({ type: "subscribe", stream: name, after: this.streams[name].last });
    }
    for (var id in this.pending) { this.write(this.pending[id].frame); }
  };

  Realtime.prototype.acknowledged = function (frame) {
    var waiting = frame.client_message_id && this.pending[frame.client_message_id];
    if (waiting) {
      delete this.pending[frame.client_message_id];
      waiting.resolve(frame);
    }
    var ref = frame.ref && this.refs[frame.ref];
    if (ref) { delete this.refs[frame.ref]; ref.resolve(frame); }
  };

  Realtime.prototype.failed = function (frame) {
    var ref = frame.ref && this.refs[frame.ref];
    if (ref) { delete this.refs[frame.ref]; ref.reject(frame); }
    if (this.options.onError) { this.options.onError(frame); }
  };

  Realtime.prototype.tick = function () {
    if (!this.ws || !this.hello) { return; }
    var now = Date.now();
    if (now - this.lastHeard > (2 * this.heartbeat + 5) * 1000) {
      this.ws.close(); // the server went quiet: reconnect (onclose resumes)
      this.closed(this.ws, 1006);
      return;
    }
    if (now - this.lastPing > this.heartbeat * 1000 || !this.lastPing) {
      this.lastPing = now;
      this.write({ type: "ping" });
    }
    for (var id in this.pending) { // unacknowledged for 10 s: send again, same id
      if (now - this.pending[id].sentAt > 10000) {
        this.pending[id].sentAt = now;
        this.write(this.pending[id].frame);
      }
    }
  };

  Realtime.prototype.subscribe = function (stream, options) {
    options = options || {};
    this.streams[stream] = { last: options.after || 0, onFrame: options.onFrame };
    this.write({ type: "subscribe", stream: stream, after: this.streams[stream].last });
  };

  Realtime.prototype.unsubscribe = function (stream) {
    delete this.streams[stream];
    this.write({ type: "unsubscribe", stream: stream });
  };

  Realtime.prototype.request = function (frame) {
    var self = this;
    frame.ref = randomId();
    return new Promise(function (resolve, reject) {
      self.refs[frame.ref] = { resolve: resolve, reject: reject };
      if (!self.write(frame)) { delete self.refs[frame.ref]; reject({ code: "offline" }); }
    });
  };

  Realtime.prototype.send = function (stream, body, options) {
    var self = this;
    var frame = { type: "send", stream: stream, body: body, client_message_id: randomId(),
                  mentions: (options && options.mentions) || [] };
    return new Promise(function (resolve, reject) {
      self.pending[frame.client_message_id] = { frame: frame, resolve: resolve, reject: reject,
                                                sentAt: Date.now() };
      self.write(frame); // when offline, sent on reconnect
    });
  };

  Realtime.prototype.edit = function (stream, seq, body) {
    return this.request({ type: "edit", stream: stream, seq: seq, body: body });
  };

  Realtime.prototype.remove = function (stream, seq) {
    return this.request({ type: "delete", stream: stream, seq: seq });
  };

  Realtime.prototype.read = function (stream, seq) {
    this.write({ type: "read", stream: stream, seq: seq });
  };

  Realtime.prototype.typing = function (stream) {
    // call it on every keystroke: at most one frame per stream every 2 s goes out (the
    // server forwards no more than that, and frames count against the rate limit)
    this.typedAt = this.typedAt || {};
    var now = Date.now();
    if (now - (this.typedAt[stream] || 0) < 2000) { return; }
    this.typedAt[stream] = now;
    this.write({ type: "typing", stream: stream });
  };

  Realtime.prototype.presence = function (state) {
    this.write({ type: "presence", state: state });
  };

  /* Colleagues' presence as frames (a snapshot, then changes), also after reconnects. */
  Realtime.prototype.watchPresence = function () {
    if (this.watchingPresence) { return; }
    this.watchingPresence = true;
    this.write({ type: "subscribe", stream: "presence" });
  };

  /* Web push: register the service worker (hub/static/push-sw.js) and hand the
   * subscription to the server. Resolves false where the browser does not allow it. */
  Realtime.prototype.enablePush = function (serviceWorkerUrl) {
    var self = this;
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !this.hello) {
      return Promise.resolve(false);
    }
    var key = this.hello.vapid_public_key.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(key + "===".slice((key.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return navigator.serviceWorker.register(serviceWorkerUrl || "/static/push-sw.js")
      .then(function (registration) {
        return registration.pushManager.subscribe({ userVisibleOnly: true,
                                                    applicationServerKey: bytes });
      })
      .then(function (subscription) {
        return self.request({ type: "push_subscribe", subscription: subscription.toJSON() });
      })
      .then(function () { return true; }, function () { return false; });
  };

  Realtime.prototype.close = function () {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.ws) { this.ws.close(1000); }
  };

  window.ZorghubRealtime = {
    connect: function (path, options) { return new Realtime(path, options); }
  };
})();
