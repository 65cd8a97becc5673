/*
 * 企政通 meeting room: WebRTC between the participants' browsers, signalling over the
 * realtime websocket server (see docs/meetings.md, "The meeting", for the protocol).
 *
 * Media goes browser to browser (a full mesh: one RTCPeerConnection per other
 * participant). Whoever is in the room when someone arrives sends the newcomer an
 * offer; the newcomer answers. Only when everyone consented to recording does each
 * browser open one more connection, to the server's recording peer ("recorder").
 *
 * No inline script or style (CSP): configuration and the translated sentences come
 * from two JSON data blocks in the page.
 */
"use strict";

(() => {
  const root = document.getElementById("meeting-room");
  if (!root) return;
  const config = JSON.parse(document.getElementById("room-config").textContent);
  const T = JSON.parse(document.getElementById("room-text").textContent);
  const $ = (sel) => root.querySelector(sel);

  const fmt = (key, map = {}) =>
    (T[key] || key).replace(/\$\{(\w+)\}/g, (_m, name) => (name in map ? String(map[name]) : ""));

  const ui = {
    status: $("[data-status]"),
    lobby: $("[data-lobby]"),
    videos: $("[data-videos]"),
    local: $("[data-local]"),
    selfState: $("[data-self-state]"),
    recording: $("[data-recording]"),
    knocks: $("[data-knocks]"),
    consent: $("[data-consent]"),
    consentText: $("[data-consent-text]"),
    chatLog: $("[data-chat-log]"),
    chatForm: $("[data-chat-form]"),
    leave: $("[data-leave]"),
    rejoin: $("[data-rejoin]"),
    record: $("[data-record]"),
    toggles: root.querySelectorAll("[data-toggle]"),
  };

  const room = {
    ws: null,
    session: null, // {token, url, ice_servers}
    me: null, // my peer info, from meeting.joined
    stream: null, // camera + microphone
    screen: null, // the screen-sharing track while sharing
    media: { audio: true, video: true, screen: false },
    peers: new Map(), // peer id -> Peer
    tiles: new Map(), // user id -> tile element
    recorder: null, // RTCPeerConnection to the server's recording peer
    consented: false,
    leaving: false,
    attempts: 0,
    refs: 0,
  };

  // -- page state ----------------------------------------------------------------
  function setState(state, text) {
    root.dataset.state = state;
    if (text !== undefined) ui.status.textContent = text;
  }

  function say(text) {
    ui.status.textContent = text;
  }

  function enableControls(on) {
    ui.toggles.forEach((b) => (b.disabled = !on || (!room.stream && b.dataset.toggle !== "screen")));
    if (ui.record) ui.record.disabled = !on;
    ui.chatForm.querySelectorAll("input, button").forEach((el) => (el.disabled = !on));
  }

  // -- websocket -----------------------------------------------------------------
  function send(message) {
    if (room.ws && room.ws.readyState === WebSocket.OPEN) {
      room.ws.send(JSON.stringify({ meeting: config.meeting, ref: ++room.refs, ...message }));
    }
  }

  async function connect() {
    setState("connecting", T.connecting);
    let response;
    try {
      response = await fetch(config.session, { credentials: "same-origin", cache: "no-store" });
    } catch (_err) {
      return retry();
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      setState("closed", body.message || fmt("error", { detail: response.status }));
      return;
    }
    room.session = body;
    const ws = new WebSocket(body.url);
    room.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: body.token }));
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_err) {
        return;
      }
      handle(message).catch((err) => console.warn("meeting:", err));
    };
    ws.onclose = (event) => {
      if (room.ws !== ws) return;
      room.ws = null;
      dropAllPeers();
      enableControls(false);
      if (room.leaving || root.dataset.state === "refused" || root.dataset.state === "closed") return;
      if (event.code === 4401 || event.code === 4400) {
        setState("closed", fmt("error", { detail: event.code }));
        return;
      }
      if (event.code === 4403) {
        // the portal session ended (signed out): a new token would name nobody
        setState("closed", T.signed_out);
        return;
      }
      retry();
    };
  }

  function retry() {
    room.attempts += 1;
    setState("reconnecting", fmt("reconnecting", { n: room.attempts }));
    const delay = Math.min(30000, 1000 * 2 ** Math.min(room.attempts - 1, 5));
    setTimeout(connect, delay * (0.8 + Math.random() * 0.4));
  }

  // -- messages from the server ------------------------------------------------------
  const handlers = {
    "auth.ok": () => {
      room.attempts = 0;
      send({ type: "meeting.join" });
    },
    "meeting.lobby": () => {
      ui.lobby.hidden = false;
      setState("lobby", T.lobby);
    },
    "meeting.host-joined": () => {
      if (root.dataset.state === "lobby") send({ type: "meeting.join" });
    },
    "meeting.admitted": () => send({ type: "meeting.join" }),
    "meeting.refused": () => {
      ui.lobby.hidden = true;
      setState("refused", T.refused);
      room.ws && room.ws.close(1000);
    },
    "meeting.joined": (m) => {
      room.me = m.you;
      ui.lobby.hidden = true;
      setState("joined", room.peers.size ? T.in_meeting : T.alone);
      enableControls(true);
      announceMedia();
      room.consented = Boolean(m.consented);
      showRecording(Boolean(m.recording));
      if (m.recording && room.consented) connectRecorder();
    },
    "meeting.peer-joined": (m) => {
      if (!room.me || m.peer === room.me.peer) return;
      say(fmt("peer_joined", { name: m.name }));
      // Adding our tracks fires "negotiationneeded", which sends the offer.
      makePeer(m, false);
    },
    "meeting.peer-left": (m) => {
      const peer = room.peers.get(m.peer);
      if (peer) closePeer(peer);
      const tile = room.tiles.get(m.user);
      if (tile && !hasPeerOfUser(m.user)) {
        tile.classList.add("tile-gone");
        caption(tile, m.name, fmt("peer_left", { name: m.name }));
        say(fmt("peer_left", { name: m.name }));
      }
    },
    "meeting.signal": async (m) => {
      if (m.from.peer === "recorder") {
        if (room.recorder && m.description) await room.recorder.setRemoteDescription(m.description);
        return;
      }
      const peer = room.peers.get(m.from.peer) || makePeer(m.from, true);
      if (m.description) await onDescription(peer, m.description);
      if (m.candidates) for (const c of m.candidates) await onCandidate(peer, c);
    },
    "meeting.media": (m) => {
      const tile = room.tiles.get(m.from.user);
      if (tile) {
        tile.classList.toggle("tile-camera-off", !m.video && !m.screen);
        caption(tile, m.from.name, mediaWords(m));
      }
    },
    "meeting.chat": (m) => addChat(m.from.name, m.text, m.at, m.from.peer === room.me?.peer),
    "meeting.knock": (m) => addKnock(m),
    "meeting.lobby-left": (m) => removeKnock(m.user),
    "meeting.consent-request": (m) => {
      ui.consentText.textContent = fmt("consent_request", { name: m.from.name });
      ui.consent.hidden = false;
    },
    "meeting.consent": (m) => {
      if (!m.given) say(fmt("consent_declined", { name: m.from.name }));
      else if (m.waiting_for.length) say(T.consent_waiting);
    },
    "meeting.recording": (m) => {
      showRecording(m.state === "started");
      if (m.state === "started" && room.consented) connectRecorder();
      if (m.state === "stopped") {
        closeRecorder();
        say(T.recording_stopped);
      }
    },
    "meeting.left": () => {},
    pong: () => {},
    error: (m) => {
      const fatal = ["not_invited", "too_early", "over", "cancelled", "not_confirmed"];
      if (fatal.includes(m.code)) {
        setState("closed", m.detail);
        room.leaving = true;
        room.ws && room.ws.close(1000);
        return;
      }
      say(fmt("error", { detail: m.detail || m.code }));
    },
  };

  async function handle(message) {
    const fn = handlers[message.type];
    if (fn) await fn(message);
  }

  // -- tiles ---------------------------------------------------------------------
  function tileFor(info) {
    let tile = room.tiles.get(info.user);
    if (!tile) {
      tile = document.createElement("figure");
      tile.className = "tile";
      const video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      const cap = document.createElement("figcaption");
      tile.append(video, cap);
      ui.videos.append(tile);
      room.tiles.set(info.user, tile);
    }
    tile.classList.remove("tile-gone");
    tile.dataset.user = info.user;
    caption(tile, info.name, "");
    return tile;
  }

  function caption(tile, name, words) {
    const cap = tile.querySelector("figcaption");
    cap.textContent = "";
    const strong = document.createElement("strong");
    strong.textContent = name;
    cap.append(strong, words ? ` ${words}` : "");
  }

  function mediaWords(m) {
    const words = [];
    if (!m.audio) words.push(T.muted);
    if (m.screen) words.push(T.sharing);
    else if (!m.video) words.push(T.camera_off);
    return words.length ? `（${words.join("，")}）` : "";
  }

  function hasPeerOfUser(user) {
    for (const p of room.peers.values()) if (p.info.user === user) return true;
    return false;
  }

  // -- peer connections ------------------------------------------------------------
  function makePeer(info, polite) {
    const pc = new RTCPeerConnection({ iceServers: room.session.ice_servers || [] });
    const peer = {
      info,
      pc,
      polite,
      offer: !polite, // we offer to newcomers; newcomers answer
      makingOffer: false,
      ignoreOffer: false,
      pending: [],
      out: [],
      timer: null,
    };
    room.peers.set(info.peer, peer);
    const tile = tileFor(info);
    const video = tile.querySelector("video");
    pc.ontrack = (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      if (video.srcObject !== stream) video.srcObject = stream;
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || !candidate.candidate) return;
      peer.out.push(candidate.toJSON());
      // Batched: one signalling message per burst, not one per candidate.
      if (!peer.timer) peer.timer = setTimeout(() => flushCandidates(peer), 60);
    };
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      if (state === "connected") {
        tile.classList.remove("tile-trouble");
        caption(tile, info.name, "");
        say(T.in_meeting);
      } else if (state === "disconnected" || state === "failed") {
        tile.classList.add("tile-trouble");
        caption(tile, info.name, fmt("peer_trouble", { name: info.name }));
        if (state === "failed" && !peer.polite) pc.restartIce();
      }
    };
    pc.onnegotiationneeded = () => {
      if (peer.offer) negotiate(peer);
    };
    if (!polite) addLocalTracks(pc, "sendrecv");
    return peer;
  }

  function addLocalTracks(pc, direction) {
    const audio = room.stream?.getAudioTracks()[0] || null;
    const video = room.screen || room.stream?.getVideoTracks()[0] || null;
    const streams = room.stream ? [room.stream] : [];
    pc.addTransceiver(audio || "audio", { direction, streams });
    pc.addTransceiver(video || "video", { direction, streams });
  }

  function flushCandidates(peer) {
    peer.timer = null;
    const batch = peer.out.splice(0, 32);
    if (batch.length) send({ type: "meeting.signal", to: peer.info.peer, candidates: batch });
    if (peer.out.length) peer.timer = setTimeout(() => flushCandidates(peer), 60);
  }

  async function negotiate(peer) {
    const { pc } = peer;
    try {
      peer.makingOffer = true;
      await pc.setLocalDescription();
      send({ type: "meeting.signal", to: peer.info.peer, description: pc.localDescription });
    } catch (err) {
      console.warn("meeting: offer failed", err);
    } finally {
      peer.makingOffer = false;
    }
  }

  async function onDescription(peer, description) {
    const { pc } = peer;
    // "Perfect negotiation" (W3C WebRTC, §10.7): the polite side yields on a collision.
    const collision = description.type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    await pc.setRemoteDescription(description);
    if (description.type === "offer") {
      const [audio, video] = pc.getTransceivers();
      const a = room.stream?.getAudioTracks()[0] || null;
      const v = room.screen || room.stream?.getVideoTracks()[0] || null;
      for (const [transceiver, track] of [[audio, a], [video, v]]) {
        if (!transceiver) continue;
        transceiver.direction = "sendrecv";
        if (room.stream) transceiver.sender.setStreams?.(room.stream);
        await transceiver.sender.replaceTrack(track);
      }
      await pc.setLocalDescription();
      send({ type: "meeting.signal", to: peer.info.peer, description: pc.localDescription });
    }
    for (const c of peer.pending.splice(0)) await pc.addIceCandidate(c).catch(() => {});
  }

  async function onCandidate(peer, candidate) {
    if (!peer.pc.remoteDescription) {
      peer.pending.push(candidate);
      return;
    }
    try {
      await peer.pc.addIceCandidate(candidate);
    } catch (err) {
      if (!peer.ignoreOffer) console.warn("meeting: candidate refused", err);
    }
  }

  function closePeer(peer) {
    clearTimeout(peer.timer);
    peer.pc.close();
    room.peers.delete(peer.info.peer);
  }

  function dropAllPeers() {
    for (const peer of [...room.peers.values()]) closePeer(peer);
    closeRecorder();
  }

  // -- local media -------------------------------------------------------------------
  async function openCamera() {
    say(T.camera);
    try {
      room.stream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 } },
      });
      ui.local.srcObject = room.stream;
    } catch (err) {
      room.stream = null;
      room.media.audio = room.media.video = false;
      say(fmt("no_camera", { reason: err.name || String(err) }));
    }
  }

  function currentVideoTrack() {
    return room.screen || room.stream?.getVideoTracks()[0] || null;
  }

  async function replaceVideo() {
    const track = currentVideoTrack();
    const pcs = [...[...room.peers.values()].map((p) => p.pc), room.recorder].filter(Boolean);
    for (const pc of pcs) {
      const sender = pc.getTransceivers()[1]?.sender;
      if (sender) await sender.replaceTrack(track).catch(() => {});
    }
    ui.local.srcObject = room.screen ? new MediaStream([room.screen]) : room.stream;
  }

  function announceMedia() {
    ui.selfState.textContent = mediaWords(room.media);
    ui.toggles.forEach((button) => {
      const kind = button.dataset.toggle;
      const on = room.media[kind];
      // The label names the action ("关闭摄像头"), so no aria-pressed: a screen reader
      // would otherwise announce a state and an action that contradict each other.
      button.dataset.on = String(on);
      button.textContent = T[`${kind === "audio" ? "mic" : kind === "video" ? "cam" : "screen"}_${on ? "on" : "off"}`];
    });
    send({ type: "meeting.media", ...room.media });
  }

  async function toggle(kind) {
    if (kind === "screen") {
      if (room.screen) {
        room.screen.stop();
        room.screen = null;
      } else {
        try {
          const display = await navigator.mediaDevices.getDisplayMedia({ video: true });
          room.screen = display.getVideoTracks()[0];
          room.screen.onended = () => {
            room.screen = null;
            room.media.screen = false;
            replaceVideo().then(announceMedia);
          };
        } catch (_err) {
          return; // the user cancelled the picker
        }
      }
      room.media.screen = Boolean(room.screen);
      await replaceVideo();
    } else if (room.stream) {
      room.media[kind] = !room.media[kind];
      const tracks = kind === "audio" ? room.stream.getAudioTracks() : room.stream.getVideoTracks();
      tracks.forEach((t) => (t.enabled = room.media[kind]));
    }
    announceMedia();
  }

  // -- recording -----------------------------------------------------------------------
  function showRecording(on) {
    ui.recording.hidden = !on;
    root.classList.toggle("is-recording", on);
    if (on) say(T.recording);
  }

  async function connectRecorder() {
    if (room.recorder || !room.stream) return;
    const pc = new RTCPeerConnection({ iceServers: room.session.ice_servers || [] });
    room.recorder = pc;
    addLocalTracks(pc, "sendonly");
    await pc.setLocalDescription(await pc.createOffer());
    // The recorder does not trickle: wait for every candidate, then offer once.
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const done = () => pc.iceGatheringState === "complete" && resolve();
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 3000);
    });
    if (room.recorder === pc) {
      send({ type: "meeting.signal", to: "recorder", description: pc.localDescription });
    }
  }

  function closeRecorder() {
    if (room.recorder) room.recorder.close();
    room.recorder = null;
  }

  function answerConsent(given) {
    room.consented = given;
    ui.consent.hidden = true;
    send({ type: "meeting.consent", given });
    if (!given) closeRecorder();
  }

  // -- lobby (department side) -----------------------------------------------------------
  function addKnock(m) {
    if (!ui.knocks) return;
    removeKnock(m.user);
    ui.knocks.querySelector(".empty")?.remove();
    const li = document.createElement("li");
    li.dataset.user = m.user;
    const name = document.createElement("span");
    name.textContent = fmt("knock", { name: m.name });
    const admit = document.createElement("button");
    admit.type = "button";
    admit.className = "btn";
    admit.textContent = T.admit;
    admit.dataset.admit = m.user;
    admit.onclick = () => send({ type: "meeting.admit", user: m.user });
    const deny = document.createElement("button");
    deny.type = "button";
    deny.className = "btn btn-default";
    deny.textContent = T.deny;
    deny.onclick = () => send({ type: "meeting.deny", user: m.user });
    li.append(name, admit, deny);
    ui.knocks.append(li);
    say(fmt("knock", { name: m.name }));
  }

  function removeKnock(user) {
    if (!ui.knocks) return;
    ui.knocks.querySelector(`li[data-user="${Number(user)}"]`)?.remove();
    if (!ui.knocks.children.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = T.lobby_empty;
      ui.knocks.append(li);
    }
  }

  // -- chat ----------------------------------------------------------------------------
  function addChat(name, text, at, mine) {
    ui.chatLog.querySelector(".empty")?.remove();
    const li = document.createElement("li");
    if (mine) li.className = "mine";
    const who = document.createElement("strong");
    who.textContent = mine ? T.you : name;
    const time = document.createElement("time");
    time.dateTime = at;
    time.textContent = new Date(at).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
    const body = document.createElement("p");
    body.textContent = text;
    li.append(who, " ", time, body);
    ui.chatLog.append(li);
    li.scrollIntoView({ block: "nearest" });
  }

  // -- wiring -------------------------------------------------------------------------
  ui.toggles.forEach((button) => button.addEventListener("click", () => toggle(button.dataset.toggle)));
  ui.record?.addEventListener("click", () => send({ type: "meeting.record" }));
  $("[data-consent-withdraw]").addEventListener("click", () => answerConsent(false));
  root.querySelectorAll("[data-consent-answer]").forEach((button) =>
    button.addEventListener("click", () => answerConsent(button.dataset.consentAnswer === "yes")),
  );
  ui.chatForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = ui.chatForm.elements.text;
    const text = input.value.trim();
    if (!text) return;
    send({ type: "meeting.chat", text });
    input.value = "";
  });
  ui.leave.addEventListener("click", () => {
    room.leaving = true;
    send({ type: "meeting.leave" });
    room.ws && room.ws.close(1000);
    dropAllPeers();
    room.stream?.getTracks().forEach((t) => t.stop());
    room.stream = null;
    ui.local.srcObject = null;
    enableControls(false);
    ui.leave.hidden = true;
    ui.rejoin.hidden = false;
    setState("left", T.left);
  });
  ui.rejoin.addEventListener("click", async () => {
    room.leaving = false;
    ui.rejoin.hidden = true;
    ui.leave.hidden = false;
    await openCamera();
    room.media = { audio: Boolean(room.stream), video: Boolean(room.stream), screen: false };
    connect();
  });
  window.addEventListener("pagehide", () => {
    room.leaving = true;
    room.ws && room.ws.close(1000);
  });

  // For tests and support: what each connection receives (getStats inbound-rtp).
  window.qztMeeting = {
    state: () => root.dataset.state,
    recorder: () => (room.recorder ? room.recorder.connectionState : "none"),
    peers: () => [...room.peers.values()].map((p) => ({ peer: p.info.peer, user: p.info.user, state: p.pc.connectionState })),
    inboundVideoBytes: async () => {
      const out = {};
      for (const peer of room.peers.values()) {
        const stats = await peer.pc.getStats();
        let bytes = 0;
        stats.forEach((s) => {
          if (s.type === "inbound-rtp" && s.kind === "video") bytes += s.bytesReceived || 0;
        });
        out[peer.info.user] = bytes;
      }
      return out;
    },
    // what each peer connection's video sender carries: a camera or a screen track
    sentVideoLabels: () =>
      [...room.peers.values()].map((p) => {
        const sender = p.pc.getSenders().find((s) => s.track && s.track.kind === "video");
        return sender ? sender.track.label : null;
      }),
  };

  (async () => {
    await openCamera();
    room.media = { audio: Boolean(room.stream), video: Boolean(room.stream), screen: false };
    connect();
  })();
})();
