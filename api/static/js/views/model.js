// #/models/<id>: what the model is, its downloads, an embed-an-image box with nearest
// neighbours in its training set, a 2-D map of that set's embeddings, and delete.

import { download, getJson, hasRoute, postForm, postJson } from "../api.js";
import { deleteButton } from "../delete.js";
import { fill, h, uid } from "../dom.js";
import { bytes, datasetLabel, dateTime, number, shortId } from "../format.js";
import { epochPictures, showPicture } from "../pictures.js";
import { scatterMap } from "../scatter.js";
import { definitions, errorBox, notice, statusBadge } from "../widgets.js";

const EXPORT_FORMATS = [
  ["safetensors", "backbone weights (.safetensors)"],
  ["torchscript", "TorchScript embed graph"],
  ["onnx", "ONNX embed graph"],
];
const NEIGHBOURS = 8;

function norm(vector) {
  return Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
}

function exportsPanel(model) {
  const message = h("div");
  const buttons = EXPORT_FORMATS.map(([format, label]) => {
    const button = h("button", { type: "button", class: "secondary" }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      message.replaceChildren(notice(`Preparing ${format}…`));
      try {
        await download(`/v1/models/${model.id}/export?format=${format}`, `${model.id}-${format}.zip`);
        message.replaceChildren();
      } catch (error) {
        message.replaceChildren(errorBox(error));
      } finally {
        button.disabled = false;
      }
    });
    return button;
  });
  return h("section", { class: "panel", "aria-labelledby": "model-exports" },
    h("h2", { id: "model-exports" }, "Download"),
    h("p", { class: "muted" }, "Each download is a zip with the model card (method, data, metrics)."),
    h("div", { class: "actions" }, buttons), message);
}

/** The model's newest finished embedding of its training set, a button to make one otherwise. */
async function trainingSetEmbedding(model, signal, onReady) {
  const panel = h("div", { class: "embedding-status" });
  const refresh = async () => {
    const rows = await getJson(`/v1/models/${model.id}/embeddings`, { signal });
    const own = rows.filter((r) => r.dataset_id === model.dataset_id);
    const done = own.find((r) => r.status === "succeeded");
    const pending = own.find((r) => r.status === "queued" || r.status === "running");
    if (done) {
      fill(panel, h("p", { class: "muted" }, `Training set embedded: ${done.item_count} images (${done.index_kind} index).`));
      onReady(done);
      return true;
    }
    if (pending) {
      fill(panel, h("p", {}, "Embedding the training set: ", statusBadge(pending.status)));
      return false;
    }
    const button = h("button", { type: "button", class: "secondary" }, "Embed the training set");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await postJson(`/v1/models/${model.id}/embeddings`, { dataset_id: model.dataset_id });
        poll();
      } catch (error) {
        panel.append(errorBox(error));
      }
    });
    const failed = own.find((r) => r.status === "failed");
    fill(panel, h("p", { class: "muted" }, "Nearest neighbours and the map need the training set embedded once."),
      failed && errorBox({ message: failed.failure_reason || "failed", code: "embedding failed", status: "" }), button);
    return true;
  };
  const poll = async () => {
    while (!signal.aborted && !(await refresh().catch(() => true))) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  };
  poll();
  return panel;
}

function neighboursList(hits) {
  return h("ol", { class: "neighbours" }, hits.map((hit) => h("li", {},
    h("span", { class: "mono" }, hit.path), hit.label && h("span", { class: "tag" }, hit.label),
    h("span", { class: "muted" }, ` cosine ${number(hit.score, 4)}`))));
}

