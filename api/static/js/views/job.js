// #/jobs/<id>: one job's progress, curves, events and hyperparameters, live; cancel, and
// delete once finished.

import { getJson, postJson } from "../api.js";
import { lineChart } from "../chart.js";
import { deleteButton } from "../delete.js";
import { fill, h } from "../dom.js";
import {
  bytes, datasetLabel, dateTime, duration, imagesPerSecond, number, shortId,
} from "../format.js";
import { follow } from "../live.js";
import { epochPictures } from "../pictures.js";
import {
  FINISHED, definitions, errorBox, liveIndicator, notice, progressCell, statusBadge,
} from "../widgets.js";

// ssl_engine.monitor.COLLAPSE_STD_RATIO: below it the trainer warns of collapse.
const COLLAPSE_THRESHOLD = 0.2;

/** The charts drawn, each from the metric names it takes; the rest go under "Other". */
const CHARTS = [
  { title: "Loss", names: (all) => all.filter((n) => n === "loss" || n.startsWith("loss_")) },
  { title: "Learning rate", names: () => ["lr"] },
  { title: "kNN top-1 accuracy (each epoch)", names: () => ["knn_top1"] },
  {
    title: "Collapse: std of normalised embeddings × √D (1 = spread, 0 = collapsed)",
    names: () => ["collapse_std_ratio"],
    thresholds: [{ value: COLLAPSE_THRESHOLD, label: `collapse threshold ${COLLAPSE_THRESHOLD}` }],
  },
  { title: "Effective rank of the embeddings", names: () => ["effective_rank"] },
  { title: "Throughput (images/s)", names: () => ["images_per_sec"] },
];

/** Metric points by name, a re-sent step replacing the old value. */
class MetricStore {
  constructor() {
    this.byName = new Map();
  }

  add(series) {
    for (const [name, points] of Object.entries(series)) {
      if (!this.byName.has(name)) this.byName.set(name, new Map());
      const steps = this.byName.get(name);
      for (const p of points) steps.set(p.step, p);
    }
  }

  names() {
    return [...this.byName.keys()].sort();
  }

  points(name) {
    return [...(this.byName.get(name)?.values() || [])].sort((a, b) => a.step - b.step);
  }
}

function eventItem(event) {
  const what = event.kind === "transition"
    ? h("span", {}, event.from_status ? `${event.from_status} → ` : "", h("strong", {}, event.to_status))
    : h("strong", {}, event.kind.replaceAll("_", " "));
  return h("li", { class: `event event-${event.kind}`, "data-event-id": event.id },
    h("time", { datetime: event.created_at }, dateTime(event.created_at)), " ", what,
    event.reason && h("span", { class: "muted" }, ` — ${event.reason}`));
}

function settingText(value) {
  if (value === null) return "default";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function settingsTable(job) {
  const rows = [
    ...Object.entries(job.hyperparameters).map(([k, v]) => [`hyperparameters.${k}`, v]),
    ...Object.entries(job.training).map(([k, v]) => [`training.${k}`, v]),
  ];
  return h("table", { class: "compact" },
    h("caption", { class: "visually-hidden" }, "Hyperparameters and training options"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "name"), h("th", { scope: "col" }, "value"))),
    h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row", class: "mono" }, k),
      h("td", { class: "mono" }, settingText(v))))));
}

