// #/submit: a job form built from GET /v1/methods (hyperparameters) and the API's own
// description of a job (epochs, batch size, training options), checked like the API does.

import { apiDescription, getJson, postJson } from "../api.js";
import { fill, h, uid } from "../dom.js";
import { shortId } from "../format.js";
import { schemaFields } from "../schema_form.js";
import { errorBox, notice } from "../widgets.js";

const JOB_FIELDS = ["epochs", "batch_size", "image_size", "seed"];

/** A random Idempotency-Key: a double submit of one form makes one job. */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function select(label, options, { name, value, hint } = {}) {
  const id = uid("sel");
  const control = h("select", { id, name, "aria-describedby": hint ? `${id}-hint` : null },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  const field = h("div", { class: "field" }, h("label", { for: id }, label), control,
    hint && h("p", { class: "hint", id: `${id}-hint` }, hint),
    h("p", { class: "field-error", "aria-live": "polite" }));
  return { field, control, setError: (m) => { field.querySelector(".field-error").textContent = m || ""; } };
}

function methodAbout(method) {
  return h("div", { class: "about" },
    h("p", {}, method.summary),
    h("p", { class: "muted" }, `${method.family.replaceAll("_", " ")} · collapse prevention: ${method.collapse_prevention} · `,
      h("cite", {}, method.paper)));
}

export async function submitView(main, { query, signal, navigate }) {
  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Submit a job")));
  let methods;
  let datasets;
  let models;
  let spec;
  try {
    [methods, datasets, models, spec] = await Promise.all([
      getJson("/v1/methods", { signal }),
      getJson("/v1/datasets?limit=500", { signal }).then((page) => ({ ...page, items: page.items.filter((d) => d.state === "ready") })),
      getJson("/v1/models?limit=500", { signal }),
      apiDescription(),
    ]);
  } catch (error) {
    if (!signal.aborted) main.append(errorBox(error));
    return;
  }
  if (!datasets.items.length) {
    main.append(notice(h("span", {}, "Register a dataset first: ", h("a", { href: "#/datasets" }, "Datasets"), ".")));
    return;
  }
  const schemas = spec.components.schemas;
  const byName = new Map(methods.map((m) => [m.name, m]));
  const datasetById = new Map(datasets.items.map((d) => [d.id, d]));

  const method = select("Method", methods.map((m) => [m.name, `${m.name} (${m.family.replaceAll("_", " ")})`]),
    { name: "method", value: query.get("method") || "simclr" });
  const dataset = select("Dataset", datasets.items.map((d) =>
    [d.id, `${d.name} — ${d.image_count} images${d.labeled ? `, ${d.classes.length} classes` : ""}`]),
  { name: "dataset_id", value: query.get("dataset") || datasets.items[0].id });
  const labeled = datasets.items.filter((d) => d.labeled && d.classes.length >= 2);
  const evalSet = select("Evaluate kNN on", [["", "its own classes, if it has some"],
    ...labeled.map((d) => [d.id, `${d.name} — ${d.classes.length} classes`])],
  { name: "eval_dataset_id", value: "" });
  const parent = select("Start from model", [["", "none: from scratch"],
    ...models.items.map((m) => [m.id, `${m.method} ${shortId(m.id)} — ${m.backbone}, ${m.image_size} px`])],
  { name: "parent_model_id", value: query.get("parent") || "" });
  const backboneSlot = h("div");
  const about = h("div");
  const hyperSlot = h("div");
  const job = schemaFields(schemas.JobCreate, { only: JOB_FIELDS });
  const training = schemaFields(schemas.TrainingOptions, { prefix: "training" });
  const result = h("div");
  let backbone;
  let hyper;

  const showMethod = () => {
    const chosen = byName.get(method.control.value);
    backbone = select("Backbone", chosen.allowed_backbones.map((b) => [b, b === chosen.default_backbone ? `${b} (default)` : b]),
      { name: "backbone", value: chosen.default_backbone });
    fill(backboneSlot, backbone.field);
    fill(about, methodAbout(chosen));
    hyper = schemaFields(chosen.hyperparameters_schema, { prefix: "hyperparameters" });
    fill(hyperSlot, hyper.element);
  };
  // A parent's encoder must match: take its backbone and image size when the method allows.
  const modelById = new Map(models.items.map((m) => [m.id, m]));
  const matchParent = () => {
    const chosen = modelById.get(parent.control.value);
    if (!chosen) return;
    if ([...backbone.control.options].some((o) => o.value === chosen.backbone)) backbone.control.value = chosen.backbone;
    const size = job.element.querySelector("[name=image_size]");
    if (size) size.value = String(chosen.image_size);
  };
  method.control.addEventListener("change", () => { showMethod(); matchParent(); });
  parent.control.addEventListener("change", matchParent);
  showMethod();
  matchParent();

  let key = idempotencyKey();
  const button = h("button", { type: "submit" }, "Submit");
  const form = h("form", { class: "submit-form", novalidate: true },
    h("fieldset", { class: "panel" }, h("legend", {}, "What to train"),
      h("div", { class: "grid" }, method.field, dataset.field, evalSet.field, backboneSlot, parent.field), about),
    h("fieldset", { class: "panel" }, h("legend", {}, "Run"), job.element),
    h("fieldset", { class: "panel" }, h("legend", {}, "Hyperparameters"), hyperSlot),
    h("details", { class: "panel" }, h("summary", {}, "Training options (optimizer, learning rate, precision…)"),
      training.element),
    h("div", { class: "form-actions" }, button), result);
  form.addEventListener("input", () => { key = idempotencyKey(); }); // a changed form is a new job

  const read = () => {
    const parts = [job.read(), hyper.read(), training.read()];
    const errors = Object.assign({}, ...parts.map((p) => p.errors));
    const body = {
      method: method.control.value,
      dataset_id: dataset.control.value,
      ...(evalSet.control.value ? { eval_dataset_id: evalSet.control.value } : {}),
      ...(parent.control.value ? { parent_model_id: parent.control.value } : {}),
      backbone: backbone.control.value,
      ...parts[0].values,
      hyperparameters: parts[1].values,
      training: parts[2].values,
    };
    const chosen = datasetById.get(body.dataset_id);
    const batch = body.batch_size ?? schemas.JobCreate.properties.batch_size.default;
    if (!errors.batch_size && chosen && batch > chosen.image_count) {
      errors.batch_size = `batch_size ${batch} exceeds the dataset's ${chosen.image_count} images`;
      job.showErrors({ batch_size: errors.batch_size });
    }
    return { body, errors };
  };
  const showErrors = (errors) => {
    let left = job.showErrors(errors);
    left = hyper.showErrors(left);
    left = training.showErrors(left);
    dataset.setError(left.dataset_id);
    evalSet.setError(left.eval_dataset_id);
    backbone.setError(left.backbone);
    parent.setError(left.parent_model_id);
    delete left.parent_model_id;
    delete left.dataset_id;
    delete left.eval_dataset_id;
    delete left.backbone;
    return left;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.replaceChildren();
    const { body, errors } = read();
    if (Object.keys(errors).length) {
      result.replaceChildren(notice(`Fix ${Object.keys(errors).length} field(s): ${Object.keys(errors).join(", ")}`, "error"));
      form.querySelector("[aria-invalid=true]")?.focus();
      return;
    }
    button.disabled = true;
    try {
      const created = await postJson("/v1/jobs", body, { headers: { "Idempotency-Key": key }, signal });
      navigate(`#/jobs/${created.id}`);
    } catch (error) {
      if (signal.aborted) return;
      const left = error.status === 422 ? showErrors(error.fieldMessages()) : {};
      result.replaceChildren(errorBox(error));
      if (Object.keys(left).length) result.append(notice(JSON.stringify(left), "error"));
    } finally {
      button.disabled = false;
    }
  });
  main.append(form);
}
