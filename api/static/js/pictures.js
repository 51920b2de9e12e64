// Pictures the API draws (PNG grids): fetched with the key, shown as blob URLs.

import { send } from "./api.js";
import { fill, h, uid } from "./dom.js";
import { errorBox, notice } from "./widgets.js";

/** The PNG at ``path`` shown in ``slot`` (or the error that came instead). */
export async function showPicture(slot, path, init, alt) {
  fill(slot, notice("Drawing…"));
  try {
    const response = await send(path, init);
    fill(slot, h("img", { class: "picture-grid", src: URL.createObjectURL(await response.blob()), alt }));
  } catch (error) {
    fill(slot, errorBox(error));
  }
}

/** A job's picture of each epoch (samples or reconstructions): the newest one unless an
 * earlier epoch is picked; ``update(job.pictures)`` as the job moves on. */
export function epochPictures(jobId, headingId, title = "Pictures") {
  const pickId = uid("epoch");
  const pick = h("select", { id: pickId });
  const slot = h("div", { "aria-live": "polite" });
  const section = h("section", { class: "panel", "aria-labelledby": headingId, hidden: true },
    h("h2", { id: headingId }, title),
    h("div", { class: "field" }, h("label", { for: pickId }, "Epoch"), pick), slot);
  let known = [];
  let shown = null;
  let followNewest = true;
  const show = (epoch) => {
    shown = epoch;
    showPicture(slot, `/v1/jobs/${jobId}/samples/${epoch}`, {}, `what the model made after epoch ${epoch + 1}`);
  };
  pick.addEventListener("change", () => {
    followNewest = Number(pick.value) === known.at(-1);
    show(Number(pick.value));
  });
  const update = (epochs) => {
    if (!epochs.length || epochs.length === known.length) return;
    known = epochs;
    section.hidden = false;
    fill(pick, epochs.map((epoch) => h("option", { value: String(epoch) }, `epoch ${epoch + 1}`)));
    const target = followNewest ? epochs.at(-1) : shown;
    pick.value = String(target);
    if (target !== shown) show(target);
  };
  return { section, update };
}
