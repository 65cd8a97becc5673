/*
 * The live 在线部门 list: every element with data-dept-id inside [data-presence] shows
 * whether the department is online, updated through the realtime server as staff
 * come and go, without reloading the page.
 *
 * The page itself is the same for every visitor (and cached): the list is rendered
 * with plain links to the departments, and this script adds the state. Its token is
 * a watch-only one (?watch=1), so a staff member reading the home page is not
 * counted as online; only the chat console does that. Online departments move to
 * the top, link to the chat, and say "在线" in words, not only in colour.
 */

import { RealtimeClient, fill } from "./rt.js";

const list = document.querySelector("[data-presence]");

if (list) {
  const words = {
    online: list.dataset.labelOnline,
    offline: list.dataset.labelOffline,
    summary: list.dataset.labelSummary,
  };
  const summary = document.querySelector("[data-presence-summary]");
  const items = Array.from(list.querySelectorAll("[data-dept-id]"));
  const order = new Map(items.map((item, index) => [item, index]));
  let online = new Map();

  function mark(item, isOnline) {
    item.classList.toggle("is-online", isOnline);
    item.classList.toggle("is-offline", !isOnline);
    let badge = item.querySelector(".presence-badge");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "presence-badge";
      item.querySelector("a").appendChild(badge);
    }
    badge.textContent = isOnline ? words.online : words.offline;
    const link = item.querySelector("a");
    if (!link.dataset.home) {
      link.dataset.home = link.getAttribute("href");
    }
    link.setAttribute("href", isOnline ? item.dataset.chatHref : link.dataset.home);
  }

  function render() {
    const sorted = items.slice().sort((a, b) => {
      const diff = online.has(Number(b.dataset.deptId)) - online.has(Number(a.dataset.deptId));
      return diff || order.get(a) - order.get(b);
    });
    const focused = document.activeElement;
    for (const item of sorted) {
      mark(item, online.has(Number(item.dataset.deptId)));
      list.appendChild(item); // moves it; keeps focus where it was
    }
    if (focused && list.contains(focused)) {
      focused.focus();
    }
    if (summary) {
      summary.textContent = fill(words.summary, { n: online.size });
    }
  }

  const client = new RealtimeClient({
    tokenUrl: list.dataset.tokenUrl,
    onReady: async () => {
      const snapshot = await client.request({ type: "presence.subscribe" });
      online = new Map(
        Object.entries(snapshot.departments || {}).map(([id, n]) => [Number(id), n]),
      );
      render();
    },
    onEvent: (message) => {
      if (message.type !== "presence.department") {
        return;
      }
      if (message.online) {
        online.set(message.department, message.staff);
      } else {
        online.delete(message.department);
      }
      render();
    },
  });
  client.start();
}
