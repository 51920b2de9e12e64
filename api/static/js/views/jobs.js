// #/jobs: every job with its progress, live, filterable by status; a finished one can be
// deleted.

import { getJson } from "../api.js";
import { deleteButton, takeDeletedNotice } from "../delete.js";
import { fill, h } from "../dom.js";
import { datasetLabel, dateTime, shortId } from "../format.js";
import { follow } from "../live.js";
import {
  FINISHED, JOB_STATUSES, errorBox, etaText, liveIndicator, progressCell, speedText, statusBadge,
} from "../widgets.js";

const PAGE_SIZE = 50;

function jobsUrl(statuses, offset) {
  const query = new URLSearchParams(statuses.map((s) => ["status", s]));
  query.set("limit", PAGE_SIZE);
  query.set("offset", offset);
  return `/v1/jobs?${query}`;
}

function row(job, datasetNames, deleteAction) {
  return h("tr", { "data-job-id": job.id, "data-status": job.status },
    h("td", {}, h("a", { href: `#/jobs/${job.id}`, class: "mono" }, shortId(job.id))),
    h("td", {}, job.method, h("span", { class: "muted" }, ` · ${job.backbone}`)),
    h("td", {}, datasetLabel(datasetNames.get(job.dataset_id), job.dataset_id, job.dataset_deleted)),
    h("td", {}, statusBadge(job.status)),
    h("td", { class: "cell-progress" }, progressCell(job)),
    h("td", { class: "num" }, speedText(job)),
    h("td", { class: "num" }, etaText(job)),
    h("td", {}, dateTime(job.created_at)),
    h("td", {}, FINISHED.has(job.status) && deleteAction(job)),
  );
}

function statusFilter(selected, onChange) {
  const boxes = JOB_STATUSES.map((status) => {
    const input = h("input", { type: "checkbox", value: status, checked: selected.includes(status) });
    input.addEventListener("change", () => onChange(boxes.filter((b) => b.checked).map((b) => b.value)));
    return input;
  });
  return h("fieldset", { class: "filter" }, h("legend", {}, "Show status"),
    boxes.map((box) => h("label", { class: "chip" }, box, box.value)));
}

export async function jobsView(main, { query, signal, navigate }) {
  const statuses = query.getAll("status").filter((s) => JOB_STATUSES.includes(s));
  const offset = Math.max(0, Number.parseInt(query.get("offset") || "0", 10) || 0);
  const live = liveIndicator();
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const messages = h("div", {}, takeDeletedNotice());
  const table = h("table", { class: "jobs" },
    h("caption", { class: "visually-hidden" }, "Jobs, newest first"),
    h("thead", {}, h("tr", {}, ["Job", "Method", "Dataset", "Status", "Progress", "Speed", "ETA", "Created", ""]
      .map((title) => h("th", { scope: "col" }, title)))),
    body);
  const toHash = (nextStatuses, nextOffset) => {
    const q = new URLSearchParams(nextStatuses.map((s) => ["status", s]));
    if (nextOffset) q.set("offset", nextOffset);
    return `#/jobs${q.toString() ? `?${q}` : ""}`;
  };
  main.append(
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Jobs"), live,
      h("a", { class: "button", href: "#/submit" }, "Submit a job")),
    statusFilter(statuses, (next) => navigate(toHash(next, 0))),
    messages,
    h("div", { class: "table-wrap" }, table),
    pager,
  );

  let total = 0;
  const drawPager = () => fill(pager,
    offset > 0 && h("a", { class: "button", href: toHash(statuses, Math.max(0, offset - PAGE_SIZE)) }, "← Newer"),
    h("span", { class: "muted" }, `${rows.size ? offset + 1 : 0}–${offset + rows.size} of ${total}`),
    offset + PAGE_SIZE < total && h("a", { class: "button", href: toHash(statuses, offset + PAGE_SIZE) }, "Older →"),
  );
  const datasetNames = new Map();
  const rows = new Map();
  const deleteAction = (job) => deleteButton({
    kind: "job", id: job.id, name: shortId(job.id), messages,
    onDeleted: () => {
      rows.get(job.id)?.remove();
      rows.delete(job.id);
      total -= 1;
      drawPager();
    },
  });
  const render = (job) => {
    const fresh = row(job, datasetNames, deleteAction);
    const old = rows.get(job.id);
    if (old) old.replaceWith(fresh);
    rows.set(job.id, fresh);
    return fresh;
  };
  let loads = 0;
  const load = async () => {
    const ticket = ++loads;
    const [page, datasets] = await Promise.all([
      getJson(jobsUrl(statuses, offset), { signal }),
      getJson("/v1/datasets?limit=500", { signal }),
    ]);
    if (ticket !== loads) return; // only the newest answer is drawn
    for (const d of datasets.items) datasetNames.set(d.id, d.name);
    rows.clear();
    body.replaceChildren(...page.items.map(render));
    if (!page.items.length) {
      body.append(h("tr", {}, h("td", { colspan: 9, class: "muted" },
        statuses.length ? "No job with these statuses." : "No job yet: submit one.")));
    }
    total = page.total;
    drawPager();
  };
  try {
    await load();
  } catch (error) {
    if (!signal.aborted) main.append(errorBox(error));
    return;
  }

  const onJob = (job) => {
    if (rows.has(job.id)) {
      render(job);
    } else if (offset === 0 && (!statuses.length || statuses.includes(job.status))) {
      body.querySelector("td[colspan]")?.parentElement.remove();
      body.prepend(render(job)); // a job submitted since the page was drawn
      total += 1;
      drawPager();
    }
  };
  follow({
    url: () => "/v1/jobs/stream",
    handlers: { job: onJob },
    poll: async () => { await load(); return false; },
    signal,
    onMode: live.setMode,
  });
}
