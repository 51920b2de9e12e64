// #/models: every trained model.

import { getJson } from "../api.js";
import { h } from "../dom.js";
import { dateTime, number, shortId } from "../format.js";
import { errorBox } from "../widgets.js";

export async function modelsView(main, { signal }) {
  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Models")));
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
    h("thead", {}, h("tr", {}, ["Model", "Method", "Backbone", "Dim", "kNN top-1", "Job", "Created"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, page.items.map((m) => h("tr", {},
      h("td", {}, h("a", { href: `#/models/${m.id}`, class: "mono" }, shortId(m.id))),
      h("td", {}, m.method), h("td", {}, m.backbone), h("td", { class: "num" }, m.embed_dim),
      h("td", { class: "num" }, m.metrics.knn_top1 === undefined ? "–" : number(m.metrics.knn_top1, 3)),
      h("td", {}, h("a", { href: `#/jobs/${m.job_id}`, class: "mono" }, shortId(m.job_id))),
      h("td", {}, dateTime(m.created_at))))))));
}
