// The dashboard's entry point: a hash router over the pages, and the API key box.

import { apiKey, setApiKey } from "./api.js";
import { h } from "./dom.js";
import { datasetsView } from "./views/datasets.js";
import { jobView } from "./views/job.js";
import { jobsView } from "./views/jobs.js";
import { modelView } from "./views/model.js";
import { modelsView } from "./views/models.js";
import { submitView } from "./views/submit.js";
import { workersView } from "./views/workers.js";

const ROUTES = [
  [/^\/jobs\/([0-9A-Za-z_-]+)$/, jobView, "Job"],
  [/^\/jobs$/, jobsView, "Jobs"],
  [/^\/models\/([0-9A-Za-z_-]+)$/, modelView, "Model"],
  [/^\/models$/, modelsView, "Models"],
  [/^\/submit$/, submitView, "Submit"],
  [/^\/datasets$/, datasetsView, "Datasets"],
  [/^\/workers$/, workersView, "Workers"],
];

let running = null; // the AbortController of the page on screen: aborted on navigation

function currentRoute() {
  const raw = window.location.hash.replace(/^#/, "") || "/jobs";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}

function navigate(hash) {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function markNav(path) {
  for (const link of document.querySelectorAll("nav a")) {
    const section = link.getAttribute("href").slice(1);
    if (path === section || path.startsWith(`${section}/`)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function render({ focus = false } = {}) {
  running?.abort();
  running = new AbortController();
  const { signal } = running;
  const { path, query } = currentRoute();
  const main = document.getElementById("main");
  main.replaceChildren();
  markNav(path);
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (!route) {
    main.append(h("h1", { tabindex: "-1" }, "Page not found"), h("p", {}, h("a", { href: "#/jobs" }, "Back to the jobs")));
    return;
  }
  const [pattern, view, title] = route;
  document.title = `${title} · sslpt`;
  const params = pattern.exec(path).slice(1);
  await view(main, { params, query, signal, navigate });
  if (focus && !signal.aborted) main.querySelector("h1")?.focus();
}

function keyBox() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  const state = document.getElementById("key-state");
  const show = () => {
    state.textContent = apiKey() ? "key saved" : "no key";
    form.classList.remove("key-needed");
  };
  input.value = apiKey();
  show();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey(input.value.trim());
    show();
    render();
  });
  window.addEventListener("sslpt:unauthorized", () => {
    form.classList.add("key-needed");
    state.textContent = apiKey() ? "key refused" : "key needed";
  });
}

keyBox();
window.addEventListener("hashchange", () => render({ focus: true }));
render();
