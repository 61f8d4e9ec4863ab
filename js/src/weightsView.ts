// The Weights tab: trained and untrained kernel grids on one colour scale, the colour bar,
// the weight histogram, the bias, and the linked view of one filter.

import { h, setAttrs } from "./dom";
import { type Fit, type Grid, pixelFit, tileAt, tileBox } from "./fit";
import { formatNumber } from "./format";
import { histogramSvg } from "./histogram";
import { t } from "./i18n";
import type { Colorbar, ImageMeta, Lang } from "./protocol";
import { imageByRole, type StoredResult } from "./state";
import {
  drawnScale,
  fillSelect,
  iconButton,
  labelled,
  pendingNote,
  place,
  type ResultView,
  ResultUrls,
  setLabel,
  textOn,
  type ViewContext,
} from "./viewCommon";
import {
  type BiasValues,
  type FilterDetail,
  hexColor,
  readWeightsData,
  type SeriesStats,
  type WeightsData,
} from "./viewData";

/** Bias values listed before "… N more". */
export const BIAS_SHOWN = 32;
/** Values of a dense column listed in the linked view. */
export const COLUMN_SHOWN = 256;
const GRID_GAP = 16;
const LINKED_MAP_SIDE = 200;

interface GridView {
  role: string;
  meta: ImageMeta;
  img: HTMLImageElement;
  marker: HTMLElement;
  fit: Fit | null;
}

function gridOf(meta: ImageMeta): Grid {
  return {
    rows: meta.rows,
    cols: meta.cols,
    tile_width: meta.tile_width,
    tile_height: meta.tile_height,
    gap: meta.gap,
    count: meta.tile_output_channel?.length || meta.channels || meta.rows * meta.cols,
  };
}

export class WeightsView implements ResultView {
  readonly controls: HTMLElement;
  readonly content: HTMLElement;
  readonly #inChannel: HTMLSelectElement;
  readonly #inChannelControl: HTMLElement;
  readonly #rgb: HTMLInputElement;
  readonly #rgbControl: HTMLElement;
  readonly #grids: HTMLElement;
  readonly #colorbar: HTMLElement;
  readonly #linked: HTMLElement;
  readonly #extras: HTMLElement;
  readonly #urls = new ResultUrls();
  #ctx: ViewContext | null = null;
  #shown: StoredResult | null = null;
  #data: WeightsData | null = null;
  #gridViews: GridView[] = [];
  #linkedMap: { img: HTMLImageElement; meta: ImageMeta } | null = null;
  #builtLang: Lang | null = null;
  #linkedSignature = "";
  #width = 0;

  constructor(signal: AbortSignal) {
    this.controls = h("div", { class: "cnnviz-controls" });
    this.#inChannel = h("select", { "data-role": "in-channel" });
    this.#inChannelControl = labelled("", this.#inChannel);
    this.#rgb = h("input", { type: "checkbox", "data-role": "rgb" });
    this.#rgbControl = labelled("", this.#rgb, "is-check");
    this.controls.append(this.#inChannelControl, this.#rgbControl);

    this.content = h("div", { class: "cnnviz-view cnnviz-weights", "data-view-body": "weights" });
    this.#grids = h("div", { class: "cnnviz-grids" });
    this.#colorbar = h("div", { class: "cnnviz-colorbar", "data-role": "colorbar" });
    this.#linked = h("section", { class: "cnnviz-linked", "data-role": "linked" });
    this.#extras = h("div", { class: "cnnviz-weights-extras" });
    this.content.append(this.#grids, this.#colorbar, this.#linked, this.#extras);
    this.#syncVisibility();

    this.#inChannel.addEventListener(
      "change",
      () => {
        const value = Number(this.#inChannel.value);
        if (Number.isInteger(value)) this.#ctx?.set("in_channel", value);
      },
      { signal },
    );
    this.#rgb.addEventListener("change", () => this.#ctx?.set("rgb", this.#rgb.checked), {
      signal,
    });
    this.#grids.addEventListener("click", (e) => this.#onGridClick(e), { signal });
    this.#grids.addEventListener("keydown", (e) => this.#onGridKey(e), { signal });
    this.#linked.addEventListener("click", (e) => this.#onLinkedClick(e), { signal });
  }

  get shown(): StoredResult | null {
    return this.#shown;
  }

