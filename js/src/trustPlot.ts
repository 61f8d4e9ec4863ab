// The deletion and insertion curves of the faithfulness read-out as inline SVG: the class
// probability against the fraction of pixels changed, the map's curves solid and the random
// map's dashed, with a legend beside it. Colours come from CSS (trust.css).

import { h } from "./dom";
import { axes, plotRoot, round, svg } from "./svgPlot";
import type { Curve, Faithfulness } from "./viewData";

export const PLOT_WIDTH = 300;
export const PLOT_HEIGHT = 150;
export const PLOT_MARGIN = { left: 34, right: 8, top: 8, bottom: 30 };

export type SeriesKey = "deletion-map" | "deletion-random" | "insertion-map" | "insertion-random";
export const SERIES: readonly SeriesKey[] = [
  "deletion-map",
  "deletion-random",
  "insertion-map",
  "insertion-random",
];

export interface PlotLabels {
  title: string;
  x: string;
  y: string;
  series: Record<SeriesKey, string>;
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/** Screen x of a fraction in [0, 1]. */
export function plotX(fraction: number): number {
  const width = PLOT_WIDTH - PLOT_MARGIN.left - PLOT_MARGIN.right;
  return round(PLOT_MARGIN.left + clamp01(fraction) * width);
}

/** Screen y of a probability in [0, 1] (0 at the bottom). */
export function plotY(score: number): number {
  const height = PLOT_HEIGHT - PLOT_MARGIN.top - PLOT_MARGIN.bottom;
  return round(PLOT_MARGIN.top + (1 - clamp01(score)) * height);
}

/**
 * The `d` of a curve through (fractions[i], scores[i]); a missing value on either side
 * breaks the line there (a new `M`) instead of joining across the gap.
 */
export function curvePath(
  fractions: readonly (number | null)[],
  scores: readonly (number | null)[],
): string {
  const parts: string[] = [];
  let open = false;
  const n = Math.min(fractions.length, scores.length);
  for (let i = 0; i < n; i++) {
    const f = fractions[i];
    const s = scores[i];
    if (f === null || f === undefined || s === null || s === undefined) {
      open = false;
      continue;
    }
    parts.push(`${open ? "L" : "M"}${plotX(f)},${plotY(s)}`);
    open = true;
  }
  return parts.join(" ");
}

function curveOf(data: Faithfulness, key: SeriesKey): Curve | null {
  const [metric, which] = key.split("-") as ["deletion" | "insertion", "map" | "random"];
  return data[metric][which];
}

/** One <svg>: the four curves on a unit square, axes at 0 and 1. */
export function faithfulnessPlot(data: Faithfulness, labels: PlotLabels): SVGSVGElement {
  const root = plotRoot("cnnviz-trust-svg", PLOT_WIDTH, PLOT_HEIGHT, labels.title);
  const left = PLOT_MARGIN.left;
  const right = PLOT_WIDTH - PLOT_MARGIN.right;
  const top = PLOT_MARGIN.top;
  const bottom = PLOT_HEIGHT - PLOT_MARGIN.bottom;

  const grid = svg("g", { class: "cnnviz-trust-grid" });
  for (const v of [0.5]) {
    grid.append(svg("line", { x1: left, x2: right, y1: plotY(v), y2: plotY(v) }));
    grid.append(svg("line", { x1: plotX(v), x2: plotX(v), y1: top, y2: bottom }));
  }
  root.append(grid);

  const curves = svg("g", { class: "cnnviz-trust-curves" });
  for (const key of SERIES) {
    const curve = curveOf(data, key);
    if (!curve) continue;
    const d = curvePath(data.fractions, curve.scores);
    if (!d) continue;
    const [metric, which] = key.split("-");
    curves.append(
      svg("path", {
        class: `cnnviz-trust-curve is-${metric} is-${which}`,
        "data-series": key,
        d,
      }),
    );
  }
  root.append(curves);

  const axis = axes(
    "cnnviz-trust-axis",
    { left, right, top, bottom },
    [
      { at: plotX(0), label: "0", anchor: "start" },
      { at: plotX(0.5), label: "0.5", anchor: "middle" },
      { at: plotX(1), label: "1", anchor: "end" },
    ],
    { x: labels.x, y: labels.y, xTitleY: PLOT_HEIGHT - 3 },
  );
  for (const value of [0, 1]) {
    axis.append(
      svg(
        "text",
        { x: left - 4, y: plotY(value) + (value === 1 ? 8 : 0), "text-anchor": "end" },
        String(value),
      ),
    );
  }
  root.append(axis);
  return root;
}

/** The legend: a short line in each series' colour and dash, and its name. */
export function curveLegend(labels: PlotLabels): HTMLUListElement {
  const list = h("ul", { class: "cnnviz-trust-legend" });
  for (const key of SERIES) {
    const [metric, which] = key.split("-");
    const swatch = svg("svg", {
      class: "cnnviz-trust-swatch",
      viewBox: "0 0 24 8",
      width: 24,
      height: 8,
      "aria-hidden": "true",
    });
    swatch.append(
      svg("line", {
        class: `cnnviz-trust-curve is-${metric} is-${which}`,
        x1: 1,
        x2: 23,
        y1: 4,
        y2: 4,
      }),
    );
    const item = h("li", { "data-series": key });
    item.append(swatch, h("span", {}, labels.series[key]));
    list.append(item);
  }
  return list;
}
