// A small SVG line chart: several series against the step, optional threshold lines,
// nice axis ticks and a readout of the values under the pointer.

import { h, s, uid } from "./dom.js";
import { number } from "./format.js";

// Okabe & Ito's palette: told apart by readers with any common colour-vision deficiency.
export const COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];
const WIDTH = 640;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 16, bottom: 34, left: 58 };
const MAX_MARKERS = 40; // below this many points each one gets a dot

/** Round-number ticks covering [low, high]: steps of 1, 2 or 5 times a power of ten. */
export function ticks(low, high, count = 5) {
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
  const out = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

function extent(values, pad) {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) {
    const spread = Math.abs(low) * 0.1 || 1;
    return [low - spread, high + spread];
  }
  const margin = (high - low) * pad;
  return [low - margin, high + margin];
}

function scale([d0, d1], [r0, r1]) {
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/**
 * A <figure> with a titled chart. ``series``: [{name, points: [{step, value}]}];
 * ``thresholds``: [{value, label}]. The polyline of each series has data-series=name.
 */
export function lineChart({ title, series, thresholds = [], xLabel = "step", yLabel = "" }) {
  const drawn = series.filter((one) => one.points.length);
  const captionId = uid("chart");
  const figure = h("figure", { class: "chart" }, h("figcaption", { id: captionId }, title));
  if (!drawn.length) {
    figure.append(h("p", { class: "muted" }, "no points yet"));
    return figure;
  }
  const xs = drawn.flatMap((one) => one.points.map((p) => p.step));
  const ys = [...drawn.flatMap((one) => one.points.map((p) => p.value)),
    ...thresholds.map((t) => t.value)];
  const xDomain = extent(xs, 0);
  const yDomain = extent(ys, 0.05);
  const x = scale(xDomain, [MARGIN.left, WIDTH - MARGIN.right]);
  const y = scale(yDomain, [HEIGHT - MARGIN.bottom, MARGIN.top]);

  const svg = s("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": captionId,
    class: "chart-plot", preserveAspectRatio: "xMidYMid meet",
  });
  for (const tick of ticks(...yDomain)) {
    svg.append(
      s("line", { class: "grid", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick) }),
      s("text", { class: "tick", x: MARGIN.left - 6, y: y(tick) + 4, "text-anchor": "end" }, number(tick)),
    );
  }
  for (const tick of ticks(...xDomain).filter((t) => Number.isInteger(t))) {
    svg.append(s("text", {
      class: "tick", x: x(tick), y: HEIGHT - MARGIN.bottom + 16, "text-anchor": "middle",
    }, String(tick)));
  }
  svg.append(
    s("line", { class: "axis", x1: MARGIN.left, x2: WIDTH - MARGIN.right,
      y1: HEIGHT - MARGIN.bottom, y2: HEIGHT - MARGIN.bottom }),
    s("text", { class: "axis-label", x: (WIDTH + MARGIN.left) / 2, y: HEIGHT - 4,
      "text-anchor": "middle" }, xLabel),
  );
  if (yLabel) {
    svg.append(s("text", { class: "axis-label", x: 12, y: HEIGHT / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${HEIGHT / 2})` }, yLabel));
  }
  for (const threshold of thresholds) {
    svg.append(
      s("line", { class: "threshold", x1: MARGIN.left, x2: WIDTH - MARGIN.right,
        y1: y(threshold.value), y2: y(threshold.value) }),
      s("text", { class: "threshold-label", x: WIDTH - MARGIN.right - 4,
        y: y(threshold.value) - 5, "text-anchor": "end" }, threshold.label),
    );
  }
  drawn.forEach((one, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const points = one.points.map((p) => `${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`);
    svg.append(s("polyline", { class: "series", "data-series": one.name, stroke: colour,
      points: points.join(" ") }));
    if (one.points.length <= MAX_MARKERS) {
      for (const p of one.points) {
        svg.append(s("circle", { class: "marker", cx: x(p.step), cy: y(p.value), r: 3, fill: colour },
          s("title", {}, `${one.name} ${number(p.value, 4)} at step ${p.step}`)));
      }
    }
  });
  figure.append(svg, legend(drawn), readout(svg, drawn, x, xDomain));
  return figure;
}

function legend(drawn) {
  return h("ul", { class: "legend" }, drawn.map((one, i) => {
    const last = one.points[one.points.length - 1];
    const swatch = s("svg", { width: 18, height: 10, "aria-hidden": "true" },
      s("line", { x1: 0, x2: 18, y1: 5, y2: 5, stroke: COLOURS[i % COLOURS.length], "stroke-width": 3 }));
    return h("li", {}, swatch, `${one.name}: ${number(last.value, 4)}`);
  }));
}

/** The values of every series at the step under the pointer, with a vertical cursor line. */
function readout(svg, drawn, x, [x0, x1]) {
  const text = h("p", { class: "readout muted", "aria-live": "off" }, "\u00a0");
  const cursor = s("line", { class: "cursor", y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom,
    visibility: "hidden" });
  svg.append(cursor);
  svg.addEventListener("pointermove", (event) => {
    const box = svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * WIDTH;
    const step = x0 + ((px - MARGIN.left) / (WIDTH - MARGIN.left - MARGIN.right)) * (x1 - x0);
    const parts = drawn.map((one) => {
      const nearest = one.points.reduce((a, b) => (Math.abs(b.step - step) < Math.abs(a.step - step) ? b : a));
      return { one, nearest };
    });
    const at = parts[0].nearest.step;
    cursor.setAttribute("x1", x(at));
    cursor.setAttribute("x2", x(at));
    cursor.setAttribute("visibility", "visible");
    text.textContent = parts.map(({ one, nearest }) => `${one.name} ${number(nearest.value, 4)} @ ${nearest.step}`).join("   ");
  });
  svg.addEventListener("pointerleave", () => {
    cursor.setAttribute("visibility", "hidden");
    text.textContent = "\u00a0";
  });
  return text;
}
