/*
 * The enterprise's chat with one department (portal/templates/chat/department.jinja2).
 *
 * States the panel goes through: connecting → the department is online (start form)
 * or offline (留言 form) → a conversation (queue position while waiting, then the
 * staff member's answers) → ended (rating). A conversation still open from an earlier
 * visit is joined again at once, with its history.
 */

import { RealtimeClient, connectionBanner, fill, pageConfig } from "./rt.js";
import { ConversationView, uploadAndSend, wireComposer } from "./conversation.js";

const config = pageConfig();
const text = config.text;
const root = document.querySelector("[data-chat-widget]");
const $ = (selector) => root.querySelector(selector);

const statusBox = $("[data-dept-status]");
const statusText = $("[data-status-text]");
const startForm = $("[data-start-form]");
const chatBox = $("[data-chat-box]");
const queueLine = $("[data-queue]");
const assignedLine = $("[data-assigned]");
const composer = $("[data-composer]");
const textarea = composer.querySelector("textarea");
const composerError = $("[data-composer-error]");
const ended = $("[data-ended]");
const ratingForm = ended.querySelector("[data-rating-form]");
const rated = $("[data-rated]");
const offline = $("[data-offline]");
const offlineToggle = $("[data-offline-toggle]");

let online = null; // null until the first presence snapshot
let view = null; // the ConversationView shown
let client = null;

function setOnline(count) {
  online = count > 0;
  statusBox.classList.toggle("is-online", online);
  statusBox.classList.toggle("is-offline", !online);
  const label = online ? text.online : text.offline;
  let detail = online ? text.dept_online : text.dept_offline;
  if (view) {
    detail = online ? "" : text.dept_offline_waiting;
  }
  statusText.textContent = detail ? label + " · " + detail : label;
  showPanels();
}

function showPanels() {
  const active = view && view.conversation && view.conversation.state !== "closed";
  const finished = view && view.conversation && view.conversation.state === "closed";
  chatBox.hidden = !view;
  startForm.hidden = Boolean(view) || online !== true;
  // 留言 is offered whenever nobody can answer live; while online it is one click away.
  const wantOffline = !active && !finished && online === false;
  if (wantOffline) {
    offline.hidden = false;
  }
  // while waiting in vain (nobody online any more) 留言 is offered as well
  const waitingInVain = active && view.conversation.state === "waiting" && online === false;
  offlineToggle.hidden = !offline.hidden || online === null || (Boolean(active) && !waitingInVain);
}

function showState(conversation, event, queue) {
  if (!conversation) {
    return;
  }
  const closed = conversation.state === "closed";
  composer.hidden = closed;
  ended.hidden = !closed;
  if (closed) {
    queueLine.hidden = true;
    const link = ended.querySelector("[data-transcript-link]");
    link.href = config.conversationUrl.replace(/\/0$/, "/" + conversation.id);
    ratingForm.hidden = conversation.rating !== null && conversation.rating !== undefined;
    if (!ratingForm.hidden && event === "closed") {
      ratingForm.querySelector("input[type=radio]").focus();
    }
  } else if (conversation.state === "waiting") {
    showQueue(queue);
  } else {
    queueLine.hidden = true;
  }
  if (conversation.state === "open" && event !== "queue") {
    assignedLine.hidden = true;
  }
  showPanels();
  if (online !== null) {
    setOnline(online ? 1 : 0); // refresh the status line for the new state
  }
}

function showQueue(queue) {
  if (!queue) {
    queueLine.hidden = false;
    queueLine.textContent = text.waiting;
    return;
  }
  queueLine.hidden = false;
  queueLine.textContent = fill(text.queue, {
    position: queue.position,
    waiting: queue.waiting,
    minutes: Math.max(1, Math.round(queue.wait / 60)),
  });
}

async function show(conversationId) {
  if (view && view.id !== conversationId) {
    view.leave();
  }
  if (!view || view.id !== conversationId) {
    view = new ConversationView(client, conversationId, {
      mySide: "enterprise",
      text: text,
      fileBase: config.fileBase,
      list: $("[data-messages]"),
      typing: $("[data-typing]"),
      onState: showState,
      onUnread: () => {
        document.title = "● " + document.title.replace(/^● /, "");
      },
    });
  }
  chatBox.hidden = false;
  offline.hidden = true;
  await view.join();
}

