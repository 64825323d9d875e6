// One WebSocket for the whole page: `/ws` with no file_id follows every file of the caller
// (DESIGN.md section 5), so upload rows, the file list and the open result all update from the
// same frames. A dropped connection is opened again with a growing delay (1 s to 15 s); the
// listeners of `onReconnect` then read the current state over HTTP, since frames sent while
// the page was away are not replayed.

import { credential } from "./credential";
import type { ProgressFrame } from "./types";

/** `locked`: closed on purpose until the user gives a key (no retries). */
export type Connection = "connecting" | "live" | "offline" | "locked";

type FrameListener = (frame: ProgressFrame) => void;

const frameListeners = new Set<FrameListener>();
const stateListeners = new Set<(state: Connection) => void>();
const reconnectListeners = new Set<() => void>();

let socket: WebSocket | null = null;
let state: Connection = "connecting";
let retryMs = 1000;
let retryTimer: number | undefined;
let openedOnce = false;

function setState(next: Connection): void {
  state = next;
  stateListeners.forEach((l) => l(next));
}

function url(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const token = credential();
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}//${location.host}/ws${query}`;
}

/** Open (or open again, after the credential changed) the page's socket. */
export function connect(): void {
  window.clearTimeout(retryTimer);
  if (socket) {
    socket.onclose = null;
    socket.close();
  }
  setState("connecting");
  const ws = new WebSocket(url());
  socket = ws;
  ws.onopen = () => {
    retryMs = 1000;
    setState("live");
    if (openedOnce) reconnectListeners.forEach((l) => l());
    openedOnce = true;
  };
  ws.onmessage = (message) => {
    let frame: ProgressFrame;
    try {
      frame = JSON.parse(String(message.data));
    } catch {
      return;
    }
    frameListeners.forEach((l) => l(frame));
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    setState("offline");
    retryTimer = window.setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  };
}

/** Close the socket and stay closed (no retries) until `connect()`: the service needs a key. */
export function lock(): void {
  window.clearTimeout(retryTimer);
  if (socket) {
    socket.onclose = null;
    socket.close();
    socket = null;
  }
  setState("locked");
}

export function connection(): Connection {
  return state;
}

export function onFrame(listener: FrameListener): () => void {
  frameListeners.add(listener);
  return () => frameListeners.delete(listener);
}

export function onConnection(listener: (state: Connection) => void): () => void {
  stateListeners.add(listener);
  return () => stateListeners.delete(listener);
}

export function onReconnect(listener: () => void): () => void {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}
