// Small inline-SVG plots (the weight histogram, the faithfulness curves): elements, the root
// and the axes they share. Colours come from CSS.

const SVG = "http://www.w3.org/2000/svg";

export type SvgAttrs = Record<string, string | number>;

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: SvgAttrs = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Coordinates to 1/100 of a unit: short attributes, no visible difference. */
export function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/** An `<svg>` of `width` x `height` units that scales with its box, titled for screen readers. */
export function plotRoot(
  className: string,
  width: number,
  height: number,
  title: string,
): SVGSVGElement {
  const root = svg("svg", {
    class: className,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": title,
  });
  root.append(svg("title", {}, title));
  return root;
}

/** The plotting area, in the root's units. */
export interface PlotBox {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** A tick under the x axis at screen x `at`, labelled `label`. */
export interface Tick {
  at: number;
  label: string;
  anchor: "start" | "middle" | "end";
}

/**
 * A group with the x and y axis lines along the box's bottom and left edges, the x ticks
 * and their labels, the x title centred at height `xTitleY` and the y title turned on the left.
 */
export function axes(
  className: string,
  box: PlotBox,
  xTicks: readonly Tick[],
  titles: { x: string; y: string; xTitleY: number },
): SVGGElement {
  const { left, right, top, bottom } = box;
  const group = svg("g", { class: className });
  group.append(
    svg("line", { x1: left, x2: right, y1: bottom, y2: bottom }),
    svg("line", { x1: left, x2: left, y1: top, y2: bottom }),
  );
  for (const { at, label, anchor } of xTicks) {
    group.append(
      svg("line", { x1: at, x2: at, y1: bottom, y2: bottom + 3 }),
      svg("text", { x: at, y: bottom + 13, "text-anchor": anchor, "data-tick": "x" }, label),
    );
  }
  const middle = (top + bottom) / 2;
  group.append(
    svg(
      "text",
      { x: (left + right) / 2, y: titles.xTitleY, "text-anchor": "middle", class: "is-title" },
      titles.x,
    ),
    svg(
      "text",
      {
        x: 10,
        y: middle,
        "text-anchor": "middle",
        class: "is-title",
        transform: `rotate(-90 10 ${middle})`,
      },
      titles.y,
    ),
  );
  return group;
}