async function ready() {
  try {
    const snapshot = await client.request({ type: "presence.subscribe" });
    setOnline((snapshot.departments || {})[String(config.department)] || 0);
    if (view) {
      await view.join(); // a reconnect: fetch what was missed, resend the outbox
      return;
    }
    const history = await client.request({ type: "chat.history" });
    const current = history.conversations.find(
      (c) => c.department_id === config.department && c.state !== "closed",
    );
    if (current) {
      await show(current.id);
    }
  } catch (error) {
    statusText.textContent = text["error_" + error.code] || text.error_internal;
  }
}

function event(message) {
  if (message.type === "presence.department") {
    if (message.department === config.department) {
      setOnline(message.staff);
    }
    return;
  }
  if (view && view.handle(message)) {
    return;
  }
  if (message.type === "chat.state" && message.conversation.department_id === config.department) {
    // another tab of ours opened a conversation with this department
    if (!view && message.conversation.state !== "closed") {
      show(message.conversation.id);
    }
  }
}

startForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = startForm.querySelector("button");
  button.disabled = true;
  try {
    const topic = startForm.querySelector("input[name=topic]").value.trim();
    const opened = await client.request({
      type: "chat.open",
      department: config.department,
      topic: topic,
    });
    await show(opened.conversation.id);
    showState(opened.conversation, "opened", opened.queue);
    textarea.focus();
  } catch (error) {
    if (error.code === "department_offline") {
      setOnline(0);
      offline.hidden = false;
      offline.querySelector("select, input").focus();
    }
    statusText.textContent = text["error_" + error.code] || text.error_internal;
  } finally {
    button.disabled = false;
  }
});

wireComposer(composer, textarea, () => view);

composer.querySelector("[data-file]").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file || !view) {
    return;
  }
  composerError.hidden = true;
  try {
    await uploadAndSend(view, file, config);
  } catch (error) {
    composerError.textContent = error.message;
    composerError.hidden = false;
  }
});

$("[data-close]").addEventListener("click", async () => {
  if (!view || !window.confirm(text.confirm_close)) {
    return;
  }
  try {
    const reply = await client.request({ type: "chat.close", conversation: view.id });
    view.update(reply.conversation, "closed");
  } catch (error) {
    composerError.textContent = text["error_" + error.code] || text.error_internal;
    composerError.hidden = false;
  }
});

ratingForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = ratingForm.querySelector("[data-error]");
  const choice = ratingForm.querySelector("input[name=rating]:checked");
  if (!choice) {
    error.textContent = text.choose_rating;
    error.hidden = false;
    return;
  }
  try {
    const reply = await client.request({
      type: "chat.rate",
      conversation: view.id,
      rating: Number(choice.value),
      comment: ratingForm.querySelector("textarea").value,
    });
    view.update(reply.conversation, "rated");
    error.hidden = true;
    rated.textContent = text.rated;
    rated.hidden = false;
  } catch (err) {
    error.textContent = text["error_" + err.code] || text.error_internal;
    error.hidden = false;
  }
});

ended.querySelector("[data-new-chat]").addEventListener("click", () => {
  if (view) {
    view.leave();
  }
  view = null;
  ended.hidden = true;
  rated.hidden = true;
  ratingForm.reset();
  chatBox.hidden = true;
  setOnline(online ? 1 : 0);
  (startForm.hidden ? offline : startForm).querySelector("input, select").focus();
});

offlineToggle.querySelector("button").addEventListener("click", () => {
  offline.hidden = false;
  offlineToggle.hidden = true;
  offline.querySelector("select").focus();
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    document.title = document.title.replace(/^● /, "");
    if (view) {
      view.markRead();
    }
  }
});

client = new RealtimeClient({
  tokenUrl: config.tokenUrl,
  onReady: ready,
  onEvent: event,
  onStatus: connectionBanner(root, text, () => client),
});
client.start();
