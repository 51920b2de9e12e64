// Deleting a job, model or dataset from the dashboard: a button that asks first in an
// in-page dialog (naming what goes with the object), then sends DELETE and says what the
// API answered. Every page that deletes uses deleteButton.

import { send } from "./api.js";
import { h, uid } from "./dom.js";
import { errorBox, notice } from "./widgets.js";

const KINDS = {
  job: {
    path: "/v1/jobs/",
    goesWith: "Its metrics, events and checkpoints are deleted with it.",
  },
  model: {
    path: "/v1/models/",
    goesWith: "Its weights, exports, dataset embeddings and evaluations are deleted with it. Its job stays.",
  },
  dataset: {
    path: "/v1/datasets/",
    goesWith: "Uploaded images are deleted with it; a registered folder on the server is never touched. Jobs and models made from it stay.",
  },
};

let pending = null; // "Deleted …" for the page a delete went back to

/** The notice of a delete that left its page, once, for the page it went to (else null). */
export function takeDeletedNotice() {
  const text = pending;
  pending = null;
  return text ? notice(text, "success") : null;
}

/** A modal "Delete X?" dialog with [Delete] [Cancel]: resolves true on Delete. */
function confirmDelete(anchor, question, detail) {
  const titleId = uid("confirm");
  const textId = uid("confirm");
  const dialog = h("dialog", { class: "confirm", "aria-labelledby": titleId, "aria-describedby": textId },
    h("form", { method: "dialog" },
      h("h2", { id: titleId }, question),
      h("p", { id: textId }, detail, " This cannot be undone."),
      h("div", { class: "actions" },
        h("button", { type: "submit", value: "delete", class: "danger" }, "Delete"),
        h("button", { type: "submit", value: "cancel", class: "secondary", autofocus: true }, "Cancel"))));
  // inside the page, so that leaving the page takes the dialog away too
  (anchor.closest("main") || document.body).append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "delete");
    });
    dialog.showModal();
  });
}

/**
 * A button deleting the ``kind`` ("job", "model" or "dataset") ``id``, shown as ``name``.
 * It asks first; on 204 it shows "Deleted …" in ``messages`` and runs ``onDeleted``, or,
 * given ``leaveTo`` (a hash such as "#/models"), goes there and shows it on that page. An
 * error answer shows the API's message in ``messages`` and changes nothing.
 */
export function deleteButton({ kind, id, name, messages, onDeleted, leaveTo, label = "Delete" }) {
  const { path, goesWith } = KINDS[kind];
  const what = `${kind} ${name}`;
  const button = h("button", { type: "button", class: "danger", "aria-label": `Delete ${what}` }, label);
  button.addEventListener("click", async () => {
    if (!(await confirmDelete(button, `Delete ${what}?`, goesWith))) return;
    button.disabled = true;
    messages.replaceChildren(notice(`Deleting ${what}…`));
    try {
      await send(`${path}${id}`, { method: "DELETE" });
    } catch (error) {
      messages.replaceChildren(errorBox(error));
      button.disabled = false;
      return;
    }
    const done = `Deleted ${what}.`;
    if (leaveTo) {
      pending = done;
      window.location.hash = leaveTo;
    } else {
      messages.replaceChildren(notice(done, "success"));
    }
    onDeleted?.();
  });
  return button;
}
