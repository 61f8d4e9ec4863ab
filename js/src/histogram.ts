// The weight histogram as inline SVG: trained counts filled, the untrained copy's as an
// outline on the same bin edges, with a few numbers on the axes.

import { formatNumber } from "./format";
import { axes, plotRoot, round, svg, type Tick } from "./svgPlot";
import type { Histogram } from "./viewData";

export const HIST_WIDTH = 420;
export const HIST_HEIGHT = 150;
const MARGIN = { left: 44, right: 10, top: 8, bottom: 32 };

export interface HistogramLabels {
  title: string;
  weight: string;
  count: string;
}

/** One <svg>: a rect per bin for the trained weights, a step outline for the baseline. */
export function histogramSvg(hist: Histogram, labels: HistogramLabels): SVGSVGElement {
  const { edges, trained, baseline } = hist;
  const bins = edges.length - 1;
  const lo = edges[0] ?? 0;
  const hi = edges[bins] ?? 1;
  const span = hi - lo || 1;
  const plotW = HIST_WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HIST_HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (v: number): number => round(MARGIN.left + ((v - lo) / span) * plotW);
  const maxCount = Math.max(1, ...trained.counts, ...(baseline?.counts ?? []));
  const y = (c: number): number => round(MARGIN.top + plotH - (c / maxCount) * plotH);
  const bottom = MARGIN.top + plotH;

  const root = plotRoot("cnnviz-histogram-svg", HIST_WIDTH, HIST_HEIGHT, labels.title);

  const bars = svg("g", { class: "cnnviz-hist-trained" });
  for (let i = 0; i < bins; i++) {
    const count = trained.counts[i] ?? 0;
    const left = x(edges[i] ?? lo);
    const right = x(edges[i + 1] ?? hi);
    const top = y(count);
    bars.append(
      svg("rect", {
        "data-series": "trained",
        "data-count": count,
        x: left,
        y: top,
        width: Math.max(0, round(right - left)),
        height: round(bottom - top),
      }),
    );
  }
  root.append(bars);

  if (baseline) {
    // A step line along the tops of the baseline's bins, down to the axis at both ends.
    let d = `M${x(lo)},${bottom}`;
    for (let i = 0; i < bins; i++) {
      const top = y(baseline.counts[i] ?? 0);
      d += ` L${x(edges[i] ?? lo)},${top} L${x(edges[i + 1] ?? hi)},${top}`;
    }
    d += ` L${x(hi)},${bottom}`;
    root.append(svg("path", { "data-series": "baseline", class: "cnnviz-hist-baseline", d }));
  }

  // Axes: the baseline, zero (when inside the range) and the ends, the top count.
  const values = [lo, hi];
  if (lo < 0 && hi > 0 && Math.min(-lo, hi) / span > 0.12) values.splice(1, 0, 0);
  const ticks: Tick[] = values.map((value, i) => ({
    at: x(value),
    label: formatNumber(value),
    anchor: i === 0 ? "start" : i === values.length - 1 ? "end" : "middle",
  }));
  const box = { left: MARGIN.left, right: MARGIN.left + plotW, top: MARGIN.top, bottom };
  const titles = { x: labels.weight, y: labels.count, xTitleY: HIST_HEIGHT - 4 };
  const axis = axes("cnnviz-hist-axis", box, ticks, titles);
  axis.append(
    svg(
      "text",
      { x: MARGIN.left - 4, y: MARGIN.top + 8, "text-anchor": "end" },
      maxCount < 1e5 ? String(maxCount) : formatNumber(maxCount, 2),
    ),
    svg("text", { x: MARGIN.left - 4, y: bottom, "text-anchor": "end" }, "0"),
  );
  root.append(axis);
  return root;
}
