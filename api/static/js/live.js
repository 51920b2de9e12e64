// Live updates: server-sent events read over fetch() (EventSource cannot send the API key
// header), and polling when a stream cannot be opened or keeps breaking.

import { authHeaders } from "./api.js";

const RECONNECT_MS = 2000;
const POLL_MS = 2000;
const POLLS_BEFORE_RETRY = 15; // back on the stream after ~30 s of polling

/** Parse an event stream into {event, data} messages, calling ``onMessage`` for each. */
async function readEvents(body, onMessage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (data.length) onMessage({ event, data: data.join("\n") });
        event = "message";
        data = [];
      } else if (line.startsWith(":")) {
        continue; // a keep-alive comment
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
    }
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });

/**
 * Follow ``url()`` (a function: the URL may carry what was already received) until
 * ``signal`` aborts or an ``end`` event arrives. ``handlers[name](data)`` gets each event's
 * parsed JSON. ``poll()`` fetches the same state over plain GETs and returns true once
 * nothing more will change; ``onMode("stream" | "polling" | "ended")`` says how updates come.
 */
export async function follow({ url, handlers, poll, signal, onMode = () => {} }) {
  let ended = false;
  const dispatch = ({ event, data }) => {
    if (event === "end") ended = true;
    const handler = handlers[event];
    if (handler) handler(JSON.parse(data));
  };
  while (!signal.aborted && !ended) {
    let opened = false;
    try {
      const response = await fetch(url(), {
        headers: authHeaders({ Accept: "text/event-stream" }),
        signal,
        cache: "no-store",
      });
      if (response.ok && response.body) {
        opened = true;
        onMode("stream");
        await readEvents(response.body, dispatch);
      }
    } catch {
      // a network error or an abort: decided below
    }
    if (signal.aborted || ended) break;
    if (opened) {
      await sleep(RECONNECT_MS, signal); // the stream broke: reconnect soon
      continue;
    }
    onMode("polling");
    for (let i = 0; i < POLLS_BEFORE_RETRY && !signal.aborted && !ended; i += 1) {
      try {
        ended = Boolean(await poll());
      } catch {
        // keep trying: the API may come back
      }
      if (!ended) await sleep(POLL_MS, signal);
    }
  }
  if (ended) onMode("ended");
}