export async function jobView(main, { params: [jobId], signal }) {
  const live = liveIndicator();
  const head = h("div", { class: "page-head" });
  const message = h("div");
  const summary = h("section", { class: "panel", "aria-labelledby": "job-progress" });
  const charts = h("div", { class: "charts" });
  const events = h("ol", { class: "timeline" });
  const settings = h("section", { class: "panel", "aria-labelledby": "job-settings" });
  const pictures = epochPictures(jobId, "job-pictures");
  main.append(head, message, summary, pictures.section,
    h("section", { "aria-labelledby": "job-curves" }, h("h2", { id: "job-curves" }, "Curves"), charts),
    h("div", { class: "columns" },
      h("section", { class: "panel", "aria-labelledby": "job-events" }, h("h2", { id: "job-events" }, "Events"), events),
      settings));

  let job;
  let datasetName = "";
  const store = new MetricStore();
  const eventIds = new Set();
  let lastMetricId = 0;
  let lastEventId = 0;

  const cancel = async (button) => {
    button.disabled = true;
    try {
      showJob(await postJson(`/v1/jobs/${jobId}/cancel`));
      message.replaceChildren(notice("Cancel requested: the job checkpoints and stops."));
    } catch (error) {
      message.replaceChildren(errorBox(error));
      button.disabled = FINISHED.has(job.status);
    }
  };
  const showJob = (next) => {
    job = next;
    const button = h("button", { type: "button", class: "danger", disabled: FINISHED.has(job.status) || job.status === "cancelling" }, "Cancel job");
    button.addEventListener("click", () => cancel(button));
    fill(head,
      h("h1", { tabindex: "-1" }, `Job `, h("span", { class: "mono" }, shortId(job.id))),
      statusBadge(job.status), live,
      h("div", { class: "actions" },
        job.model_id && h("a", { class: "button", href: `#/models/${job.model_id}` }, "Open the model"),
        button,
        FINISHED.has(job.status) && deleteButton({
          kind: "job", id: job.id, name: shortId(job.id), messages: message, leaveTo: "#/jobs", label: "Delete job",
        })));
    const p = job.progress;
    fill(summary,
      h("h2", { id: "job-progress" }, "Progress"),
      progressCell(job, "training progress"),
      job.failure_reason && errorBox({ message: job.failure_reason, code: "failed", status: "" }),
      definitions([
        ["method", job.method], ["backbone", job.backbone],
        ["started from", job.parent_model_id
          ? h("a", { href: `#/models/${job.parent_model_id}`, class: "mono" }, `model ${shortId(job.parent_model_id)}`) : null],
        ["dataset", job.dataset_deleted ? datasetLabel("", job.dataset_id, true)
          : h("a", { href: "#/datasets" }, datasetLabel(datasetName, job.dataset_id, false))],
        ["epoch", `${Math.min(p.epoch + 1, job.epochs)} of ${job.epochs}`],
        ["step", `${p.step} of ${p.total_steps || "?"}`],
        ["speed", imagesPerSecond(p.images_per_sec)],
        ["ETA", FINISHED.has(job.status) ? "–" : duration(p.eta_seconds)],
        ["image size", `${job.image_size} px`], ["batch size", job.batch_size],
        ["seed", job.seed], ["attempts", job.attempts],
        ["created", dateTime(job.created_at)], ["started", dateTime(job.started_at)],
        ["finished", dateTime(job.finished_at)],
        ["stored", bytes(job.stored_bytes)],
        ["model", job.model_id ? h("a", { href: `#/models/${job.model_id}`, class: "mono" }, shortId(job.model_id)) : null],
        ...Object.entries(job.latest_metrics).filter(([k]) => k === "loss" || k === "knn_top1")
          .map(([k, v]) => [`latest ${k}`, number(v, 4)]),
      ]));
    fill(settings, h("h2", { id: "job-settings" }, "Hyperparameters"), settingsTable(job));
    pictures.update(job.pictures);
  };

  let drawPending = false;
  const drawCharts = () => {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      const names = store.names();
      const used = new Set();
      const figures = CHARTS.map((chart) => {
        const wanted = chart.names(names).filter((n) => store.byName.has(n));
        wanted.forEach((n) => used.add(n));
        if (!wanted.length) return null;
        return lineChart({
          title: chart.title,
          series: wanted.map((name) => ({ name, points: store.points(name) })),
          thresholds: chart.thresholds,
        });
      });
      const others = names.filter((n) => !used.has(n) && n !== "data_wait_fraction" && n !== "knn_seconds");
      fill(charts, figures, others.length ? others.map((name) =>
        lineChart({ title: name, series: [{ name, points: store.points(name) }] })) : null,
      !names.length && h("p", { class: "muted" }, "No metric logged yet."));
    });
  };
  const addEvents = (list) => {
    for (const event of list) {
      lastEventId = Math.max(lastEventId, event.id);
      if (eventIds.has(event.id)) continue;
      eventIds.add(event.id);
      events.append(eventItem(event));
    }
  };

  try {
    const first = await getJson(`/v1/jobs/${jobId}`, { signal });
    datasetName = (await getJson(`/v1/datasets/${first.dataset_id}`, { signal }).catch(() => ({}))).name || "";
    showJob(first);
  } catch (error) {
    if (!signal.aborted) main.replaceChildren(errorBox(error));
    return;
  }
  document.title = `job ${shortId(jobId)} · sslpt`;

  const poll = async () => {
    const [next, metrics, eventList] = await Promise.all([
      getJson(`/v1/jobs/${jobId}`, { signal }),
      getJson(`/v1/jobs/${jobId}/metrics`, { signal }),
      getJson(`/v1/jobs/${jobId}/events`, { signal }),
    ]);
    showJob(next);
    store.add(metrics.series);
    drawCharts();
    addEvents(eventList);
    return FINISHED.has(next.status);
  };
  follow({
    url: () => `/v1/jobs/${jobId}/stream?after_metric=${lastMetricId}&after_event=${lastEventId}`,
    handlers: {
      job: showJob,
      metrics: (body) => {
        lastMetricId = body.last_metric_id;
        store.add(body.series);
        drawCharts();
      },
      events: addEvents,
    },
    poll,
    signal,
    onMode: live.setMode,
  });
  drawCharts();
}