  update(result: StoredResult | undefined, ctx: ViewContext): void {
    this.#ctx = ctx;
    if (result && (result !== this.#shown || ctx.lang !== this.#builtLang)) {
      this.#shown = result;
      this.#data = readWeightsData(result.data);
      this.#build(result, this.#data, ctx.lang);
    }
    this.#syncControls(ctx);
    this.#syncLinked(ctx);
    this.#syncVisibility();
    this.fit(this.#width);
  }

  fit(width: number): void {
    this.#width = width;
    if (width <= 0) return;
    const views = this.#gridViews;
    const first = views[0];
    if (first) {
      const { width: w, height: h } = first.meta;
      // Side by side while both fit at 1x or more; otherwise one above the other.
      const half = (width - GRID_GAP * (views.length - 1)) / views.length;
      let fit = pixelFit(w, h, half);
      if (fit.smooth || views.length === 1) fit = pixelFit(w, h, width);
      for (const view of views) {
        view.fit = fit;
        place(view.img, fit);
        // The frame around a kernel grid is as wide as the gaps between its kernels.
        view.img.style.setProperty(
          "--cnnviz-grid-line",
          `${Math.max(1, fit.scale * view.meta.gap)}px`,
        );
      }
      const bar = Math.min(width, 420, Math.max(240, fit.width));
      this.#colorbar.style.width = `${Math.floor(bar)}px`;
    }
    if (this.#linkedMap) {
      const { meta, img } = this.#linkedMap;
      const side = Math.min(LINKED_MAP_SIDE, width);
      place(img, pixelFit(meta.width, meta.height, side, side, 16));
    }
    this.#placeMarkers();
  }

  clear(): void {
    this.#urls.revoke();
    this.#shown = null;
    this.#data = null;
    this.#gridViews = [];
    this.#linkedMap = null;
    this.#linkedSignature = "";
    this.#builtLang = null;
    this.#grids.replaceChildren();
    this.#colorbar.replaceChildren();
    this.#linked.replaceChildren();
    this.#extras.replaceChildren();
    this.#syncVisibility();
  }

  destroy(): void {
    this.clear();
  }

  // ----------------------------------------------------------------- build
  #build(result: StoredResult, data: WeightsData, lang: Lang): void {
    this.#builtLang = lang;
    this.#linkedSignature = "";
    const ctx = this.#ctx;
    this.#gridViews = [];
    const figures: HTMLElement[] = [];
    for (const role of ["trained", "baseline"] as const) {
      const found = imageByRole(result, role) ?? (role === "trained" ? first(result) : undefined);
      if (!found) continue;
      const url = this.#urls.url(result, found.index);
      const clickable = found.meta.kind === "kernels";
      const heading = t(lang, role === "trained" ? "trained" : "baseline");
      const img = h("img", {
        class: "cnnviz-image cnnviz-grid-image",
        alt: t(lang, "gridAlt", { which: heading, layer: ctx?.layer ?? "" }),
        draggable: "false",
        src: url,
        width: found.meta.width || null,
        height: found.meta.height || null,
        "data-kind": found.meta.kind,
        "data-rows": found.meta.rows,
        "data-cols": found.meta.cols,
        "data-tile-width": found.meta.tile_width,
        "data-tile-height": found.meta.tile_height,
        "data-gap": found.meta.gap,
      });
      img.addEventListener("load", () => this.fit(this.#width));
      const marker = h("div", { class: "cnnviz-tile-marker", "aria-hidden": "true" });
      marker.hidden = true;
      const frame = h("div", {
        class: "cnnviz-grid-frame",
        "data-grid": role,
        ...(clickable
          ? {
              tabindex: role === "trained" ? 0 : null,
              role: role === "trained" ? "button" : null,
              title: t(lang, "tileHint"),
              "aria-label": role === "trained" ? t(lang, "tileHint") : null,
            }
          : {}),
      });
      frame.classList.toggle("is-clickable", clickable);
      frame.append(img, marker);
      const figure = h("figure", { class: "cnnviz-grid", "data-role": "grid" });
      figure.append(h("figcaption", { class: "cnnviz-subheading" }, heading), frame);
      figures.push(figure);
      this.#gridViews.push({ role, meta: found.meta, img, marker, fit: null });
    }
    this.#grids.replaceChildren(...figures);

    const colorbar = result.image.colorbar;
    this.#colorbar.replaceChildren(...(colorbar ? colorbarParts(colorbar, lang) : []));
    this.#colorbar.hidden = !colorbar;

    this.#extras.replaceChildren(...extrasParts(data, lang));
  }

  #syncControls(ctx: ViewContext): void {
    const { lang, traits } = ctx;
    const meta = this.#shown?.image;
    const inChannels = meta?.in_channels ?? this.#data?.inChannels ?? 0;
    const showIn = meta?.kind === "kernels" && meta.tiles === "filters" && inChannels > 1;
    this.#inChannelControl.hidden = !showIn;
    setLabel(this.#inChannelControl, t(lang, "inChannel"));
    if (showIn) {
      const options = Array.from({ length: inChannels }, (_, i) => [String(i), String(i)] as const);
      fillSelect(this.#inChannel, options, String(traits.in_channel));
    }
    const showRgb = this.#data?.rgbAvailable === true;
    this.#rgbControl.hidden = !showRgb;
    setLabel(this.#rgbControl, t(lang, "rgb"));
    this.#rgbControl.title = t(lang, "rgbHint");
    this.#rgb.checked = traits.rgb;
    this.controls.hidden = !showIn && !showRgb;
  }

  #syncVisibility(): void {
    const empty = this.#shown === null;
    this.#colorbar.hidden = empty || this.#colorbar.childElementCount === 0;
    this.#extras.hidden = empty;
  }

  // ----------------------------------------------------------- linked view
  #syncLinked(ctx: ViewContext): void {
    const channel = ctx.traits.channel;
    const filter = this.#data?.filter ?? null;
    const ready = filter !== null && filter.filterIndex === channel;
    const grid = this.#gridViews[0];
    const clickable = grid?.meta.kind === "kernels";
    // The kernel answered for this channel without a filter (a dense layer): nothing to show.
    const answered = this.#shown?.options.channel === channel;
    const show = channel >= 0 && clickable && (ready || !answered);
    const signature = JSON.stringify([show, ready, channel, ctx.lang, this.#shown?.id]);
    if (signature === this.#linkedSignature) return;
    this.#linkedSignature = signature;
    this.#linkedMap = null;
    this.#linked.hidden = !show;
    if (!show) {
      this.#linked.replaceChildren();
      return;
    }
    const { lang } = ctx;
    const count = grid ? gridOf(grid.meta).count : 0;
    const head = h("div", { class: "cnnviz-linked-head" });
    const title = h(
      "span",
      { class: "cnnviz-subheading" },
      filterTitle(lang, channel, filter, grid?.meta.in_channels ?? 0),
    );
    const prev = iconButton("‹", t(lang, "previousFilter"), "previous");
    const next = iconButton("›", t(lang, "nextFilter"), "next");
    prev.disabled = channel <= 0;
    next.disabled = channel >= count - 1;
    head.append(title, prev, next, iconButton("×", t(lang, "close"), "close-linked"));
    if (!ready || !filter) {
      this.#linked.replaceChildren(head, pendingNote(lang));
      return;
    }
    const body = h("div", { class: "cnnviz-linked-body" });
    body.append(filterTable(filter, lang), filterStats(filter, lang));
    const result = this.#shown;
    const map = result ? imageByRole(result, "feature_map") : undefined;
    if (result && map) {
      const figure = h("figure", { class: "cnnviz-linked-map" });
      const img = h("img", {
        class: "cnnviz-image",
        src: this.#urls.url(result, map.index),
        alt: t(lang, "featureMapAlt", { n: filter.outputChannel }),
        draggable: "false",
        "data-role": "feature-map",
      });
      figure.append(
        img,
        h(
          "figcaption",
          { class: "cnnviz-muted" },
          t(lang, "featureMapChannel", { n: filter.outputChannel }),
        ),
      );
      body.append(figure);
      this.#linkedMap = { img, meta: map.meta };
    }
    this.#linked.replaceChildren(head, body);
  }

  #placeMarkers(): void {
    const channel = this.#ctx?.traits.channel ?? -1;
    for (const view of this.#gridViews) {
      const box =
        view.meta.kind === "kernels" && view.fit
          ? tileBox(gridOf(view.meta), channel, view.fit.scale)
          : null;
      view.marker.hidden = box === null;
      if (!box) continue;
      Object.assign(view.marker.style, {
        left: `${box.left - 2}px`,
        top: `${box.top - 2}px`,
        width: `${box.width + 4}px`,
        height: `${box.height + 4}px`,
      });
    }
  }

  // ---------------------------------------------------------------- events
  #onGridClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const frame = target?.closest<HTMLElement>(".cnnviz-grid-frame");
    const view = this.#gridViews.find((v) => v.img.parentElement === frame);
    if (!view || view.meta.kind !== "kernels") return;
    const rect = view.img.getBoundingClientRect();
    const scale = drawnScale(view.img, view.meta.width);
    const index = tileAt(
      gridOf(view.meta),
      event.clientX - rect.left,
      event.clientY - rect.top,
      scale,
    );
    if (index === null) return;
    const current = this.#ctx?.traits.channel ?? -1;
    // Clicking the open filter again closes it.
    this.#ctx?.set("channel", index === current ? -1 : index);
  }

  #onGridKey(event: KeyboardEvent): void {
    const grid = this.#gridViews[0];
    const ctx = this.#ctx;
    if (!grid || !ctx || grid.meta.kind !== "kernels") return;
    const { count, cols } = gridOf(grid.meta);
    const channel = ctx.traits.channel;
    const moves: Record<string, number> = {
      ArrowLeft: channel - 1,
      ArrowRight: channel + 1,
      ArrowUp: channel - cols,
      ArrowDown: channel + cols,
      Home: 0,
      End: count - 1,
    };
    let next: number | undefined;
    if (event.key === "Enter" || event.key === " ") next = channel >= 0 ? -1 : 0;
    else if (event.key === "Escape" && channel >= 0) next = -1;
    else if (event.key in moves && channel >= 0) next = moves[event.key];
    if (next === undefined) return;
    event.preventDefault();
    if (next >= -1 && next < count && next !== channel) ctx.set("channel", next);
  }

  #onLinkedClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const role = target?.closest<HTMLElement>("[data-role]")?.dataset.role;
    const ctx = this.#ctx;
    if (!ctx) return;
    const channel = ctx.traits.channel;
    const count = this.#gridViews[0] ? gridOf(this.#gridViews[0].meta).count : 0;
    if (role === "close-linked") ctx.set("channel", -1);
    else if (role === "previous" && channel > 0) ctx.set("channel", channel - 1);
    else if (role === "next" && channel < count - 1) ctx.set("channel", channel + 1);
  }
}

function first(result: StoredResult): { meta: ImageMeta; png: Uint8Array; index: number } {
  return { meta: result.image, png: result.png, index: 0 };
}

function filterTitle(
  lang: Lang,
  channel: number,
  filter: FilterDetail | null,
  inChannels: number,
): string {
  const parts = [t(lang, "filterTitle", { n: channel })];
  if (filter && filter.filterIndex === channel) {
    if (filter.tiles === "input_channels") {
      parts.push(t(lang, "inputChannel", { n: filter.filterIndex }));
    } else {
      if (filter.outputChannel !== filter.filterIndex) {
        parts.push(t(lang, "outputChannel", { n: filter.outputChannel }));
      }
      if (filter.inChannel !== null && inChannels > 1) {
        parts.push(t(lang, "inputChannel", { n: filter.inChannel }));
      }
    }
  }
  return parts.join(" · ");
}

/** The colour ramp as a CSS gradient of the kernel's colours, with its tick numbers. */
export function colorbarGradient(colors: readonly string[]): string | null {
  const safe = colors.map(hexColor).filter((c): c is string => c !== null);
  if (safe.length === 0) return null;
  if (safe.length === 1) return `linear-gradient(to right, ${safe[0]}, ${safe[0]})`;
  const stops = safe.map((c, i) => `${c} ${Number(((i / (safe.length - 1)) * 100).toFixed(2))}%`);
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

function colorbarParts(bar: Colorbar, lang: Lang): HTMLElement[] {
  const ramp = h("div", { class: "cnnviz-colorbar-ramp", "aria-hidden": "true" });
  const gradient = colorbarGradient(bar.colors);
  if (gradient) ramp.style.backgroundImage = gradient;
  ramp.dataset.colors = bar.colors.length.toString();
  const ticks = h("div", { class: "cnnviz-colorbar-ticks" });
  const span = bar.vmax - bar.vmin || 1;
  bar.ticks.forEach((value, i) => {
    const pos = Math.min(100, Math.max(0, ((value - bar.vmin) / span) * 100));
    const tick = h("span", { "data-role": "tick" }, formatNumber(value));
    tick.style.left = `${Number(pos.toFixed(2))}%`;
    if (i === 0) tick.classList.add("is-first");
    if (i === bar.ticks.length - 1) tick.classList.add("is-last");
    ticks.append(tick);
  });
  const label = h("div", { class: "cnnviz-muted cnnviz-colorbar-label" }, t(lang, "colorbar"));
  return [label, ramp, ticks];
}

function meanStd(lang: Lang, stats: { mean: number | null; std: number | null }): string {
  return t(lang, "meanStd", { mean: formatNumber(stats.mean), std: formatNumber(stats.std) });
}

function legendItem(series: "trained" | "baseline", stats: SeriesStats, lang: Lang): HTMLLIElement {
  const item = h("li", { "data-series": series });
  item.append(
    h("span", { class: `cnnviz-swatch is-${series}`, "aria-hidden": "true" }),
    h("span", { class: "cnnviz-legend-name" }, t(lang, series)),
    h("span", { class: "cnnviz-legend-stats" }, meanStd(lang, stats)),
  );
  if (stats.nonfinite > 0) {
    item.append(
      h("span", { class: "cnnviz-warn-text" }, t(lang, "nonFinite", { n: stats.nonfinite })),
    );
  }
  return item;
}

function extrasParts(data: WeightsData, lang: Lang): HTMLElement[] {
  const parts: HTMLElement[] = [];
  const hist = data.histogram;
  if (hist) {
    const figure = h("figure", { class: "cnnviz-histogram", "data-role": "histogram" });
    const legend = h("ul", { class: "cnnviz-legend" });
    legend.append(legendItem("trained", hist.trained, lang));
    if (hist.baseline) legend.append(legendItem("baseline", hist.baseline, lang));
    figure.append(
      h("figcaption", { class: "cnnviz-subheading" }, t(lang, "histogram")),
      histogramSvg(hist, {
        title: t(lang, "histogramAlt"),
        weight: t(lang, "axisWeight"),
        count: t(lang, "axisCount"),
      }),
      legend,
    );
    parts.push(figure);
  }
  parts.push(biasBlock(data.bias, data.baselineBias, lang));
  return parts;
}

function biasBlock(bias: BiasValues | null, baseline: BiasValues | null, lang: Lang): HTMLElement {
  const block = h("section", { class: "cnnviz-bias", "data-role": "bias" });
  if (!bias) {
    block.append(h("div", { class: "cnnviz-subheading" }, t(lang, "noBias")));
    return block;
  }
  const shown = bias.values.slice(0, BIAS_SHOWN);
  const more = bias.count - shown.length;
  const values = h("div", { class: "cnnviz-bias-values" });
  values.append(...shown.map((v) => h("span", { "data-role": "bias-value" }, formatNumber(v))));
  if (more > 0)
    values.append(h("span", { class: "cnnviz-muted" }, t(lang, "biasMore", { n: more })));
  block.append(
    h("div", { class: "cnnviz-subheading" }, t(lang, "bias", { n: bias.count })),
    h("div", { class: "cnnviz-muted" }, meanStd(lang, bias)),
    values,
  );
  if (baseline) {
    block.append(
      h(
        "div",
        { class: "cnnviz-muted" },
        t(lang, "biasBaseline", { stats: meanStd(lang, baseline) }),
      ),
    );
  }
  return block;
}

/** The filter's numbers, each cell in its colour on the layer's scale. */
export function filterTable(filter: FilterDetail, lang: Lang): HTMLElement {
  const wrap = h("div", { class: "cnnviz-filter-wrap" });
  const table = h("table", {
    class: "cnnviz-filter-table",
    "data-role": "filter-table",
    "aria-label": t(lang, "filterTable", { n: filter.filterIndex }),
  });
  table.classList.toggle("is-column", filter.kind === "column");
  let rows = filter.rows;
  let hidden = 0;
  if (filter.kind === "column") {
    // A dense column: many numbers, wrapped into rows of 16 cells.
    const cells = rows.flat();
    const shown = cells.slice(0, COLUMN_SHOWN);
    hidden = cells.length - shown.length;
    rows = [];
    for (let i = 0; i < shown.length; i += 16) rows.push(shown.slice(i, i + 16));
  }
  const body = h("tbody");
  for (const row of rows) {
    const tr = h("tr");
    for (const cell of row) {
      const td = h("td");
      td.textContent = cell.values.map((v) => formatNumber(v)).join("\n");
      if (cell.color) {
        td.style.backgroundColor = cell.color;
        td.style.color = textOn(cell.color);
        td.dataset.color = cell.color;
      }
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  wrap.append(table);
  if (hidden > 0) {
    wrap.append(h("div", { class: "cnnviz-muted" }, t(lang, "valuesMore", { n: hidden })));
  }
  return wrap;
}

function filterStats(filter: FilterDetail, lang: Lang): HTMLElement {
  const list = h("dl", { class: "cnnviz-stats", "data-role": "filter-stats" });
  const rows: [string, string][] = [
    [t(lang, "statBias"), formatNumber(filter.bias)],
    [t(lang, "statMean"), formatNumber(filter.mean)],
    [t(lang, "statStd"), formatNumber(filter.std)],
    [t(lang, "statNorm"), formatNumber(filter.norm)],
    [t(lang, "statRange"), `${formatNumber(filter.min)} … ${formatNumber(filter.max)}`],
  ];
  for (const [name, value] of rows) {
    const row = h("div", { class: "cnnviz-stat" });
    row.append(h("dt", {}, name), h("dd", {}, value));
    list.append(row);
  }
  return list;
}
