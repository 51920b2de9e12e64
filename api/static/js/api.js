// The API as the dashboard calls it: JSON in and out, errors as ApiError, and the API key
// (kept in this browser's localStorage) sent as a bearer token when one is set.

const KEY_STORAGE = "sslpt.apiKey";

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

export function authHeaders(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : { ...headers };
}

/** An error answer of the API: {code, message, details} and the HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || "http_error";
    this.details = body.details;
  }

  /** The per-field messages of a 422 as {"a.b": message}. */
  fieldMessages() {
    const out = {};
    if (Array.isArray(this.details)) {
      for (const d of this.details) if (d && d.field) out[d.field] = d.message;
    }
    return out;
  }
}

async function errorBody(response) {
  try {
    return await response.json();
  } catch {
    return { code: "http_error", message: `${response.status} ${response.statusText}` };
  }
}

/** fetch() with the key; throws ApiError on a non-2xx answer (and tells the page on 401). */
export async function send(path, init = {}) {
  const response = await fetch(path, { ...init, headers: authHeaders(init.headers) });
  if (!response.ok) {
    const error = new ApiError(response.status, await errorBody(response));
    if (response.status === 401 || response.status === 403) {
      window.dispatchEvent(new CustomEvent("sslpt:unauthorized", { detail: error }));
    }
    throw error;
  }
  return response;
}

export async function getJson(path, { signal } = {}) {
  return (await send(path, { signal })).json();
}

export async function postJson(path, body, { headers = {}, signal } = {}) {
  const init = {
    method: "POST",
    signal,
    headers: { ...headers, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
  return (await send(path, init)).json();
}

export async function postForm(path, form, { signal } = {}) {
  return (await send(path, { method: "POST", body: form, signal })).json();
}

/** Save the answer of ``path`` as a file (a link could not carry the API key). */
export async function download(path, fallbackName) {
  const response = await send(path);
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = match ? match[1] : fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Whether the API offers ``method path`` (read once from its OpenAPI description). */
let openapi = null;
export async function apiDescription() {
  openapi ??= getJson("/openapi.json").catch((error) => {
    openapi = null;
    throw error;
  });
  return openapi;
}

export async function hasRoute(method, path) {
  try {
    const spec = await apiDescription();
    return Boolean(spec.paths?.[path]?.[method.toLowerCase()]);
  } catch {
    return false;
  }
}
