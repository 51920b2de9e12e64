// #/models: every trained model; each can be deleted.

import { getJson } from "../api.js";
import { deleteButton, takeDeletedNotice } from "../delete.js";
import { h } from "../dom.js";
import { dateTime, number, shortId } from "../format.js";
import { errorBox } from "../widgets.js";

function modelRow(m, messages) {
  const row = h("tr", { "data-model-id": m.id },
    h("td", {}, h("a", { href: `#/models/${m.id}`, class: "mono" }, shortId(m.id))),
    h("td", {}, m.method), h("td", {}, m.backbone), h("td", { class: "num" }, m.embed_dim),
    h("td", { class: "num" }, m.metrics.knn_top1 === undefined ? "–" : number(m.metrics.knn_top1, 3)),
    h("td", {}, h("a", { href: `#/jobs/${m.job_id}`, class: "mono" }, shortId(m.job_id))),
    h("td", {}, dateTime(m.created_at)),
    h("td", {}, deleteButton({ kind: "model", id: m.id, name: shortId(m.id), messages, onDeleted: () => row.remove() })));
  return row;
}

export async function modelsView(main, { signal }) {
  const messages = h("div", {}, takeDeletedNotice());
  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Models")), messages);
  let page;
  try {
    page = await getJson("/v1/models?limit=200", { signal });
  } catch (error) {
    if (!signal.aborted) main.append(errorBox(error));
    return;
  }
  if (!page.items.length) {
    main.append(h("p", { class: "muted" }, "No model yet: a job that succeeds publishes one."));
    return;
  }
  main.append(h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "visually-hidden" }, "Trained models, newest first"),
    h("thead", {}, h("tr", {}, ["Model", "Method", "Backbone", "Dim", "kNN top-1", "Job", "Created", ""]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, page.items.map((m) => modelRow(m, messages))))));
}
