/*
 * One conversation on screen: its messages in sequence order, an outbox of messages
 * not yet acknowledged, typing and read receipts, attachments.
 *
 * The client's half of "no message lost, none duplicated, order kept"
 * (docs/realtime-protocol.md, Messages):
 *   - a sent message stays in the outbox, shown as "sending", until its chat.ack;
 *   - `last` is the highest sequence number shown with nothing missing below it;
 *   - after a reconnect, join(since = last) returns what was missed, then the
 *     outbox is resent with the same client_msg_id (the server answers a resend of a
 *     stored message with its original seq instead of storing it twice);
 *   - an event with seq <= last is dropped, one with a gap is held until a
 *     chat.sync fills the gap.
 * Everything is written with textContent: a message can never become markup.
 */

import { fill } from "./rt.js";

const TYPING_EVERY = 3000;
const TYPING_IDLE = 4000;
const TIME = new Intl.DateTimeFormat("zh-CN", {
  hour: "2-digit",
  minute: "2-digit",
  timeZone: "Asia/Shanghai",
});

function newId() {
  if (window.crypto && window.crypto.randomUUID) {
    return "c-" + window.crypto.randomUUID();
  }
  return "c-" + Date.now().toString(36) + Math.random().toString(36).slice(2);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export function fileUrl(base, attachment) {
  return base + attachment.id + "/" + encodeURIComponent(attachment.filename);
}

export class ConversationView {
  /**
   * @param {RealtimeClient} client
   * @param {number} id
   * @param {object} options
   *   mySide: "enterprise" | "staff"; text: translated words; fileBase: "/chat/files/"
   *   list: the <ol> of messages; typing: the typing line
   *   onState(conversation, event), onError(error), onUnread()
   */
  constructor(client, id, options) {
    this.client = client;
    this.id = id;
    this.options = options;
    this.text = options.text;
    this.list = options.list;
    this.last = 0;
    this.held = new Map();
    this.outbox = new Map();
    this.items = new Map(); // seq -> <li> of my messages (for read receipts)
    this.otherRead = 0;
    this.side = null;
    this.conversation = null;
    this.typingSent = 0;
    this.typingTimer = null;
    this.typingShown = new Map();
    this.readSent = 0;
    this.syncing = false;
    if (options.keep) {
      // a transcript rendered by the server: continue after its last message
      this.last = options.last || 0;
    } else {
      this.list.textContent = "";
    }
  }

  /** (Re)join: fetch what was missed, then resend the outbox. */
  async join() {
    const reply = await this.client.request({
      type: "chat.join",
      conversation: this.id,
      since: this.last,
    });
    this.side = reply.side;
    this.update(reply.conversation, "joined", reply.queue);
    this.accept(reply.messages);
    if (reply.more) {
      await this.sync();
    }
    for (const id of this.outbox.keys()) {
      this.transmit(id);
    }
    this.markRead();
    return reply;
  }

  leave() {
    this.client.send({ type: "chat.leave", conversation: this.id });
  }

  async sync() {
    if (this.syncing) {
      return;
    }
    this.syncing = true;
    try {
      let more = true;
      while (more) {
        const reply = await this.client.request({
          type: "chat.sync",
          conversation: this.id,
          since: this.last,
        });
        this.accept(reply.messages);
        more = reply.more && reply.messages.length > 0;
      }
    } catch (e) {
      /* the next join repairs it */
    } finally {
      this.syncing = false;
    }
  }

  update(conversation, event, queue) {
    if (!conversation) {
      return;
    }
    this.conversation = conversation;
    const read = conversation.read || {};
    const other = this.options.mySide === "staff" ? read.enterprise : read.staff;
    this.showRead(other || 0);
    if (this.options.onState) {
      this.options.onState(conversation, event, queue);
    }
  }

  /** Handle an event of this conversation; true if it was one. */
  handle(message) {
    const conv = message.conversation;
    const convId = typeof conv === "object" && conv ? conv.id : conv;
    if (message.type === "chat.message") {
      if (message.message.conversation !== this.id) {
        return false;
      }
      this.accept([message.message]);
      this.markRead();
      return true;
    }
    if (convId !== this.id) {
      return false;
    }
    if (message.type === "chat.state") {
      this.update(message.conversation, message.event, null);
    } else if (message.type === "chat.queue") {
      if (this.options.onState) {
        this.options.onState(this.conversation, "queue", message.queue);
      }
    } else if (message.type === "chat.typing") {
      this.showTyping(message);
    } else if (message.type === "chat.read") {
      if (message.side !== this.options.mySide) {
        this.showRead(message.seq);
      }
    }
    return true;
  }

  accept(messages) {
    for (const m of messages) {
      if (m.seq <= this.last) {
        continue;
      }
      this.held.set(m.seq, m);
    }
    while (this.held.has(this.last + 1)) {
      const m = this.held.get(this.last + 1);
      this.held.delete(this.last + 1);
      this.last = m.seq;
      this.render(m);
    }
    if (this.held.size) {
      this.sync(); // a gap: two processes published out of order, or one was missed
    }
  }

  render(m) {
    const pending = m.client_msg_id && this.outbox.get(m.client_msg_id);
    let li = pending ? pending.li : null;
    if (pending) {
      this.outbox.delete(m.client_msg_id);
      li.remove(); // re-inserted at its place in sequence
    }
    li = this.messageItem(m, li);
    this.list.appendChild(li);
    if (m.sender && m.side === this.options.mySide && m.kind !== "system") {
      this.items.set(m.seq, li);
      this.setReceipt(li, m.seq <= this.otherRead ? this.text.read : this.text.sent);
    } else if (m.side !== "system" && this.options.onUnread && document.hidden) {
      this.options.onUnread();
    }
    this.clearTyping(m.sender);
    this.scroll();
  }

  messageItem(m, reuse) {
    const li = reuse || el("li");
    li.textContent = "";
    const mine = m.side === this.options.mySide;
    li.className = "msg msg-" + m.side + (mine ? " msg-mine" : "");
    li.dataset.seq = m.seq;
    const at = m.at ? TIME.format(new Date(m.at)) : "";
    if (m.kind === "system") {
      const data = m.data || {};
      const label = this.text["system_" + m.body] || m.body;
      const p = el("p", "msg-system", fill(label, { name: data.name || "" }) + " ");
      const time = el("time", null, at);
      time.dateTime = m.at;
      p.appendChild(time);
      li.appendChild(p);
      return li;
    }
    const meta = el("p", "msg-meta");
    meta.appendChild(el("span", "msg-name", mine ? this.text.you : m.name));
    meta.appendChild(document.createTextNode(" "));
    const time = el("time", null, at);
    time.dateTime = m.at || "";
    meta.appendChild(time);
    li.appendChild(meta);
    const bubble = el("div", "msg-bubble");
    if (m.attachment) {
      const p = el("p", "msg-file");
      const a = el("a", null, m.attachment.filename);
      a.href = fileUrl(this.options.fileBase, m.attachment);
      a.setAttribute("download", "");
      p.appendChild(a);
      p.appendChild(el("span", "meta", " " + (m.attachment.size / 1024).toFixed(1) + " KB"));
      bubble.appendChild(p);
    }
    if (m.body) {
      bubble.appendChild(el("p", "msg-text", m.body));
    }
    li.appendChild(bubble);
    if (mine) {
      li.appendChild(el("p", "msg-receipt"));
    }
    return li;
  }

  setReceipt(li, label) {
    const receipt = li.querySelector(".msg-receipt");
    if (receipt) {
      receipt.textContent = label;
    }
  }

  showRead(seq) {
    if (seq <= this.otherRead) {
      return;
    }
    this.otherRead = seq;
    for (const [s, li] of this.items) {
      if (s <= seq) {
        this.setReceipt(li, this.text.read);
        this.items.delete(s);
      }
    }
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  /* -- sending ------------------------------------------------------------------ */
  send(body, extra) {
    const id = newId();
    const message = { body: body, kind: "text", ...(extra || {}) };
    const li = this.messageItem({
      side: this.options.mySide,
      kind: message.kind,
      body: body,
      name: "",
      at: new Date().toISOString(),
      attachment: message.attachmentInfo,
    });
    li.classList.add("msg-pending");
    this.setReceipt(li, this.text.sending);
    this.list.appendChild(li);
    this.scroll();
    this.outbox.set(id, { message: message, li: li });
    this.transmit(id);
    this.sendTyping(false);
  }

  async transmit(id) {
    const entry = this.outbox.get(id);
    if (!entry || entry.inFlight) {
      return;
    }
    entry.inFlight = true;
    const m = entry.message;
    const request = {
      type: "chat.send",
      conversation: this.id,
      client_msg_id: id,
      body: m.body,
      kind: m.kind,
    };
    if (m.attachment) {
      request.attachment = m.attachment;
    }
    try {
      const ack = await this.client.request(request);
      entry.li.classList.remove("msg-pending");
      this.accept([ack.message]);
    } catch (error) {
      entry.inFlight = false;
      if (["disconnected", "timeout", "rate_limited", "internal"].includes(error.code)) {
        // Kept in the outbox: resent after the reconnect (or the next message).
        this.setReceipt(entry.li, this.text.unsent);
        if (error.code === "rate_limited") {
          setTimeout(() => this.transmit(id), 1500);
        }
        return;
      }
      this.outbox.delete(id);
      entry.li.classList.add("msg-failed");
      this.setReceipt(entry.li, this.text["error_" + error.code] || this.text.error_invalid);
      if (this.options.onError) {
        this.options.onError(error);
      }
    }
  }

  /* -- typing and read marks -------------------------------------------------------- */
  typed() {
    const now = Date.now();
    if (now - this.typingSent > TYPING_EVERY) {
      this.sendTyping(true);
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.sendTyping(false), TYPING_IDLE);
  }

  sendTyping(on) {
    if (!this.writable()) {
      return;
    }
    this.typingSent = on ? Date.now() : 0;
    if (!on) {
      clearTimeout(this.typingTimer);
    }
    this.client.send({ type: "chat.typing", conversation: this.id, typing: on });
  }

  writable() {
    return (
      this.conversation &&
      this.conversation.state !== "closed" &&
      (this.side === "enterprise" || this.side === "staff")
    );
  }

  showTyping(message) {
    if (message.side === this.options.mySide) {
      return;
    }
    clearTimeout(this.typingShown.get(message.user));
    if (message.typing) {
      this.options.typing.textContent = fill(this.text.typing, { name: message.name });
      // a "stopped typing" lost with a dropped link must not leave the line forever
      this.typingShown.set(
        message.user,
        setTimeout(() => this.clearTyping(message.user), TYPING_IDLE * 2),
      );
    } else {
      this.clearTyping(message.user);
    }
  }

  clearTyping(user) {
    if (user === undefined || this.typingShown.has(user)) {
      clearTimeout(this.typingShown.get(user));
      this.typingShown.delete(user);
      if (!this.typingShown.size) {
        this.options.typing.textContent = "";
      }
    }
  }

  /** Tell the other side what this side has seen (only while the tab is visible). */
  markRead() {
    if (document.hidden || this.last <= this.readSent) {
      return;
    }
    if (this.side !== "enterprise" && this.side !== "staff") {
      return; // an observer's reading is nobody's read receipt
    }
    this.readSent = this.last;
    this.client.send({ type: "chat.read", conversation: this.id, seq: this.last });
  }
}

/** Upload a file over HTTP (the portal checks it), then announce it in the chat. */
export async function uploadAndSend(view, file, config) {
  const form = new FormData();
  form.append("csrf_token", config.csrf);
  form.append("upload", file, file.name);
  const url = config.uploadUrl.replace("/0/", "/" + view.id + "/");
  const response = await fetch(url, {
    method: "POST",
    body: form,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": config.csrf },
  });
  let data = {};
  try {
    data = await response.json();
  } catch (e) {
    data = { ok: false };
  }
  if (!response.ok || !data.ok) {
    throw new Error(data.message || config.text.error_upload);
  }
  view.send("", {
    kind: "attachment",
    attachment: data.attachment.id,
    attachmentInfo: data.attachment,
  });
  return data.attachment;
}

/** Enter sends, Shift+Enter breaks the line; typing notifies the other side. */
export function wireComposer(form, textarea, getView) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  textarea.addEventListener("input", () => {
    const view = getView();
    if (view && textarea.value.trim()) {
      view.typed();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const view = getView();
    const body = textarea.value.trim();
    if (!view || !body) {
      return;
    }
    view.send(body);
    textarea.value = "";
    textarea.focus();
  });
}
