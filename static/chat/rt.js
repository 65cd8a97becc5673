/*
 * The browser's side of the realtime protocol (docs/realtime-protocol.md): one
 * websocket per tab, authenticated by a short-lived token from the portal, with
 * requests matched to replies by "ref" and automatic reconnection.
 *
 * Why reconnection lives here and not in each page: every page (the 在线部门 list,
 * the enterprise's widget, the staff console) must survive a dropped network, a
 * restarted server (close 1001) and a sleeping laptop the same way: back off
 * (1 s, 2 s, 4 s … 30 s, with jitter), fetch a fresh token (they live a minute),
 * authenticate, then let the page re-join what it was showing.
 */

const MAX_DELAY = 30000;
const REQUEST_TIMEOUT = 15000;
const PING_EVERY = 25000;
const PONG_WITHIN = 10000;
/* closes that reconnecting cannot fix: a bug on our side, not the network */
const FATAL = new Set([4400, 4401]);
/* the portal session behind the connection ended (signed out elsewhere, password changed) */
const SIGNED_OUT = 4403;

export class RealtimeClient {
  /**
   * @param {object} options
   *   tokenUrl: the portal's GET /realtime/token (add ?watch=1 for presence only)
   *   onReady(authOk): called after every successful (re)authentication
   *   onEvent(message): every message that is not a reply to a request
   *   onStatus(status, detail): "connecting" | "open" | "waiting" {seconds} | "broken"
   *     | "signed_out" (the portal session ended: no reconnecting)
   */
  constructor(options) {
    this.tokenUrl = options.tokenUrl;
    this.onReady = options.onReady || (() => {});
    this.onEvent = options.onEvent || (() => {});
    this.onStatus = options.onStatus || (() => {});
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.counter = 0;
    this.pending = new Map();
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.stopped = false;
    window.addEventListener("online", () => this.reconnectNow());
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) {
      this.ws.close(1000);
    }
  }

  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) {
      return;
    }
    clearTimeout(this.retryTimer);
    this.connect();
  }

  async connect() {
    this.onStatus("connecting");
    let grant;
    try {
      const response = await fetch(this.tokenUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
      if (!response.ok) {
        throw new Error("token " + response.status);
      }
      grant = await response.json();
    } catch (e) {
      this.retry();
      return;
    }
    const ws = new WebSocket(grant.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token: grant.token }));
    });
    ws.addEventListener("message", (event) => this.receive(ws, event.data));
    ws.addEventListener("close", (event) => this.closed(ws, event.code));
    ws.addEventListener("error", () => {
      /* a close event follows; reconnection is handled there */
    });
  }

  receive(ws, data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (message.type === "auth.ok") {
      this.ready = true;
      this.attempt = 0;
      this.onStatus("open");
      this.schedulePing();
      this.onReady(message);
      return;
    }
    if (message.type === "pong") {
      clearTimeout(this.pongTimer);
    }
    if (message.ref !== undefined && this.pending.has(message.ref)) {
      const waiter = this.pending.get(message.ref);
      this.pending.delete(message.ref);
      clearTimeout(waiter.timer);
      if (message.type === "error") {
        waiter.reject(message);
      } else {
        waiter.resolve(message);
      }
      return;
    }
    this.onEvent(message);
  }

  closed(ws, code) {
    if (ws !== this.ws) {
      return;
    }
    this.ready = false;
    this.ws = null;
    clearTimeout(this.pingTimer);
    clearTimeout(this.pongTimer);
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject({ type: "error", code: "disconnected" });
    }
    this.pending.clear();
    if (this.stopped) {
      return;
    }
    if (FATAL.has(code)) {
      this.onStatus("broken", { code: code });
      return;
    }
    if (code === SIGNED_OUT) {
      // A fresh token would name nobody: the page asks to sign in again instead.
      this.stopped = true;
      this.onStatus("signed_out", { code: code });
      return;
    }
    this.retry();
  }

  retry() {
    const base = Math.min(MAX_DELAY, 1000 * 2 ** this.attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt += 1;
    this.onStatus("waiting", { seconds: Math.ceil(delay / 1000) });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  schedulePing() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      if (!this.ready) {
        return;
      }
      const ws = this.ws;
      this.send({ type: "ping" });
      // A link that died without a close (a sleeping laptop, a NAT timeout) is
      // noticed here rather than when the next message fails.
      this.pongTimer = setTimeout(() => {
        if (ws === this.ws && ws) {
          ws.close(4000);
        }
      }, PONG_WITHIN);
      this.schedulePing();
    }, PING_EVERY);
  }

  /** Send without waiting for an answer; false while not connected. */
  send(message) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return false;
    }
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send and resolve with the reply (rejects with the error message, or
   * {code: "disconnected"} when the link goes first). */
  request(message, timeout = REQUEST_TIMEOUT) {
    return new Promise((resolve, reject) => {
      this.counter += 1;
      const ref = this.counter;
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject({ type: "error", code: "timeout" });
      }, timeout);
      this.pending.set(ref, { resolve, reject, timer });
      if (!this.send({ ...message, ref: ref })) {
        clearTimeout(timer);
        this.pending.delete(ref);
        reject({ type: "error", code: "disconnected" });
      }
    });
  }
}

/** Read the page's configuration (a JSON data block, allowed by the CSP). */
export function pageConfig() {
  const node = document.getElementById("chat-config");
  return node ? JSON.parse(node.textContent) : null;
}

/** Fill ${name} placeholders of a translated text. */
export function fill(template, values) {
  return String(template).replace(/\$\{(\w+)\}/g, (m, key) =>
    values && key in values ? String(values[key]) : m,
  );
}

/** Show the connection state in a banner; returns the onStatus callback. */
export function connectionBanner(root, text, client) {
  const banner = root.querySelector("[data-conn-banner]");
  const label = root.querySelector("[data-conn-text]");
  const button = root.querySelector("[data-reconnect]");
  if (button) {
    button.addEventListener("click", () => client().reconnectNow());
  }
  let countdown = null;
  return (status, detail) => {
    clearInterval(countdown);
    if (!banner) {
      return;
    }
    if (status === "open" || status === "connecting") {
      banner.hidden = status === "open" || !banner.dataset.shown;
      return;
    }
    banner.dataset.shown = "1";
    banner.hidden = false;
    if (status === "broken" || status === "signed_out") {
      label.textContent = status === "broken" ? text.broken : text.signed_out;
      button.hidden = true;
      return;
    }
    let left = detail.seconds;
    label.textContent = fill(text.reconnecting, { n: left });
    countdown = setInterval(() => {
      left = Math.max(0, left - 1);
      label.textContent = fill(text.reconnecting, { n: left });
    }, 1000);
  };
}
