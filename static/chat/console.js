/*
 * The staff console (portal/templates/chat/console.jinja2): the department's inbox
 * (waiting / mine / all open) on the left, one conversation on the right.
 *
 * Being connected here is what makes a staff member count as online (with the
 * status they chose: 在线/忙碌/离开); the inbox is re-read whenever the server says
 * the department's conversations changed, and every conversation assigned to me is
 * joined so its unread count moves even while another one is on screen.
 */

import { RealtimeClient, connectionBanner, fill, pageConfig } from "./rt.js";
import { ConversationView, uploadAndSend, wireComposer } from "./conversation.js";

const config = pageConfig();
const text = config.text;
const page = document.querySelector("main");
const root = document.querySelector("[data-console]");

if (root) {
  const $ = (selector) => root.querySelector(selector);
  const tabs = Array.from(root.querySelectorAll("[role=tab]"));
  const inboxList = $("[data-inbox]");
  const title = $("[data-conv-title]");
  const meta = $("[data-conv-meta]");
  const actions = $("[data-conv-actions]");
  const claimButton = $("[data-claim]");
  const transferOpen = $("[data-transfer-open]");
  const transferForm = $("[data-transfer-form]");
  const transferError = $("[data-transfer-error]");
  const transferNote = $("[data-transfer-note]");
  const caseButton = $("[data-to-case]");
  const closeButton = $("[data-close]");
  const transcript = $("[data-transcript]");
  const composer = $("[data-composer]");
  const textarea = composer.querySelector("textarea");
  const composerError = $("[data-composer-error]");
  const readOnly = $("[data-read-only]");
  const canned = $("[data-canned]");
  const statusSelect = document.querySelector("[data-my-status]");
  const connState = document.querySelector("[data-conn-state]");
  const baseTitle = document.title;

  let client = null;
  let current = "waiting";
  const lists = { waiting: [], mine: [], open: [] };
  const names = new Map(); // conversation id -> {enterprise, user, topic, ...}
  const unread = new Map(); // conversation id -> count
  const views = new Map(); // conversation id -> ConversationView (joined)
  let active = null; // the ConversationView on screen
  let refreshTimer = null;

  const urlFor = (template, id) => template.replace("/0", "/" + id);

  /* -- names (the protocol carries ids only) --------------------------------------- */
  async function learnNames(conversations) {
    const missing = conversations.map((c) => c.id).filter((id) => !names.has(id));
    if (!missing.length) {
      return;
    }
    const query = missing.map((id) => "id=" + id).join("&");
    try {
      const response = await fetch(config.detailsUrl + "?" + query, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const data = await response.json();
      for (const [id, details] of Object.entries(data.conversations)) {
        names.set(Number(id), details);
      }
    } catch (e) {
      /* names come with the next refresh */
    }
  }

  function label(conversation) {
    const details = names.get(conversation.id) || {};
    const who = details.enterprise || details.user || "#" + conversation.id;
    return { who: who, topic: conversation.topic || details.topic || "" };
  }

  /* -- the inbox -------------------------------------------------------------------- */
  async function refresh() {
    try {
      const replies = await Promise.all(
        ["waiting", "mine", "open"].map((view) =>
          client.request({ type: "chat.inbox", view: view, department: config.department }),
        ),
      );
      for (const reply of replies) {
        lists[reply.view] = reply.conversations;
      }
      await learnNames([...lists.waiting, ...lists.open, ...lists.mine]);
      const counts = await client.request({ type: "chat.unread" });
      unread.clear();
      for (const [id, n] of Object.entries(counts.counts)) {
        unread.set(Number(id), n);
      }
      for (const conversation of lists.mine) {
        watch(conversation.id);
      }
      if (active) {
        unread.delete(active.id);
      }
      renderInbox();
    } catch (error) {
      /* refreshed again on the next event or reconnect */
    }
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 200);
  }

  function renderInbox() {
    for (const view of Object.keys(lists)) {
      const count = root.querySelector(`[data-count="${view}"]`);
      count.textContent = "(" + lists[view].length + ")";
    }
    const total = Array.from(unread.values()).reduce((a, b) => a + b, 0);
    document.title = (total ? "(" + total + ") " : "") + baseTitle;
    inboxList.textContent = "";
    const items = lists[current];
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = text.no_conversations;
      inboxList.appendChild(li);
      return;
    }
    for (const conversation of items) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "inbox-item";
      button.dataset.conversation = conversation.id;
      if (active && active.id === conversation.id) {
        button.setAttribute("aria-current", "true");
      }
      const { who, topic } = label(conversation);
      const name = document.createElement("strong");
      name.textContent = who;
      button.appendChild(name);
      if (topic) {
        const t = document.createElement("span");
        t.className = "inbox-topic";
        t.textContent = topic;
        button.appendChild(t);
      }
      const info = document.createElement("span");
      info.className = "inbox-info";
      if (conversation.state === "waiting") {
        const minutes = Math.max(0, Math.round((Date.now() - Date.parse(conversation.created_at)) / 60000));
        info.textContent = fill(text.queued_for, { minutes: minutes });
      } else {
        info.textContent = (names.get(conversation.id) || {}).staff || "";
      }
      button.appendChild(info);
      const n = unread.get(conversation.id);
      if (n) {
        const badge = document.createElement("span");
        badge.className = "unread-badge";
        badge.textContent = fill(text.new_messages, { n: n });
        button.appendChild(badge);
      }
      button.addEventListener("click", () => open(conversation.id));
      li.appendChild(button);
      inboxList.appendChild(li);
    }
  }

  function selectTab(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
    }
    inboxList.setAttribute("aria-labelledby", tab.id);
    current = tab.dataset.view;
    renderInbox();
    if (focus) {
      tab.focus();
    }
  }

  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) {
        e.preventDefault();
        selectTab(tabs[(index + step + tabs.length) % tabs.length], true);
      }
    });
  });

  /* -- conversations ---------------------------------------------------------------- */
  function viewFor(id) {
    let view = views.get(id);
    if (!view) {
      view = new ConversationView(client, id, {
        mySide: "staff",
        text: text,
        fileBase: config.fileBase,
        list: document.createElement("ol"),
        typing: document.createElement("p"),
        onState: (conversation, event) => {
          if (active && active.id === id) {
            showConversation(conversation);
          }
          if (event === "transferred" || event === "closed") {
            refreshSoon();
          }
        },
        onUnread: () => bump(id),
      });
      view.list.className = "messages";
      views.set(id, view);
    }
    return view;
  }

  function bump(id) {
    if (!active || active.id !== id || document.hidden) {
      unread.set(id, (unread.get(id) || 0) + 1);
      renderInbox();
    }
  }

  /** Join a conversation without showing it (mine: unread counts keep moving). */
  function watch(id) {
    if (!views.has(id)) {
      viewFor(id)
        .join()
        .catch(() => views.delete(id));
    }
  }

  async function open(id) {
    const view = viewFor(id);
    active = view;
    unread.delete(id);
    const pane = $("[data-pane]");
    const list = pane.querySelector("[data-messages]");
    view.list.setAttribute("data-messages", "");
    view.list.setAttribute("aria-label", list.getAttribute("aria-label"));
    view.list.setAttribute("aria-live", "polite");
    view.list.tabIndex = 0;
    list.replaceWith(view.list);
    const typing = pane.querySelector("[data-typing]");
    view.options.typing = typing;
    typing.textContent = "";
    transferForm.hidden = true;
    composerError.hidden = true;
    try {
      await view.join();
      view.markRead();
    } catch (error) {
      title.textContent = text["error_" + error.code] || text.error_internal;
      return;
    }
    renderInbox();
  }

  function showConversation(conversation) {
    const { who, topic } = label(conversation);
    title.textContent = fill(text.conversation_with, { name: who });
    meta.textContent = topic;
    const mine = conversation.staff_id === config.me && conversation.state === "open";
    const closed = conversation.state === "closed";
    actions.hidden = false;
    claimButton.hidden = conversation.state === "closed" || mine;
    transferOpen.hidden = !mine;
    caseButton.hidden = conversation.case_id !== undefined && conversation.case_id !== null;
    closeButton.hidden = closed;
    transcript.href = urlFor(config.conversationUrl, conversation.id);
    composer.hidden = !mine;
    readOnly.hidden = mine || closed;
    readOnly.textContent = conversation.state === "waiting" ? "" : text.read_only;
    if (conversation.transfer_note) {
      transferNote.hidden = false;
      transferNote.textContent = conversation.transfer_note;
    } else {
      transferNote.hidden = true;
    }
  }

  claimButton.addEventListener("click", async () => {
    if (!active) {
      return;
    }
    try {
      const reply = await client.request({ type: "chat.claim", conversation: active.id });
      active.update(reply.conversation, "claimed");
      selectTab(tabs[1], false);
      refreshSoon();
      textarea.focus();
    } catch (error) {
      readOnly.hidden = false;
      readOnly.textContent = text["error_" + error.code] || text.error_internal;
      refreshSoon();
    }
  });

  transferOpen.addEventListener("click", () => {
    transferForm.hidden = !transferForm.hidden;
    transferOpen.setAttribute("aria-expanded", transferForm.hidden ? "false" : "true");
    if (!transferForm.hidden) {
      transferForm.querySelector("select").focus();
    }
  });

  transferForm.querySelector("[data-transfer-cancel]").addEventListener("click", () => {
    transferForm.hidden = true;
    transferOpen.setAttribute("aria-expanded", "false");
    transferOpen.focus();
  });

  transferForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const staff = transferForm.elements.staff.value;
    const department = transferForm.elements.department.value;
    if (!staff && !department) {
      transferError.textContent = text.choose_target;
      transferError.hidden = false;
      return;
    }
    const request = {
      type: "chat.transfer",
      conversation: active.id,
      note: transferForm.elements.note.value,
    };
    if (staff) {
      request.staff = Number(staff);
    } else {
      request.department = Number(department);
    }
    try {
      const reply = await client.request(request);
      transferError.hidden = true;
      transferForm.hidden = true;
      transferForm.reset();
      active.update(reply.conversation, "transferred");
      readOnly.hidden = false;
      readOnly.textContent = text.transferred;
      refreshSoon();
    } catch (error) {
      transferError.textContent = text["error_" + error.code] || text.error_internal;
      transferError.hidden = false;
    }
  });

  closeButton.addEventListener("click", async () => {
    if (!active || !window.confirm(text.confirm_close)) {
      return;
    }
    try {
      const reply = await client.request({ type: "chat.close", conversation: active.id });
      active.update(reply.conversation, "closed");
      refreshSoon();
    } catch (error) {
      composerError.textContent = text["error_" + error.code] || text.error_internal;
      composerError.hidden = false;
    }
  });

  caseButton.addEventListener("click", async () => {
    if (!active || !window.confirm(text.confirm_case)) {
      return;
    }
    const view = active;
    try {
      // Closed over the websocket first, so the enterprise's widget hears of it at
      // once; the portal then opens the case from the stored transcript.
      if (view.conversation.state !== "closed") {
        const reply = await client.request({ type: "chat.close", conversation: view.id });
        view.update(reply.conversation, "closed");
      }
      const form = new FormData();
      form.append("csrf_token", config.csrf);
      const response = await fetch(urlFor(config.caseUrl, view.id), {
        method: "POST",
        body: form,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": config.csrf },
      });
      const data = await response.json();
      readOnly.hidden = false;
      readOnly.textContent = data.message;
      if (data.ok) {
        caseButton.hidden = true;
      }
      refreshSoon();
    } catch (error) {
      composerError.textContent = text["error_" + error.code] || text.error_internal;
      composerError.hidden = false;
    }
  });

  wireComposer(composer, textarea, () => active);

  if (canned) {
    canned.addEventListener("change", () => {
      const option = canned.selectedOptions[0];
      if (!option || !option.dataset.body) {
        return;
      }
      const start = textarea.selectionStart;
      const value = textarea.value;
      textarea.value = value.slice(0, start) + option.dataset.body + value.slice(textarea.selectionEnd);
      canned.value = "";
      textarea.focus();
    });
  }

  composer.querySelector("[data-file]").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file || !active) {
      return;
    }
    composerError.hidden = true;
    try {
      await uploadAndSend(active, file, config);
    } catch (error) {
      composerError.textContent = error.message;
      composerError.hidden = false;
    }
  });

  statusSelect.addEventListener("change", async () => {
    try {
      await client.request({ type: "presence.set", status: statusSelect.value });
      connState.textContent = fill(text.status_saved, {
        status: text["status_" + statusSelect.value],
      });
    } catch (error) {
      connState.textContent = text["error_" + error.code] || text.error_internal;
    }
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && active) {
      active.markRead();
      unread.delete(active.id);
      renderInbox();
    }
  });

  /* -- the connection --------------------------------------------------------------- */
  async function ready() {
    connState.textContent = text.connected;
    for (const view of views.values()) {
      view.join().catch(() => {}); // after a reconnect: missed messages, then the outbox
    }
    await refresh();
  }

  function event(message) {
    if (message.type === "chat.inbox.changed" || message.type === "chat.assigned") {
      refreshSoon();
      if (message.type === "chat.assigned") {
        watch(message.conversation.id);
      }
      return;
    }
    for (const view of views.values()) {
      if (view.handle(message)) {
        return;
      }
    }
  }

  const banner = connectionBanner(page, text, () => client);
  client = new RealtimeClient({
    tokenUrl: config.tokenUrl,
    onReady: ready,
    onEvent: event,
    onStatus: (status, detail) => {
      banner(status, detail);
      if (status !== "open") {
        connState.textContent =
          status === "broken" || status === "signed_out" ? text[status] : text.connecting;
      }
    },
  });
  client.start();
}
