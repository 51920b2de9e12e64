// Form fields generated from a JSON schema (pydantic's), checked in the browser with the
// words of the API's 422 answers, so a user reads the same message from either side.

import { h, uid } from "./dom.js";

/** One property as the form needs it: kind, bounds, default, whether null is allowed. */
export function fieldSpec(name, schema, required = false) {
  let base = schema;
  let nullable = false;
  if (Array.isArray(schema.anyOf)) {
    nullable = schema.anyOf.some((t) => t.type === "null");
    base = { ...schema.anyOf.find((t) => t.type !== "null"), ...schema };
  }
  const kind = base.enum ? "enum" : base.type || "string";
  return {
    name,
    title: schema.title || name,
    description: schema.description || "",
    kind,
    options: base.enum || [],
    nullable,
    hasDefault: "default" in schema,
    default: schema.default,
    required: required && !("default" in schema),
    minimum: base.minimum,
    maximum: base.maximum,
    exclusiveMinimum: base.exclusiveMinimum,
    exclusiveMaximum: base.exclusiveMaximum,
  };
}

const quote = (v) => `'${v}'`;

function oneOf(options) {
  const quoted = options.map(quote);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}` : quoted[0];
}

function boundError(spec, value) {
  if (spec.exclusiveMinimum !== undefined && !(value > spec.exclusiveMinimum))
    return `Input should be greater than ${spec.exclusiveMinimum}`;
  if (spec.minimum !== undefined && !(value >= spec.minimum))
    return `Input should be greater than or equal to ${spec.minimum}`;
  if (spec.exclusiveMaximum !== undefined && !(value < spec.exclusiveMaximum))
    return `Input should be less than ${spec.exclusiveMaximum}`;
  if (spec.maximum !== undefined && !(value <= spec.maximum))
    return `Input should be less than or equal to ${spec.maximum}`;
  return null;
}

/**
 * The value to send for ``raw`` (a string, or a boolean for a checkbox), or the API's
 * message for it. ``omit`` means "leave it out, the server's default applies".
 */
export function checkValue(spec, raw) {
  if (spec.kind === "boolean") return { value: Boolean(raw) };
  const text = String(raw ?? "").trim();
  if (text === "") {
    if (spec.required) return { error: "Field required" };
    return { omit: true };
  }
  if (spec.kind === "integer") {
    if (!/^[+-]?\d+$/.test(text)) {
      return Number.isFinite(Number(text))
        ? { error: "Input should be a valid integer, got a number with a fractional part" }
        : { error: "Input should be a valid integer, unable to parse string as an integer" };
    }
    const value = Number.parseInt(text, 10);
    const error = boundError(spec, value);
    return error ? { error } : { value };
  }
  if (spec.kind === "number") {
    const value = Number(text);
    if (!Number.isFinite(value)) {
      return { error: "Input should be a valid number, unable to parse string as a number" };
    }
    const error = boundError(spec, value);
    return error ? { error } : { value };
  }
  if (spec.kind === "enum" && !spec.options.includes(text)) {
    return { error: `Input should be ${oneOf(spec.options)}` };
  }
  return { value: text };
}

/** "0 < x ≤ 10", "≥ 8": the bounds in a few characters. */
export function boundsText(spec) {
  const low = spec.exclusiveMinimum !== undefined ? `${spec.exclusiveMinimum} <` :
    spec.minimum !== undefined ? `${spec.minimum} ≤` : "";
  const high = spec.exclusiveMaximum !== undefined ? `< ${spec.exclusiveMaximum}` :
    spec.maximum !== undefined ? `≤ ${spec.maximum}` : "";
  if (!low && !high) return "";
  return [low, "x", high].filter(Boolean).join(" ");
}

function control(spec, id, describedBy) {
  const common = { id, name: spec.path, "aria-describedby": describedBy };
  if (spec.kind === "boolean") {
    return h("input", { ...common, type: "checkbox", checked: Boolean(spec.default) });
  }
  if (spec.kind === "enum") {
    return h("select", common,
      (spec.nullable || !spec.hasDefault) && h("option", { value: "" }, spec.nullable ? "default" : "choose…"),
      spec.options.map((o) => h("option", { value: o, selected: o === spec.default }, o)));
  }
  const numeric = spec.kind === "integer" || spec.kind === "number";
  return h("input", {
    ...common,
    type: numeric ? "number" : "text",
    step: spec.kind === "integer" ? "1" : numeric ? "any" : null,
    inputmode: spec.kind === "integer" ? "numeric" : numeric ? "decimal" : null,
    value: spec.default === null || spec.default === undefined ? "" : String(spec.default),
    placeholder: spec.default === null ? "default" : null,
  });
}

/** A label, control, hint (description and bounds) and error line for one property. */
function fieldElement(spec) {
  const id = uid("field");
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const input = control(spec, id, `${hintId} ${errorId}`);
  const bounds = boundsText(spec);
  const error = h("p", { class: "field-error", id: errorId, "aria-live": "polite" });
  const label = h("label", { for: id }, spec.title, bounds && h("span", { class: "bounds" }, ` (${bounds})`));
  const element = spec.kind === "boolean"
    ? h("div", { class: "field field-check" }, input, label, h("p", { class: "hint", id: hintId }, spec.description), error)
    : h("div", { class: "field" }, label, input, h("p", { class: "hint", id: hintId }, spec.description), error);
  const read = () => (spec.kind === "boolean" ? input.checked : input.value);
  const setError = (message) => {
    error.textContent = message || "";
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };
  input.addEventListener("input", () => setError(checkValue(spec, read()).error));
  return { spec, element, input, read, setError };
}

/**
 * Fields for ``schema.properties`` (or just the names in ``only``), their values under
 * ``prefix`` ("hyperparameters" gives paths like "hyperparameters.temperature").
 */
export function schemaFields(schema, { prefix = "", only = null } = {}) {
  const required = new Set(schema.required || []);
  const names = only || Object.keys(schema.properties || {});
  const fields = names.filter((n) => schema.properties?.[n]).map((name) => {
    const spec = fieldSpec(name, schema.properties[name], required.has(name));
    spec.path = prefix ? `${prefix}.${name}` : name;
    return fieldElement(spec);
  });
  return {
    fields,
    element: h("div", { class: "fields" }, fields.map((f) => f.element)),
    /** {values, errors}: values to send, and error messages by field path. */
    read() {
      const values = {};
      const errors = {};
      for (const field of fields) {
        const result = checkValue(field.spec, field.read());
        field.setError(result.error);
        if (result.error) errors[field.spec.path] = result.error;
        else if (!result.omit) values[field.spec.name] = result.value;
      }
      return { values, errors };
    },
    /** Show messages by path (e.g. a 422's details); returns those that matched no field. */
    showErrors(messages) {
      const left = { ...messages };
      for (const field of fields) {
        if (field.spec.path in left) {
          field.setError(left[field.spec.path]);
          delete left[field.spec.path];
        }
      }
      return left;
    },
  };
}
