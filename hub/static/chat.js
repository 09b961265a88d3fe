/* Staff chat pages: the room list (live unread counts) and one room (live messages,
 * typing, pending sends, edits, deletes, read receipts, presence).
 *
 * No inline script (CSP). Message text is only ever put in the page with textContent:
 * a body is split into text and @mention pieces, each a text node or a <mark>.
 */
(function () {
  "use strict";

  var MENTION = /(@[^\s@]+)/;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  /* HH:MM in the organisation's time zone, as the server renders it */
  function clock(iso) {
    if (!iso) { return ""; }
    return new Date(iso).toLocaleTimeString("nl-NL", {
      hour: "2-digit", minute: "2-digit", timeZone: "Europe/Amsterdam" });
  }

  function connect(root) {
    return window.ZorghubRealtime.connect(root.dataset.socket, {
      onSessionEnded: function () {
        location.href = "/login?reason=signed_out&next=" + encodeURIComponent(location.pathname);
      },
      onStatus: function (status) {
        var box = document.getElementById("status");
        if (!box) { return; }
        box.hidden = status !== "closed";
        box.textContent = root.dataset.tOffline || "";
      }
    });
  }

  /* --- the room list: unread badges go up as messages from others arrive --- */

  function roomList(root) {
    var rt = connect(root);
    var items = root.querySelectorAll("#roomlist li[data-stream]");
    Array.prototype.forEach.call(items, function (item) {
      rt.subscribe(item.dataset.stream, {
        after: Number(item.dataset.lastSeq) || 0,
        onFrame: function (frame) { roomFrame(item, frame, rt.hello && rt.hello.user.id); }
      });
    });
  }

  function roomFrame(item, frame, me) {
    if (frame.type !== "message" || frame.message.sender_staff_id === me) { return; }
    var badge = item.querySelector(".badge.unread");
    badge.textContent = String((Number(badge.textContent) || 0) + 1);
    badge.hidden = false;
    item.querySelector(".when").textContent = clock(frame.message.created_at);
    var list = item.parentNode;
    if (list.firstElementChild !== item) { list.insertBefore(item, list.firstElementChild); }
  }

  /* --- one room --- */

  function Room(root) {
    this.root = root;
    this.stream = root.dataset.stream;
    this.me = Number(root.dataset.me);
    this.list = document.getElementById("messages");
    this.typingBox = document.getElementById("typing");
    this.members = this.readMembers();
    this.firstSeq = Number(root.dataset.firstSeq) || 0;
    this.readSeq = 0;
    this.typers = {};
    this.rt = connect(root);
  }

  Room.prototype.readMembers = function () {
    var found = [];
    var items = document.querySelectorAll("#members li[data-id]");
    Array.prototype.forEach.call(items, function (li) {
      found.push({ id: Number(li.dataset.id), name: li.dataset.name });
    });
    return found;
  };

  Room.prototype.start = function () {
    var self = this;
    this.rt.subscribe(this.stream, {
      after: Number(this.root.dataset.lastSeq) || 0,
      onFrame: function (frame) { self.frame(frame); }
    });
    this.rt.options.onFrame = function (frame) {
      if (frame.type === "presence_snapshot") { self.presenceAll(frame.users); }
      if (frame.type === "presence") { self.presence(frame.user, frame.state); }
    };
    this.rt.watchPresence();
    this.bindComposer();
    this.bindOlder();
    this.bindActions();
    document.addEventListener("visibilitychange", function () { self.markRead(); });
    this.scrollDown();
  };

  Room.prototype.frame = function (frame) {
    if (frame.type === "synced") { this.synced(); }
    if (frame.type === "message") { this.show(frame.message); this.markRead(); }
    if (frame.type === "message_edited" || frame.type === "message_deleted") {
      this.show(frame.message);
    }
    if (frame.type === "typing") { this.typing(frame.user); }
  };

  /* (re)connected and caught up: only now do read positions reach the server
   * (realtime.js drops what is written before its socket is open) */
  Room.prototype.synced = function () {
    this.root.dataset.synced = "1";
    this.readSeq = 0;
    this.markRead();
  };

  Room.prototype.lastSeq = function () {
    var max = 0;
    Array.prototype.forEach.call(this.list.querySelectorAll("li[data-seq]"), function (li) {
      max = Math.max(max, Number(li.dataset.seq));
    });
    return max;
  };

  Room.prototype.markRead = function () {
    var seq = this.lastSeq();
    if (document.hidden || seq <= this.readSeq) { return; }
    this.readSeq = seq;
    this.rt.read(this.stream, seq);
  };

  /* a message node: built from text nodes and <mark>s only */
  Room.prototype.node = function (message) {
    var li = el("li", "message chat");
    li.dataset.seq = String(message.seq);
    li.dataset.sender = String(message.sender_staff_id);
    if (message.sender_staff_id === this.me) { li.classList.add("out"); }
    if ((message.mentions || []).indexOf(this.me) >= 0) { li.classList.add("mentions-me"); }
    var meta = el("div", "meta");
    meta.appendChild(el("span", "sender", message.sender_name || ""));
    meta.appendChild(document.createTextNode(" · "));
    var time = el("time", "", clock(message.created_at));
    time.setAttribute("datetime", message.created_at || "");
    meta.appendChild(time);
    if (message.edited_at && !message.deleted) {
      meta.appendChild(document.createTextNode(" · "));
      meta.appendChild(el("span", "edited", this.root.dataset.tEdited));
    }
    li.appendChild(meta);
    li.appendChild(this.body(message));
    if (message.deleted) { li.classList.add("deleted"); }
    return li;
  };

  Room.prototype.body = function (message) {
    if (message.deleted) { return el("div", "body gone", this.root.dataset.tDeleted); }
    var body = el("div", "body");
    message.body.split(MENTION).forEach(function (part) {
      if (!part) { return; }
      body.appendChild(MENTION.test(part) && part.charAt(0) === "@" ?
        el("mark", "mention", part) : document.createTextNode(part));
    });
    return body;
  };

  /* a new message, or the current form of one we show: replace it in place */
  Room.prototype.show = function (message) {
    var node = this.node(message);
    var existing = this.list.querySelector('li[data-seq="' + message.seq + '"]');
    var pending = message.client_message_id &&
      this.list.querySelector('li[data-cmid="' + message.client_message_id + '"]');
    if (existing) {
      this.list.replaceChild(node, existing);
    } else if (pending) {
      this.list.replaceChild(node, pending);
    } else {
      this.list.appendChild(node);
    }
    delete this.typers[message.sender_name];
    this.renderTyping();
    this.scrollDown();
  };

  Room.prototype.scrollDown = function () {
    window.scrollTo(0, document.body.scrollHeight);
  };

  Room.prototype.mentionsIn = function (text) {
    var lower = text.toLowerCase();
    var me = this.me;
    return this.members.filter(function (m) {
      var first = m.name.split(" ")[0].toLowerCase();
      return m.id !== me && lower.indexOf("@" + first) >= 0;
    }).map(function (m) { return m.id; });
  };

  Room.prototype.send = function (text) {
    var self = this;
    var pendingNode = this.node({ seq: 0, sender_staff_id: this.me, body: text,
                                  sender_name: "", created_at: "", mentions: [] });
    pendingNode.removeAttribute("data-seq");
    pendingNode.classList.add("pending");
    pendingNode.querySelector(".meta").textContent = this.root.dataset.tPending;
    this.list.appendChild(pendingNode);
    this.scrollDown();
    var promise = this.rt.send(this.stream, text, { mentions: this.mentionsIn(text) });
    // the id the client picked: a message frame that arrives before the ack replaces it
    var ids = Object.keys(this.rt.pending);
    pendingNode.dataset.cmid = ids[ids.length - 1] || "";
    promise.then(function (ack) {
      if (pendingNode.parentNode) {
        pendingNode.classList.remove("pending");
        pendingNode.dataset.seq = String(ack.seq);
        pendingNode.querySelector(".meta").textContent = "";
      }
      self.markRead();
    }, function () {
      pendingNode.classList.add("failed");
      pendingNode.querySelector(".meta").textContent = self.root.dataset.tFailed;
    });
  };

  Room.prototype.bindComposer = function () {
    var self = this;
    var form = document.getElementById("composer");
    var box = document.getElementById("body");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = box.value.trim();
      if (!text) { return; }
      box.value = "";
      self.send(text);
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    box.addEventListener("input", function () { self.rt.typing(self.stream); });
  };

  Room.prototype.typing = function (user) {
    if (!user || user.id === this.me) { return; }
    var self = this;
    var name = user.name;
    clearTimeout(this.typers[name]);
    this.typers[name] = setTimeout(function () {
      delete self.typers[name];
      self.renderTyping();
    }, 4000);
    this.renderTyping();
  };

  Room.prototype.renderTyping = function () {
    var names = Object.keys(this.typers);
    var template = this.root.dataset.tTyping || "{name}";
    this.typingBox.textContent = names.length ? template.replace("{name}", names.join(", ")) : "";
  };

  Room.prototype.presenceAll = function (users) {
    for (var key in users) { this.presence(key, users[key]); }
  };

  Room.prototype.presence = function (key, state) {
    var dot = document.querySelector('[data-presence="' + key + '"]');
    if (!dot) { return; }
    dot.className = "dot " + state;
    dot.title = state;
  };

  /* older messages on demand, from the JSON API (oldest first) */
  Room.prototype.bindOlder = function () {
    var self = this;
    var button = document.getElementById("older");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var url = "/api/v1/rooms/messages?room_id=" + self.root.dataset.room +
        "&before=" + self.firstSeq;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) { self.prepend(data.messages || [], button); });
    });
  };

  Room.prototype.prepend = function (messages, button) {
    var first = this.list.firstElementChild;
    var self = this;
    messages.forEach(function (message) { self.list.insertBefore(self.node(message), first); });
    if (messages.length) { this.firstSeq = messages[0].seq; }
    if (!messages.length || this.firstSeq <= 1) { button.hidden = true; }
  };

  /* own messages: edit and delete from a small menu on click */
  Room.prototype.bindActions = function () {
    var self = this;
    this.list.addEventListener("click", function (event) {
      var li = event.target.closest("li.message.out[data-seq]");
      if (!li || li.classList.contains("deleted") || event.target.closest(".actions")) { return; }
      self.actions(li);
    });
  };

  Room.prototype.actions = function (li) {
    var self = this;
    var seq = Number(li.dataset.seq);
    if (li.querySelector(".actions")) { return; }
    var bar = el("div", "actions");
    var edit = el("button", "link", this.root.dataset.tEdit);
    var remove = el("button", "link", this.root.dataset.tDelete);
    edit.type = remove.type = "button";
    edit.addEventListener("click", function () {
      var current = li.querySelector(".body").textContent;
      var text = window.prompt(self.root.dataset.tEdit, current);
      if (text && text.trim() && text !== current) { self.rt.edit(self.stream, seq, text.trim()); }
      bar.remove();
    });
    remove.addEventListener("click", function () { self.rt.remove(self.stream, seq); bar.remove(); });
    bar.appendChild(edit);
    bar.appendChild(remove);
    li.appendChild(bar);
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-chat]");
    if (!root || !window.ZorghubRealtime) { return; }
    if (root.dataset.chat === "rooms") { roomList(root); }
    if (root.dataset.chat === "room") { new Room(root).start(); }
  });
})();
