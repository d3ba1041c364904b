// The reference browser client, served as `/client.js` (documented in the README).

/// The source of `/client.js`: one ES module, no build step. Kept in a Swift string so the
/// binary serves it with no file to install next to it.
enum ClientScript {
    static let source = #"""
// wavelog-worker browser client: one ES module, no build step. WebSocket first, SSE when
// WebSocket fails; reconnects with jittered exponential backoff; resumes from the last
// position on topics with history; asks the page for a fresh token on every connect.
//
//   import { subscribe } from "https://push.example.org/client.js";
//   const subscription = subscribe({
//     topic: "contest_session.42",
//     token: () => fetch("/token?topic=contest_session.42").then((r) => r.text()),
//     onMessage: (payload, position) => render(payload),
//     onResync: () => reloadFromBackend(),       // pushes were missed and cannot be replayed
//     onState: (state, detail) => {},            // "connecting" | "open" | "waiting" | "closed"
//   });
//   subscription.close();

const defaults = {
  url: new URL(import.meta.url).origin, // the worker that served this module
  transports: ["websocket", "sse"],
  minDelay: 500, // ms before the first retry
  maxDelay: 30000,
  websocketFailuresBeforeSSE: 2, // WebSocket attempts that never opened before SSE is tried
};

export function subscribe(options) {
  const settings = { ...defaults, ...options };
  if (!settings.topic) throw new Error("subscribe: topic is required");
  if (typeof settings.token !== "function") throw new Error("subscribe: token must be a function returning a token (or a promise of one)");
  const notify = (name, ...values) => {
    try { settings[name]?.(...values); } catch (error) { console.error(error); }
  };

  let position = settings.since ?? null; // the last position seen ("<epoch>-<offset>")
  let closed = false;
  let attempt = 0; // consecutive failures, for the backoff
  let websocketFailures = 0;
  let transport = settings.transports[0];
  let current = null; // { close() } of the open connection
  let timer = null;
  let stable = null; // the backoff starts over only once a connection has lasted

  const base = settings.url.replace(/\/+$/, "");
  const query = (extra) => {
    const parts = [["topic", settings.topic], ...extra].filter(([, value]) => value != null && value !== "");
    return parts.map(([key, value]) => `${key}=${encodeURIComponent(value)}`).join("&");
  };

  function deliver(payload, at) {
    if (at) position = at;
    notify("onMessage", payload, at ?? null);
  }

  function retry(reason) {
    current = null;
    clearTimeout(stable);
    if (closed) return;
    attempt += 1;
    // Full jitter over an exponential ceiling: a restart's thousands of clients spread out.
    const ceiling = Math.min(settings.maxDelay, settings.minDelay * 2 ** (attempt - 1));
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    notify("onState", "waiting", { reason, delay, attempt, transport });
    timer = setTimeout(connect, delay);
  }

  // `recovered`: true or false after a resume over WebSocket; null when unknown (SSE, which
  // tells only the negative, as a resync event) or when there was nothing to resume from.
  function opened(recovered) {
    // A server that accepts and then closes at once (draining, refusing) must not be retried
    // at the shortest delay forever: the count of failures is kept until the link has lasted.
    clearTimeout(stable);
    stable = setTimeout(() => { attempt = 0; }, 5000);
    notify("onState", "open", { transport, recovered });
  }

  async function connect() {
    timer = null;
    if (closed) return;
    notify("onState", "connecting", { transport, since: position });
    let token;
    try {
      token = await settings.token();
    } catch (error) {
      retry("token: " + error);
      return;
    }
    if (closed) return;
    if (transport === "websocket" && typeof WebSocket === "function") connectWebSocket(token);
    else connectSSE(token);
  }

  function connectWebSocket(token) {
    const url = base.replace(/^http/, "ws") + "/ws?" + query([]);
    const socket = new WebSocket(url);
    let wasOpen = false;
    current = { close: () => socket.close(1000) };
    socket.onopen = () => {
      wasOpen = true;
      const auth = { type: "auth", token };
      if (position) auth.since = position;
      socket.send(JSON.stringify(auth));
    };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === "auth_ok") {
        websocketFailures = 0;
        const resync = message.recovered === false;
        if (resync) position = message.offset ?? null;
        else if (message.offset && !position) position = message.offset;
        opened(message.recovered ?? null);
        if (resync) notify("onResync");
      } else if (message.type === "push") {
        deliver(message.payload, message.offset);
      } else if (message.type === "error") {
        // auth_expired and unauthorized: the next connect asks for a fresh token.
        notify("onState", "waiting", { reason: message.code, transport });
      }
    };
    socket.onclose = (event) => {
      if (closed) return;
      // A socket that never opened: a proxy without WebSocket, a blocked port. After a few, SSE.
      if (!wasOpen && ++websocketFailures >= settings.websocketFailuresBeforeSSE && settings.transports.includes("sse")) {
        transport = "sse";
      }
      retry(`websocket closed ${event.code}`);
    };
  }

  function connectSSE(token) {
    // EventSource cannot set headers: the token and the position go in the query. While it
    // stays open it reconnects by itself with Last-Event-ID; after an error it is replaced.
    const source = new EventSource(base + "/sse?" + query([["token", token], ["lastEventId", position]]));
    current = { close: () => source.close() };
    source.onopen = () => opened(null);
    source.addEventListener("push", (event) => {
      let payload;
      try { payload = JSON.parse(event.data); } catch { payload = event.data; }
      deliver(payload, event.lastEventId || null);
    });
    source.addEventListener("position", (event) => {
      position = event.lastEventId || position;
    });
    source.addEventListener("resync", (event) => {
      position = event.lastEventId || null;
      notify("onResync");
    });
    source.addEventListener("auth_expired", () => {
      source.close();
      retry("auth_expired");
    });
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) return; // it reconnects by itself
      // Both failing (a restart, a network change): WebSocket is worth another try.
      transport = settings.transports[0];
      websocketFailures = 0;
      retry("sse closed");
    };
  }

  connect();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      current?.close();
      notify("onState", "closed", {});
    },
    get position() { return position; },
    get transport() { return transport; },
  };
}
"""#
}
