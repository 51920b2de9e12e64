// A 2-D scatter of dataset embeddings (from GET /v1/models/<id>/map), coloured by class.

import { h, s, uid } from "./dom.js";
import { COLOURS } from "./chart.js";
import { percent } from "./format.js";

const SIZE = 420;
const PAD = 14;

function scaleTo(values) {
  const low = Math.min(...values);
  const high = Math.max(...values);
  const span = high - low || 1;
  return (v) => PAD + ((v - low) / span) * (SIZE - 2 * PAD);
}

export function scatterMap(map) {
  const labels = map.labels || [];
  const colour = (label) => (labels.length ? COLOURS[labels.indexOf(label) % COLOURS.length] : COLOURS[0]);
  const x = scaleTo(map.points.map((p) => p.x));
  const y = scaleTo(map.points.map((p) => -p.y));
  const captionId = uid("map");
  const variance = map.explained_variance.map(percent).join(" + ");
  const svg = s("svg", { viewBox: `0 0 ${SIZE} ${SIZE}`, role: "img", "aria-labelledby": captionId, class: "scatter" },
    s("rect", { class: "frame", x: 0.5, y: 0.5, width: SIZE - 1, height: SIZE - 1 }),
    map.points.map((p) => s("circle", { cx: x(p.x).toFixed(1), cy: y(-p.y).toFixed(1), r: 3.5,
      fill: colour(p.label), "data-label": p.label ?? "" }, s("title", {}, p.label ? `${p.label}: ${p.path}` : p.path))));
  return h("figure", { class: "chart" },
    h("figcaption", { id: captionId },
      `${map.method.toUpperCase()} of ${map.points.length} of ${map.total} embeddings (explained variance ${variance})`),
    svg,
    labels.length ? h("ul", { class: "legend" }, labels.map((label) => h("li", {},
      s("svg", { width: 10, height: 10, "aria-hidden": "true" }, s("circle", { cx: 5, cy: 5, r: 4, fill: colour(label) })),
      label))) : h("p", { class: "muted" }, "The dataset has no class folders: one colour."));
}
