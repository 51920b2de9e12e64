// #/workers: the worker processes, alive or not, their device and what they are doing.
// The operator's key sees every worker; another key, only those running its tenant's work.
// Refreshed every 5 s (a worker heartbeats that often).

import { getJson } from "../api.js";
import { h } from "../dom.js";
import { bytes, dateTime, shortId } from "../format.js";
import { errorBox } from "../widgets.js";

const REFRESH_MS = 5000;

function deviceText(w) {
  if (!w.device_name) return w.device;
  const memory = w.device_memory_bytes ? `, ${bytes(w.device_memory_bytes)}` : "";
  return `${w.device} (${w.device_name}${memory})`;
}

function taskLink(task) {
  const href = task.kind === "job" ? `#/jobs/${task.id}` : null;
  const label = `${task.kind} ${shortId(task.id)}`;
  return href ? h("a", { href, class: "mono" }, label) : h("span", { class: "mono" }, label);
}

function table(rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "visually-hidden" }, "Worker processes, newest first"),
    h("thead", {}, h("tr", {}, ["Worker", "Queue", "Device", "State", "Last heartbeat", "Doing", "Done"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((w) => h("tr", { "data-worker": w.id },
      h("td", { class: "mono" }, w.id), h("td", {}, w.queue), h("td", {}, deviceText(w)),
      h("td", {}, h("span", { class: `status status-${w.alive ? "ready" : "failed"}` },
        w.alive ? "alive" : (w.stop_reason || "silent"))),
      h("td", {}, dateTime(w.last_heartbeat_at)),
      h("td", {}, ...w.current_tasks.flatMap((t, i) => (i ? [", ", taskLink(t)] : [taskLink(t)]))),
      h("td", { class: "num" }, w.tasks_done))))));
}

export async function workersView(main, { signal }) {
  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Workers")));
  const body = h("div", { "aria-live": "polite" });
  main.append(body);
  while (!signal.aborted) {
    try {
      const rows = await getJson("/v1/workers", { signal });
      body.replaceChildren(rows.length ? table(rows)
        : h("p", { class: "muted" }, "No worker seen in the last hour (or none running your work)."));
    } catch (error) {
      if (signal.aborted) return;
      body.replaceChildren(errorBox(error));
    }
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
  }
}
