// Live inbox, conversation and portal chat, on the realtime socket (docs/realtime.md).
// Frames only say *that* something changed; the HTML always comes from the server
// (fragments rendered and escaped by Jinja), so nothing a client wrote is ever turned
// into markup here. No inline script anywhere: the CSP forbids it.
"use strict";

(() => {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const post = (url, body) => fetch(url, {
    method: "POST", credentials: "same-origin", body,
    headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
  });
  const randomId = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID()
    : String(Date.now()) + Math.random().toString(16).slice(2)).replace(/[^A-Za-z0-9-]/g, "");

  // --- small enhancements -------------------------------------------------------------
  document.querySelectorAll("select[data-canned]").forEach((select) => {
    select.addEventListener("change", () => {
      const target = document.getElementById(select.dataset.canned);
      if (!target || !select.value) return;
      target.value = target.value ? `${target.value}\n\n${select.value}` : select.value;
      select.value = "";
      target.focus();
    });
  });
  document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
    form.querySelectorAll("select, input[type=checkbox]").forEach((field) => {
      field.addEventListener("change", () => form.requestSubmit());
    });
  });

  // what the live parts are doing, for people debugging a page (and for tests)
  const status = { connected: 0, subscribed: 0 };
  window.zhLive = status;

  // --- the socket: hub/static/realtime.js (resume, heartbeat, presence) -----------
  const connect = (path, onFrame, onError) => window.ZorghubRealtime.connect(path, {
    onFrame: (frame) => {
      if (frame.type === "subscribed") status.subscribed += 1;
      onFrame(frame);
    },
    onError: onError || (() => {}),
    onStatus: (state) => { if (state === "open") status.connected += 1; },
    onSessionEnded: () => location.reload(), // the login page takes over
  });

  // --- one conversation (staff app and portal) ---------------------------------------
  function liveConversation(list) {
    const stream = list.dataset.stream;
    const reader = list.dataset.reader; // "staff" or "portal": whose reading we report
    const other = reader === "staff" ? "portal" : "staff";
    const lastSeq = () => Math.max(0, ...[...list.querySelectorAll("[data-seq]")]
      .map((li) => Number(li.dataset.seq)), Number(list.dataset.seq) || 0);
    let fetching = null;

    const markRead = (seq) => {
      if (!seq || document.visibilityState !== "visible" || !list.dataset.readUrl) return;
      const body = new FormData();
      body.set("seq", String(seq));
      post(list.dataset.readUrl, body);
    };

    const showStale = () => {
      const notice = document.getElementById("live-notice");
      if (notice) notice.hidden = false;
    };

    const load = async () => {
      const after = lastSeq();
      const response = await fetch(`${list.dataset.fragment}?after=${after}`,
        { credentials: "same-origin" });
      if (!response.ok) return;
      const html = await response.text();
      if (lastSeq() !== after) return; // another load got there first
      const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 200;
      list.insertAdjacentHTML("beforeend", html);
      const empty = document.getElementById("no-messages");
      if (empty && html.trim()) empty.hidden = true;
      list.dataset.seq = String(lastSeq());
      const version = response.headers.get("X-Conversation-Version");
      const state = response.headers.get("X-Conversation-Status");
      if (state && list.dataset.status && state !== list.dataset.status) showStale();
      else if (version) setVersion(version);
      if (nearBottom && list.lastElementChild) list.lastElementChild.scrollIntoView({ block: "end" });
      markRead(lastSeq());
    };

    const refresh = () => {
      if (!fetching) fetching = load().finally(() => { fetching = null; });
      else fetching.then(() => refresh());
    };

    const setVersion = (version) => {
      list.dataset.version = version;
      document.querySelectorAll('input[name="version"]').forEach((input) => { input.value = version; });
    };

    // the other side read up to ``upTo``: our messages up to there show as read
    const markDelivered = (upTo) => {
      list.querySelectorAll(".delivery").forEach((label) => {
        const item = label.closest("[data-seq]");
        const ok = ["sent", "delivered"].includes(label.dataset.status);
        if (ok && Number(item.dataset.seq) <= upTo) {
          label.dataset.status = "read";
          label.className = "delivery read";
          label.textContent = list.dataset.readLabel || "✓✓";
        }
      });
    };

    // a message we show changed (delivery status, error): put the server's rendering of
    // it in place of ours (the frame carries the message's own seq, which we have)
    const replace = async (seq) => {
      const response = await fetch(`${list.dataset.fragment}?after=${seq - 1}`,
        { credentials: "same-origin" });
      if (!response.ok) return;
      const parsed = document.createElement("template");
      parsed.innerHTML = await response.text();
      const fresh = parsed.content.querySelector(`[data-seq="${seq}"]`);
      const shown = list.querySelector(`[data-seq="${seq}"]`);
      if (fresh && shown) shown.replaceWith(fresh);
    };

    const onFrame = (frame) => {
      if (frame.stream && frame.stream !== stream) return;
      if (frame.type === "message") refresh();
      else if (frame.type === "message_updated") {
        if (list.querySelector(`[data-seq="${Number(frame.seq)}"]`)) replace(Number(frame.seq));
        else refresh();
      }
      else if (frame.type === "conversation_updated" && String(frame.version) !== list.dataset.version) {
        if (frame.change === "status" || frame.change === "assign" || frame.change === "link") showStale();
      } else if (frame.type === "delivery" && frame.reader === other) markDelivered(frame.up_to);
      else if (frame.type === "read" && frame.user && frame.user.kind === other) markDelivered(frame.seq);
      else if (frame.type === "subscribed" && Array.isArray(frame.reads)) {
        const theirs = frame.reads.filter((r) => String(r.user).startsWith(`${other}:`));
        if (theirs.length) markDelivered(Math.max(...theirs.map((r) => r.seq)));
      }
    };

    const rt = connect(list.dataset.socket, onFrame);
    rt.subscribe(stream, { after: Number(list.dataset.seq) || 0 });
    document.addEventListener("visibilitychange", () => markRead(lastSeq()));
    if (list.lastElementChild && location.hash === "") list.lastElementChild.scrollIntoView({ block: "end" });
    return refresh;
  }

  // --- the inbox list -----------------------------------------------------------------
  function liveInbox(box) {
    const rows = box.querySelector("#convlist");
    const notice = document.getElementById("live-notice");
    const firstPage = box.dataset.firstPage === "1";
    let timer = null;
    let fallback = false; // no inbox stream on this server: follow the rows one by one

    const changed = () => {
      if (!firstPage) { if (notice) notice.hidden = false; return; }
      clearTimeout(timer);
      timer = setTimeout(reload, 400);
    };

    let inboxSubscribed = 0;
    const onFrame = (frame) => {
      if (frame.type === "subscribed" && frame.stream === "inbox") {
        inboxSubscribed += 1;
        if (inboxSubscribed > 1) changed(); // back after a reconnect: catch up on the list
      } else if (["message", "conversation_updated", "message_updated"].includes(frame.type)) {
        changed();
      }
    };
    const rt = connect(box.dataset.socket, onFrame);

    const shown = () => new Map([...rows.querySelectorAll("[data-conversation]")]
      .map((li) => [`conversation:${li.dataset.conversation}`, Number(li.dataset.seq) || 0]));

    const follow = () => {
      const wanted = shown();
      Object.keys(rt.streams).filter((s) => s.startsWith("conversation:") && !wanted.has(s))
        .forEach((s) => rt.unsubscribe(s));
      wanted.forEach((seq, s) => { if (!rt.streams[s]) rt.subscribe(s, { after: seq }); });
    };

    const reload = async () => {
      const response = await fetch(box.dataset.fragment, { credentials: "same-origin" });
      if (!response.ok) return;
      const before = new Map([...rows.querySelectorAll("[data-conversation]")]
        .map((li) => [li.dataset.conversation, li.dataset.seq]));
      rows.innerHTML = await response.text();
      rows.querySelectorAll("[data-conversation]").forEach((li) => {
        if (before.get(li.dataset.conversation) !== li.dataset.seq) li.classList.add("fresh");
      });
      if (fallback) follow();
    };

    const startFallback = () => {
      if (fallback) return;
      // this server has no inbox stream: follow the conversations shown, and look for
      // new conversations now and then
      fallback = true;
      follow();
      setInterval(changed, 30000);
    };

    // one inbox stream: changes of the conversations we may see, new ones included;
    // registered as a stream so realtime.js subscribes again after a reconnect
    const ask = () => rt.request({ type: "subscribe", stream: "inbox" }).then(() => {
      rt.streams.inbox = rt.streams.inbox || { last: 0 };
      status.inbox = "stream";
    }, () => { status.inbox = "fallback"; startFallback(); });
    if (rt.hello) ask();
    else {
      const wait = setInterval(() => { if (rt.hello) { clearInterval(wait); ask(); } }, 100);
    }
  }

  // --- the portal composer: send without leaving the page -----------------------------
  function chatComposer(form, refresh) {
    const error = form.querySelector("[data-error]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const response = await post(form.action, new FormData(form));
        if (response.ok) {
          form.reset();
          form.querySelector('input[name="client_msg_id"]').value = randomId();
          if (error) error.hidden = true;
          if (refresh) refresh();
        } else if (error) {
          let text = `${response.status}`;
          try { text = (await response.json()).error.message; } catch (e) { /* keep status */ }
          error.textContent = text;
          error.hidden = false;
        }
      } finally {
        button.disabled = false;
      }
    });
  }

  const live = "WebSocket" in window && window.ZorghubRealtime;
  const thread = document.querySelector('[data-live="conversation"]');
  const refresh = thread && live ? liveConversation(thread) : null;
  const inbox = document.querySelector('[data-live="inbox"]');
  if (inbox && live) liveInbox(inbox);
  document.querySelectorAll("form[data-chat]").forEach((form) => chatComposer(form, refresh));
})();
