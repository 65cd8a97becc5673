/*
 * A transcript page (portal/templates/chat/conversation.jinja2) while the conversation
 * is still going on: new messages appear as they are written. A leader or supervisor
 * watches read-only (the server joins them as "observer" and refuses them writes);
 * observers send no read receipts, so nobody is told "已读" by a reader who is not
 * a party.
 */

import { RealtimeClient, connectionBanner, pageConfig } from "./rt.js";
import { ConversationView } from "./conversation.js";

const config = pageConfig();
const list = document.querySelector("[data-messages]");

if (config && list) {
  const ended = document.querySelector("[data-live-ended]");
  let view = null;
  const client = new RealtimeClient({
    tokenUrl: config.tokenUrl,
    onReady: async () => {
      if (!view) {
        view = new ConversationView(client, config.conversation, {
          mySide: config.mySide,
          text: config.text,
          fileBase: config.fileBase,
          list: list,
          typing: document.querySelector("[data-typing]"),
          keep: true,
          last: config.last,
          onState: (conversation) => {
            if (conversation && conversation.state === "closed" && ended) {
              ended.hidden = false;
            }
          },
        });
      }
      try {
        await view.join();
      } catch (error) {
        /* the page still shows what was written until now */
      }
    },
    onEvent: (message) => {
      if (view) {
        view.handle(message);
      }
    },
    onStatus: connectionBanner(document, config.text, () => client),
  });
  client.start();
}