function embedPanel(model, canSearch) {
  const fileId = uid("embed");
  const normId = uid("embed");
  const file = h("input", { id: fileId, type: "file", accept: "image/*", required: true });
  const normalize = h("input", { id: normId, type: "checkbox" });
  const preview = h("div", { class: "preview" });
  const output = h("div", { class: "embed-output", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Embed");
  const form = h("form", { class: "form-inline" },
    h("div", { class: "field" }, h("label", { for: fileId }, "Image"), file),
    h("div", { class: "field field-check" }, normalize, h("label", { for: normId }, "L2-normalise")),
    h("div", { class: "field field-button" }, button));
  file.addEventListener("change", () => {
    const picked = file.files[0];
    fill(preview, picked && h("img", { src: URL.createObjectURL(picked), alt: `the picked image ${picked.name}` }));
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = file.files[0];
    if (!picked) {
      fill(output, notice("Pick an image first.", "error"));
      return;
    }
    button.disabled = true;
    fill(output, notice("Embedding…"));
    try {
      const body = new FormData();
      body.append("files", picked);
      body.append("normalize", normalize.checked ? "true" : "false");
      const answer = await postForm(`/v1/models/${model.id}/embed`, body);
      const vector = answer.embeddings[0];
      fill(output, definitions([
        ["dimension", answer.dim],
        ["L2 norm", number(norm(vector), 6)],
        ["first values", h("span", { class: "mono" }, vector.slice(0, 6).map((v) => number(v, 3)).join(", "), " …")],
      ]));
      if (canSearch()) {
        const query = new FormData();
        query.append("file", picked);
        query.append("k", String(NEIGHBOURS));
        query.append("dataset_id", model.dataset_id);
        const found = await postForm(`/v1/models/${model.id}/search`, query);
        output.append(h("h3", {}, `Nearest in the training set`), neighboursList(found.results));
      }
    } catch (error) {
      output.append(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "panel", "aria-labelledby": "model-embed" },
    h("h2", { id: "model-embed" }, "Embed an image"), form, h("div", { class: "embed-result" }, preview, output));
}

async function mapPanel(model, signal) {
  const body = h("div", {}, notice("Computing the map…"));
  const section = h("section", { class: "panel", "aria-labelledby": "model-map" },
    h("h2", { id: "model-map" }, "Map of the training set"), body);
  try {
    const map = await getJson(`/v1/models/${model.id}/map?dataset_id=${model.dataset_id}`, { signal });
    fill(body, scatterMap(map));
  } catch (error) {
    fill(body, error.status === 404 ? h("p", { class: "muted" }, error.message) : errorBox(error));
  }
  return section;
}

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** Samples from a generative model's prior, and reconstructions of a picked image. */
function picturesPanel(model, method) {
  const headingId = uid("pictures");
  const section = h("section", { class: "panel", "aria-labelledby": headingId },
    h("h2", { id: headingId }, "Pictures"));
  if (method.generates) {
    const seedId = uid("seed");
    const seed = h("input", { id: seedId, type: "number", min: "0", value: "0" });
    const slot = h("div", { "aria-live": "polite" });
    const draw = () => showPicture(slot, `/v1/models/${model.id}/samples?n=64&seed=${Number(seed.value) || 0}`,
      {}, `64 samples drawn with seed ${Number(seed.value) || 0}`);
    const form = h("form", { class: "form-inline" },
      h("div", { class: "field" }, h("label", { for: seedId }, "Seed"), seed),
      h("div", { class: "field field-button" }, h("button", { type: "submit" }, "Draw samples")));
    form.addEventListener("submit", (event) => { event.preventDefault(); draw(); });
    section.append(form, slot);
    draw();
  }
  if (method.reconstructs) {
    const fileId = uid("reconstruct");
    const file = h("input", { id: fileId, type: "file", accept: "image/*", required: true });
    const slot = h("div", { "aria-live": "polite" });
    const form = h("form", { class: "form-inline" },
      h("div", { class: "field" }, h("label", { for: fileId }, "Image to reconstruct"), file),
      h("div", { class: "field field-button" }, h("button", { type: "submit" }, "Reconstruct")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const picked = file.files[0];
      if (!picked) {
        fill(slot, notice("Pick an image first.", "error"));
        return;
      }
      const body = JSON.stringify({ images: [await base64Of(picked)] });
      await showPicture(slot, `/v1/models/${model.id}/reconstruct`,
        { method: "POST", headers: { "Content-Type": "application/json" }, body },
        `${picked.name}: what the model was given, and what it made of it`);
    });
    section.append(form, slot);
  }
  return section;
}

/** The models this one was started from, parent first; deleted ones are named, not linked. */
function lineageChain(model) {
  if (!model.lineage.length) return null;
  return h("ol", { class: "lineage", "aria-label": "ancestors, parent first" },
    model.lineage.map((ancestor) => {
      const label = `${ancestor.method ?? "model"} ${shortId(ancestor.model_id)}`;
      return h("li", {}, ancestor.deleted
        ? h("span", { class: "muted mono" }, `${label} (deleted)`)
        : h("a", { href: `#/models/${ancestor.model_id}`, class: "mono" }, label));
    }));
}

export async function modelView(main, { params: [modelId], signal }) {
  let model;
  try {
    model = await getJson(`/v1/models/${modelId}`, { signal });
  } catch (error) {
    if (!signal.aborted) main.append(errorBox(error));
    return;
  }
  document.title = `model ${shortId(model.id)} · sslpt`;
  const dataset = await getJson(`/v1/datasets/${model.dataset_id}`, { signal }).catch(() => null);
  const metrics = Object.entries(model.metrics).filter(([, v]) => typeof v === "number");
  const message = h("div");
  main.append(
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Model ", h("span", { class: "mono" }, shortId(model.id))),
      h("div", { class: "actions" },
        h("a", { class: "button", href: `#/submit?parent=${model.id}&dataset=${model.dataset_id}&method=${model.method}` }, "Train from this model"),
        deleteButton({
        kind: "model", id: model.id, name: shortId(model.id), messages: message, leaveTo: "#/models", label: "Delete model",
      }))),
    message,
    h("section", { class: "panel", "aria-labelledby": "model-facts" },
      h("h2", { id: "model-facts" }, "About"),
      definitions([
        ["method", model.method], ["backbone", model.backbone],
        ["input size", `${model.image_size} px`], ["embedding size", model.embed_dim],
        ["trained by", h("a", { href: `#/jobs/${model.job_id}`, class: "mono" }, `job ${shortId(model.job_id)}`)],
        ["started from", lineageChain(model)],
        ["training set", dataset ? `${dataset.name} (${dataset.image_count} images)`
          : datasetLabel("", model.dataset_id, model.dataset_deleted)],
        ["created", dateTime(model.created_at)],
        ["stored", bytes(model.stored_bytes)],
        ...metrics.map(([k, v]) => [k, number(v, 4)]),
      ])));

  const [canExport, canSearch, canMap, method] = await Promise.all([
    hasRoute("get", "/v1/models/{model_id}/export"),
    hasRoute("post", "/v1/models/{model_id}/search"),
    hasRoute("get", "/v1/models/{model_id}/map"),
    getJson(`/v1/methods/${model.method}`, { signal }).catch(() => null),
  ]);
  if (canExport) main.append(exportsPanel(model));
  if (method && (method.generates || method.reconstructs)) {
    main.append(picturesPanel(model, method));
    const training = epochPictures(model.job_id, uid("training-pictures"), "Pictures during training");
    main.append(training.section);
    getJson(`/v1/jobs/${model.job_id}`, { signal }).then((job) => training.update(job.pictures)).catch(() => {});
  }
  let searchable = false;
  const columns = h("div", { class: "columns" }, embedPanel(model, () => searchable));
  main.append(columns);
  if (canSearch) {
    const mapSlot = h("div");
    const status = await trainingSetEmbedding(model, signal, async () => {
      if (searchable) return;
      searchable = true;
      if (canMap) fill(mapSlot, await mapPanel(model, signal));
    });
    columns.firstChild.append(status);
    columns.append(mapSlot);
  }
}
