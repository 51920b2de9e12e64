// Small pieces several pages share: status badges, progress bars, messages, key/value lists.

import { h } from "./dom.js";
import { duration, imagesPerSecond, percent } from "./format.js";

export const JOB_STATUSES = ["queued", "running", "cancelling", "interrupted", "succeeded", "failed", "cancelled"];
export const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

export function statusBadge(status) {
  return h("span", { class: `status status-${status}`, "data-status": status }, status);
}

/** A <progress> labelled with the step count, and images/s and ETA beside it. */
export function progressCell(job, label) {
  const p = job.progress;
  const bar = h("progress", {
    max: 1, value: p.fraction, "aria-label": label || `progress of job ${job.id}`,
    "aria-valuetext": `${percent(p.fraction)}, step ${p.step} of ${p.total_steps}`,
  });
  return h("div", { class: "progress" }, bar,
    h("span", { class: "progress-text" }, `${percent(p.fraction)} · ${p.step}/${p.total_steps || "?"}`));
}

export function speedText(job) {
  return imagesPerSecond(job.progress.images_per_sec);
}

export function etaText(job) {
  if (FINISHED.has(job.status)) return "–";
  return duration(job.progress.eta_seconds);
}

export function errorBox(error) {
  const detail = Array.isArray(error.details)
    ? h("ul", {}, error.details.map((d) => h("li", {}, d.field ? `${d.field}: ${d.message}` : JSON.stringify(d))))
    : null;
  return h("div", { class: "message message-error", role: "alert" },
    h("strong", {}, error.status ? `${error.status} ${error.code}` : "error"), " ", error.message, detail);
}

export function notice(text, kind = "info") {
  return h("div", { class: `message message-${kind}`, role: "status" }, text);
}

/** A <dl> of [term, value] pairs; a null value is shown as a dash. */
export function definitions(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => h("div", {},
    h("dt", {}, term), h("dd", {}, value === null || value === undefined || value === "" ? "–" : value))));
}

/** "live" or "polling": how the page's updates arrive, for the eye and for tests. */
export function liveIndicator() {
  const element = h("span", { class: "live", "data-mode": "connecting", role: "status" }, "connecting…");
  const texts = { stream: "live", polling: "polling", ended: "final", connecting: "connecting…" };
  element.setMode = (mode) => {
    element.dataset.mode = mode;
    element.textContent = texts[mode] || mode;
    element.title = mode === "polling" ? "the event stream is unavailable; refreshing every 2 s" : "";
  };
  return element;
}
