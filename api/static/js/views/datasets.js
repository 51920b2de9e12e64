// #/datasets: register a folder on the server, list what is registered. A new dataset is
// "ingesting" until the ingest worker has scanned it; the list polls until none is. Each
// row can be deleted.

import { getJson, postJson } from "../api.js";
import { deleteButton } from "../delete.js";
import { h, uid } from "../dom.js";
import { bytes, dateTime, shortId } from "../format.js";
import { errorBox, notice } from "../widgets.js";

function registerForm(onRegistered) {
  const nameId = uid("ds");
  const pathId = uid("ds");
  const name = h("input", { id: nameId, name: "name", required: true, maxlength: 200, autocomplete: "off" });
  const path = h("input", { id: pathId, name: "path", required: true, placeholder: "/abs/path/to/images",
    autocomplete: "off", "aria-describedby": `${pathId}-hint ${pathId}-error` });
  const pathError = h("p", { class: "field-error", id: `${pathId}-error`, "aria-live": "polite" });
  const result = h("div", { class: "form-result" });
  const button = h("button", { type: "submit" }, "Register");
  const form = h("form", { class: "panel form-inline", novalidate: true },
    h("h2", {}, "Register a folder"),
    h("div", { class: "field" }, h("label", { for: nameId }, "Name"), name),
    h("div", { class: "field field-wide" }, h("label", { for: pathId }, "Folder on the server"), path,
      h("p", { class: "hint", id: `${pathId}-hint` },
        "An absolute path the API can read. Sub-folders, if every image sits in one, are class labels (used for evaluation only)."),
      pathError),
    h("div", { class: "field field-button" }, button),
    result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.replaceChildren();
    pathError.textContent = path.value.trim().startsWith("/") ? "" : "path must be absolute";
    if (!name.value.trim()) name.setAttribute("aria-invalid", "true");
    if (pathError.textContent || !name.value.trim()) return;
    button.disabled = true;
    button.textContent = "Registering…";
    try {
      const dataset = await postJson("/v1/datasets", { name: name.value.trim(), path: path.value.trim() });
      result.replaceChildren(notice(`Registered ${dataset.name}: the ingest worker is scanning it.`, "success"));
      form.reset();
      onRegistered(dataset);
    } catch (error) {
      result.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
      button.textContent = "Register";
    }
  });
  return form;
}

function sizeText(stats) {
  const w = stats.width;
  const h_ = stats.height;
  return w && h_ ? `${Math.round(w.mean)}×${Math.round(h_.mean)} px (mean)` : "–";
}

function stateCell(d) {
  const badge = h("span", { class: `status status-${d.state}`, "data-state": d.state }, d.state);
  return d.state === "failed" ? h("td", { title: d.failure_reason || "" }, badge, h("div", { class: "muted small" }, d.failure_reason || "")) : h("td", {}, badge);
}

function datasetRow(d, messages, onDeleted) {
  const row = h("tr", { "data-dataset-id": d.id },
    h("td", {}, h("strong", {}, d.name), h("div", { class: "mono muted" }, shortId(d.id))),
    stateCell(d),
    h("td", { class: "mono path" }, d.path),
    h("td", { class: "num" }, d.image_count),
    h("td", {}, d.labeled ? `${d.classes.length}: ${d.classes.slice(0, 6).join(", ")}${d.classes.length > 6 ? "…" : ""}` : "unlabeled"),
    h("td", {}, sizeText(d.size_stats)),
    h("td", { class: "num" }, bytes(d.total_bytes)),
    h("td", { class: "num" }, d.unreadable_count
      ? h("span", { title: d.unreadable.map((u) => `${u.path}: ${u.reason}`).join("\n") }, d.unreadable_count)
      : "0"),
    h("td", {}, dateTime(d.created_at)),
    h("td", {}, h("div", { class: "actions" },
      d.state === "ready" && h("a", { class: "button", href: `#/submit?dataset=${d.id}` }, "Train on it"),
      deleteButton({ kind: "dataset", id: d.id, name: d.name, messages, onDeleted: () => onDeleted(row) }))));
  return row;
}

export async function datasetsView(main, { signal }) {
  const body = h("tbody");
  const messages = h("div");
  const emptyRow = () => h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No dataset yet."));
  const removeRow = (row) => {
    row.remove();
    if (!body.rows.length) body.append(emptyRow());
  };
  let timer = null;
  const load = async () => {
    const page = await getJson("/v1/datasets?limit=500", { signal });
    body.replaceChildren(...page.items.map((d) => datasetRow(d, messages, removeRow)));
    if (!page.items.length) body.append(emptyRow());
    clearTimeout(timer);
    if (page.items.some((d) => d.state === "ingesting") && !signal.aborted) {
      timer = setTimeout(() => load().catch(() => {}), 1000);
    }
  };
  signal.addEventListener("abort", () => clearTimeout(timer));
  main.append(
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Datasets")),
    registerForm(() => load().catch(() => {})),
    messages,
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, "Registered datasets"),
      h("thead", {}, h("tr", {}, ["Dataset", "State", "Folder", "Images", "Classes", "Size", "Bytes", "Unreadable", "Registered", ""]
        .map((t) => h("th", { scope: "col" }, t)))),
      body)));
  try {
    await load();
  } catch (error) {
    if (!signal.aborted) main.append(errorBox(error));
  }
}
