// The Grad-CAM and Saliency tabs: the image with its heatmap, the top-5 predictions, a
// class picker, and (Grad-CAM) the ranked channel weights with the linked feature map, the
// faithfulness read-out and the sanity check (docs/trust.md).

import { h, pngUrl, revokeUrl, setAttrs } from "./dom";
import { type Fit, imageFit, pixelFit, smoothFit } from "./fit";
import { formatNumber, formatPercent } from "./format";
import { type StringKey, t } from "./i18n";
import {
  CAM_METHODS,
  type CamMethod,
  type ImageMeta,
  type Lang,
  SALIENCY_METHODS,
  type SaliencyMethod,
} from "./protocol";
import { imageByRole, type StoredResult } from "./state";
import {
  fillSelect,
  iconButton,
  labelled,
  pendingNote,
  place,
  replaceKeepingFocus,
  type ResultView,
  setLabel,
  type ViewContext,
} from "./viewCommon";
import { curveLegend, faithfulnessPlot, type PlotLabels } from "./trustPlot";
import { saliencyHint, saliencyLabel, trust, type TrustKey } from "./trustStrings";
import {
  type Completeness,
  type ExplainData,
  type Faithfulness,
  readExplainData,
} from "./viewData";

/** Largest side of the image and heatmap on screen. */
export const EXPLAIN_SIDE = 320;
const GAP = 16;
/** Border and padding of the linked feature map's box, left and right together. */
const LINKED_CHROME = 16;
/** Small inputs (MNIST) may be zoomed this far to reach EXPLAIN_SIDE. */
const EXPLAIN_UPSCALE = 16;
/** Below this side the pictures of the Grad-CAM row go one to a row instead of shrinking. */
const MIN_SIDE = 180;

export function methodLabel(lang: Lang, method: string): string {
  return (CAM_METHODS as readonly string[]).includes(method)
    ? t(lang, `method_${method as CamMethod}` as StringKey)
    : method;
}

/** Options of the class picker: the top prediction, then every class by name or index. */
export function classOptions(
  lang: Lang,
  names: readonly string[],
  nClasses: number | null,
  selected: number,
): [string, string][] {
  const n = Math.max(names.length, nClasses ?? 0, selected + 1);
  const options: [string, string][] = [["-1", t(lang, "topPrediction")]];
  for (let i = 0; i < n; i++) {
    const name = names[i];
    const label =
      name === undefined || name === "" || name === String(i)
        ? String(i)
        : t(lang, "classOption", { name, index: i });
    options.push([String(i), label]);
  }
  return options;
}

/** The class picker and the predictions list, shared by both tabs. */
class ClassControls {
  readonly picker: HTMLSelectElement;
  readonly pickerControl: HTMLElement;
  readonly predictions: HTMLElement;
  readonly #list: HTMLElement;
  readonly #heading: HTMLElement;
  #ctx: ViewContext | null = null;

  constructor(signal: AbortSignal) {
    this.picker = h("select", { "data-role": "class-picker" });
    this.pickerControl = labelled("", this.picker);
    this.predictions = h("section", { class: "cnnviz-predictions", "data-role": "predictions" });
    this.#heading = h("div", { class: "cnnviz-subheading" });
    this.#list = h("div", { class: "cnnviz-prediction-list" });
    this.predictions.append(this.#heading, this.#list);
    this.picker.addEventListener(
      "change",
      () => {
        const value = Number(this.picker.value);
        if (Number.isInteger(value)) this.#ctx?.set("class_index", value);
      },
      { signal },
    );
    this.#list.addEventListener(
      "click",
      (e) => {
        const target = e.target instanceof Element ? e.target : null;
        const index = Number(target?.closest<HTMLElement>("[data-index]")?.dataset.index);
        if (Number.isInteger(index) && index >= 0) this.#ctx?.set("class_index", index);
      },
      { signal },
    );
  }

  sync(ctx: ViewContext, data: ExplainData | null): void {
    this.#ctx = ctx;
    const { lang, traits } = ctx;
    const label = this.pickerControl.querySelector(".cnnviz-control-label");
    if (label) label.textContent = t(lang, "classLabel");
    fillSelect(
      this.picker,
      classOptions(lang, traits.class_names, data?.nClasses ?? null, traits.class_index),
      String(traits.class_index),
    );
  }

  /** Rebuilds the list from a result's predictions. */
  show(data: ExplainData | null, lang: Lang): void {
    this.#heading.textContent = t(lang, "predictions");
    const rows = (data?.predictions ?? []).map((p) => {
      const explained = p.index === data?.classIndex;
      const row = h("button", {
        type: "button",
        class: "cnnviz-prediction",
        "data-role": "prediction",
        "data-index": p.index,
        "data-key": `class-${p.index}`,
        "aria-pressed": explained ? "true" : "false",
        title: t(lang, "explainClass", { name: p.name }),
      });
      const bar = h("span", { class: "cnnviz-prediction-bar", "aria-hidden": "true" });
      const fill = h("span", { class: "cnnviz-prediction-fill" });
      fill.style.width = `${Math.max(0, Math.min(100, p.probability * 100)).toFixed(1)}%`;
      bar.append(fill);
      row.append(
        h("span", { class: "cnnviz-prediction-name", "data-role": "class-name" }, p.name),
        bar,
        h("span", { class: "cnnviz-prediction-prob" }, formatPercent(p.probability)),
      );
      return row;
    });
    replaceKeepingFocus(this.#list, rows);
    this.predictions.hidden = rows.length === 0;
  }
}

interface Placed {
  img: HTMLImageElement;
  meta: ImageMeta;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The pictures of a tab by slot ("image", "heatmap", ...), each with its object URL. A
 * slot whose next PNG has the same bytes keeps its URL and its <img>: Grad-CAM's final
 * message repeats the heatmap of the first one, and a new class is drawn over the same
 * image, so what is already on screen never blinks while it is redrawn.
 */
class Pictures {
  readonly #slots = new Map<string, Placed & { png: Uint8Array; url: string }>();
  #onLoad: () => void;

  constructor(onLoad: () => void) {
    this.#onLoad = onLoad;
  }

  /** The <img> for `found` in `slot`, made anew only when its bytes changed. */
  get(
    slot: string,
    found: { meta: ImageMeta; png: Uint8Array },
    alt: string,
    role: string,
  ): Placed {
    const old = this.#slots.get(slot);
    if (old && sameBytes(old.png, found.png)) {
      old.meta = found.meta;
      old.png = found.png;
      if (old.img.alt !== alt) old.img.alt = alt;
      return old;
    }
    if (old) revokeUrl(old.url);
    const url = pngUrl(found.png);
    const img = h("img", {
      class: "cnnviz-image",
      src: url,
      alt,
      draggable: "false",
      "data-role": role,
      width: found.meta.width || null,
      height: found.meta.height || null,
    });
    img.addEventListener("load", () => this.#onLoad());
    const entry = { img, meta: found.meta, png: found.png, url };
    this.#slots.set(slot, entry);
    return entry;
  }

  /** Drops (and revokes) every slot not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const [slot, entry] of this.#slots) {
      if (keep.has(slot)) continue;
      revokeUrl(entry.url);
      this.#slots.delete(slot);
    }
  }

  clear(): void {
    this.retain(new Set());
  }
}

/** A figure with the image under a heatmap (Grad-CAM's, or the untrained copy's). */
class OverlayFigure {
  readonly element: HTMLElement;
  readonly overlay: HTMLElement;
  readonly caption: HTMLElement;
  readonly note: HTMLElement;
  base: Placed | null = null;
  heat: Placed | null = null;

  constructor(role: string) {
    this.element = h("figure", { class: "cnnviz-overlay-figure" });
    this.overlay = h("div", { class: "cnnviz-overlay", "data-role": role });
    this.caption = h("figcaption", { class: "cnnviz-muted" });
    this.note = h("p", { class: "cnnviz-trust-line" });
    this.note.hidden = true;
    this.element.append(this.overlay, this.caption, this.note);
  }

  /** Shows `base` under `heat`; with neither, `placeholder` (a pending line) in the box. */
  show(base: Placed | null, heat: Placed | null, placeholder?: HTMLElement): void {
    this.base = base;
    this.heat = heat;
    const images = [base, heat].filter((p): p is Placed => p !== null).map((p) => p.img);
    this.overlay.classList.toggle("is-placeholder", images.length === 0);
    this.overlay.replaceChildren(
      ...(images.length > 0 ? images : placeholder ? [placeholder] : []),
    );
    // Natural size until the first fit: the stacked images are positioned, so the box
    // would otherwise have no height at all.
    const ref = base ?? heat;
    if (ref) this.size(ref.meta.width, ref.meta.height);
  }

  size(width: number, height: number): void {
    this.overlay.style.width = `${width}px`;
    this.overlay.style.height = `${height}px`;
    this.note.style.maxWidth = `${Math.max(width, 200)}px`;
  }

  clear(): void {
    this.base = this.heat = null;
    this.overlay.replaceChildren();
    this.overlay.style.width = this.overlay.style.height = "";
    this.caption.textContent = "";
    this.note.textContent = "";
    this.note.hidden = true;
  }
}

/** An AUC, a correlation: two decimals, `—` when missing. */
function fixed(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const text = value.toFixed(2);
  // -0.001 rounds to "-0.00": no sign on a zero.
  return Number(text) === 0 ? (0).toFixed(2) : text;
}

/** Two significant digits, keeping the zero that says so (`-0.010`); tiny values as `1.0e-6`. */
export function twoDigits(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "—";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  return abs >= 1e5 || abs < 1e-3 ? value.toExponential(1) : value.toPrecision(2);
}

/** The integrated-gradients line: the sum, the completeness gap, and its share of the rise. */
export function completenessText(lang: Lang, completeness: Completeness): string {
  const { sum, gap } = completeness;
  const params = { sum: formatNumber(sum, 4), gap: twoDigits(gap) };
  const rise = sum !== null && gap !== null ? sum - gap : null;
  if (rise === null || gap === null || Math.abs(rise) < 1e-12) {
    return trust(lang, "completeness", params);
  }
  const pct = (Math.abs(gap) / Math.abs(rise)) * 100;
  const share = pct > 0 && pct < 0.01 ? "<0.01%" : `${Number(pct.toPrecision(2))}%`;
  return trust(lang, "completenessShare", { ...params, share });
}

/** Whether the map's AUC beats the random map's, in the metric's own direction. */
export function beatsRandom(
  metric: "deletion" | "insertion",
  map: number | null | undefined,
  random: number | null | undefined,
): boolean | null {
  if (map === null || map === undefined || random === null || random === undefined) return null;
  return metric === "deletion" ? map < random : map > random;
}

/** The read-out of deletion and insertion (DESIGN.md section 5: `data-role="faithfulness"`). */
export function faithfulnessReadout(
  data: Faithfulness,
  className: string,
  lang: Lang,
): HTMLElement {
  const section = h("section", { class: "cnnviz-trust", "data-role": "faithfulness" });
  const steps = data.steps ?? Math.max(0, data.fractions.length - 1);
  const share = steps > 0 ? `${Number((100 / steps).toPrecision(3))}%` : "—";
  const heading = h(
    "div",
    {
      class: "cnnviz-subheading",
      title: trust(lang, "faithfulnessHint", { share, name: className }),
    },
    trust(lang, "faithfulnessTitle", { steps }),
  );
  const table = h("table", { class: "cnnviz-trust-table" });
  const headRow = h("tr");
  headRow.append(
    h("th", { scope: "col" }, trust(lang, "colMetric")),
    h("th", { scope: "col" }, trust(lang, "colMap")),
    h("th", { scope: "col" }, trust(lang, "colRandom")),
    h("td"),
  );
  const thead = h("thead");
  thead.append(headRow);
  const tbody = h("tbody");
  const rows: ["deletion" | "insertion", TrustKey, TrustKey][] = [
    ["deletion", "deletionAuc", "lowerBetter"],
    ["insertion", "insertionAuc", "higherBetter"],
  ];
  for (const [metric, name, direction] of rows) {
    const pair = data[metric];
    const row = h("tr", { "data-metric": metric });
    const label = h("th", { scope: "row" });
    label.append(
      h("span", {}, trust(lang, name)),
      h("span", { class: "cnnviz-trust-direction" }, ` (${trust(lang, direction)})`),
    );
    row.append(label);
    for (const which of ["map", "random"] as const) {
      const auc = pair[which]?.auc ?? null;
      row.append(
        h("td", { "data-series": which, "data-value": auc === null ? null : auc }, fixed(auc)),
      );
    }
    const better = beatsRandom(metric, pair.map?.auc, pair.random?.auc);
    const verdict = h("td", {
      class: "cnnviz-trust-verdict",
      "data-verdict": better === null ? null : better ? "better" : "worse",
    });
    if (better !== null)
      verdict.textContent = trust(lang, better ? "beatsRandom" : "notBeatsRandom");
    row.append(verdict);
    tbody.append(row);
  }
  table.append(thead, tbody);
  const numbers = h("div", { class: "cnnviz-trust-numbers" });
  numbers.append(heading, table);
  section.append(numbers);

  const drawn = data.fractions.filter((f) => f !== null).length >= 2;
  if (drawn) {
    const labels: PlotLabels = {
      title: trust(lang, "plotTitle", { name: className }),
      x: trust(lang, "plotX"),
      y: trust(lang, "plotY"),
      series: {
        "deletion-map": trust(lang, "seriesDeletionMap"),
        "deletion-random": trust(lang, "seriesDeletionRandom"),
        "insertion-map": trust(lang, "seriesInsertionMap"),
        "insertion-random": trust(lang, "seriesInsertionRandom"),
      },
    };
    const plot = h("figure", { class: "cnnviz-trust-plot", "data-role": "faithfulness-plot" });
    plot.append(faithfulnessPlot(data, labels), curveLegend(labels));
    section.append(plot);
  }
  return section;
}

function statusLine(text: string, role: string): HTMLElement {
  const note = h("div", { class: "cnnviz-pending", role: "status", "data-role": role });
  note.append(h("span", { class: "cnnviz-spinner", "aria-hidden": "true" }), h("span", {}, text));
  return note;
}

/**
 * Grad-CAM: heatmap over the image, method, class, opacity, channel weights; the
 * faithfulness read-out of the map on screen and, with the sanity check, the same map on
 * the untrained copy beside it.
 */
export class GradcamView implements ResultView {
  readonly controls: HTMLElement;
  readonly content: HTMLElement;
  /**
   * This tab shows its own progress while the first message's heatmap waits for the
   * read-out (the "measuring faithfulness" line), so the panel puts no overlay on it.
   */
  readonly ownsProgress = true;
  readonly #method: HTMLSelectElement;
  readonly #methodControl: HTMLElement;
  readonly #opacity: HTMLInputElement;
  readonly #opacityControl: HTMLElement;
  readonly #sanity: HTMLInputElement;
  readonly #sanityControl: HTMLElement;
  readonly #classes: ClassControls;
  readonly #row: HTMLElement;
  readonly #main = new OverlayFigure("overlay");
  readonly #twin = new OverlayFigure("sanity-overlay");
  readonly #linked: HTMLElement;
  readonly #trust: HTMLElement;
  readonly #strip: HTMLElement;
  readonly #pictures: Pictures;
  #linkedMap: Placed | null = null;
  #ctx: ViewContext | null = null;
  #shown: StoredResult | null = null;
  #data: ExplainData | null = null;
  #builtLang: Lang | null = null;
  #linkedSignature = "";
  #width = 0;

  constructor(signal: AbortSignal) {
    this.#pictures = new Pictures(() => this.fit(this.#width));
    this.#classes = new ClassControls(signal);
    this.#method = h("select", { "data-role": "cam-method" });
    this.#methodControl = labelled("", this.#method);
    this.#opacity = h("input", {
      type: "range",
      min: 0,
      max: 1,
      step: 0.05,
      "data-role": "opacity",
    });
    this.#opacityControl = labelled("", this.#opacity, "is-range");
    this.#sanity = h("input", { type: "checkbox", "data-role": "sanity-toggle" });
    this.#sanityControl = labelled("", this.#sanity, "is-check");
    this.controls = h("div", { class: "cnnviz-controls" });
    this.controls.append(
      this.#methodControl,
      this.#classes.pickerControl,
      this.#opacityControl,
      this.#sanityControl,
    );

    this.content = h("div", { class: "cnnviz-view cnnviz-explain", "data-view-body": "gradcam" });
    this.#row = h("div", { class: "cnnviz-explain-row" });
    this.#twin.element.classList.add("cnnviz-sanity-figure");
    this.#twin.element.hidden = true;
    this.#linked = h("section", {
      class: "cnnviz-linked cnnviz-linked-map",
      "data-role": "linked",
    });
    this.#trust = h("div", { class: "cnnviz-trust-box" });
    this.#strip = h("section", { class: "cnnviz-channel-strip", "data-role": "channel-strip" });
    this.#row.append(
      this.#main.element,
      this.#twin.element,
      this.#linked,
      this.#classes.predictions,
    );
    this.content.append(this.#row, this.#trust, this.#strip);

    this.#method.addEventListener(
      "change",
      () => {
        const value = this.#method.value;
        if ((CAM_METHODS as readonly string[]).includes(value)) {
          this.#ctx?.set("cam_method", value as CamMethod);
        }
      },
      { signal },
    );
    this.#opacity.addEventListener("input", () => this.#setOpacity(Number(this.#opacity.value)), {
      signal,
    });
    this.#sanity.addEventListener("change", () => this.#ctx?.set("sanity", this.#sanity.checked), {
      signal,
    });
    this.#strip.addEventListener("click", (e) => this.#onChannelClick(e), { signal });
    this.#linked.addEventListener(
      "click",
      (e) => {
        const target = e.target instanceof Element ? e.target : null;
        if (target?.closest("[data-role=close-linked]")) this.#ctx?.set("channel", -1);
      },
      { signal },
    );
    this.#syncVisibility();
  }

  get shown(): StoredResult | null {
    return this.#shown;
  }

  update(result: StoredResult | undefined, ctx: ViewContext): void {
    this.#ctx = ctx;
    const { lang } = ctx;
    if (result && (result !== this.#shown || lang !== this.#builtLang)) {
      this.#shown = result;
      this.#builtLang = lang;
      this.#linkedSignature = "";
      this.#data = readExplainData(result.data);
      this.#build(result, this.#data, lang);
    }
    setLabel(this.#methodControl, t(lang, "method"));
    fillSelect(
      this.#method,
      CAM_METHODS.map((m) => [m, methodLabel(lang, m)] as const),
      ctx.traits.cam_method,
    );
    setLabel(this.#opacityControl, t(lang, "opacity"));
    this.#opacity.value = String(ctx.prefs.opacity);
    setAttrs(this.#opacity, { "aria-valuetext": `${Math.round(ctx.prefs.opacity * 100)}%` });
    this.#setOpacity(ctx.prefs.opacity);
    setLabel(this.#sanityControl, trust(lang, "sanityToggle"));
    this.#sanityControl.title = trust(lang, "sanityHint");
    this.#sanity.checked = ctx.traits.sanity;
    this.#classes.sync(ctx, this.#data);
    this.#syncStrip(ctx.traits.channel);
    this.#syncLinked(ctx);
    this.#syncVisibility();
    this.fit(this.#width);
  }

  fit(width: number): void {
    this.#width = width;
    if (width <= 0) return;
    const linked = !this.#linked.hidden && this.#linkedMap !== null;
    const twin = !this.#twin.element.hidden;
    // Side by side (the linked map's box adds LINKED_CHROME px) when they fit at a useful
    // size, else fewer to a row: the row wraps.
    const chrome = linked ? LINKED_CHROME : 0;
    let perRow = 1 + (twin ? 1 : 0) + (linked ? 1 : 0);
    const sideFor = (n: number): number => (width - GAP * (n - 1) - (n > 1 ? chrome : 0)) / n;
    while (perRow > 1 && sideFor(perRow) < MIN_SIDE) perRow -= 1;
    const side = Math.min(EXPLAIN_SIDE, perRow === 1 ? width : sideFor(perRow));
    const ref = this.#main.base ?? this.#main.heat;
    if (ref) {
      const fit = explainFit(ref.meta, side);
      for (const figure of [this.#main, this.#twin]) {
        if (figure.base) place(figure.base.img, fit);
        if (figure.heat) place(figure.heat.img, { ...fit, smooth: true });
        figure.size(fit.width, fit.height);
      }
    }
    if (this.#linkedMap) {
      const { img, meta } = this.#linkedMap;
      const fit = pixelFit(meta.width, meta.height, side, side, EXPLAIN_UPSCALE);
      place(img, fit);
      // The box is as wide as its picture: a long heading wraps instead of widening it.
      this.#linked.style.width = `${Math.max(fit.width, 160) + LINKED_CHROME}px`;
    } else {
      this.#linked.style.width = "";
    }
  }

  clear(): void {
    this.#pictures.clear();
    this.#shown = null;
    this.#data = null;
    this.#linkedMap = null;
    this.#builtLang = null;
    this.#linkedSignature = "";
    this.#main.clear();
    this.#twin.clear();
    this.#twin.element.hidden = true;
    this.#linked.replaceChildren();
    this.#trust.replaceChildren();
    this.#strip.replaceChildren();
    this.#classes.show(null, this.#ctx?.lang ?? "en");
    this.#syncVisibility();
  }

  destroy(): void {
    this.clear();
  }

  #build(result: StoredResult, data: ExplainData, lang: Lang): void {
    const keep = new Set<string>();
    const picture = (slot: string, role: string, alt: string): Placed | null => {
      const found = imageByRole(result, role);
      if (!found) return null;
      keep.add(slot);
      return this.#pictures.get(slot, found, alt, role);
    };
    const method = methodLabel(lang, data.method);
    const base = picture("image", "image", t(lang, "inputImage"));
    const heat = picture(
      "heatmap",
      "heatmap",
      t(lang, "heatmapAlt", { method, name: data.className }),
    );
    heat?.img.classList.add("cnnviz-heat");
    this.#main.show(base, heat);
    this.#main.caption.textContent = [method, data.className].filter(Boolean).join(" · ");

    // The untrained copy: asked for (the result's own options say so), drawn when it came.
    const asked = result.options.sanity === true;
    const twinHeat = picture(
      "sanity",
      "sanity",
      trust(lang, "sanityAlt", { method, name: data.className }),
    );
    const twinBase = twinHeat ? picture("image-sanity", "image", t(lang, "inputImage")) : null;
    twinHeat?.img.classList.add("cnnviz-heat");
    const waiting = asked && !twinHeat && !result.final;
    this.#twin.element.hidden = !twinHeat && !waiting;
    this.#twin.show(
      twinBase,
      twinHeat,
      waiting ? statusLine(trust(lang, "sanityPending"), "sanity-pending") : undefined,
    );
    if (waiting && (base ?? heat)) {
      const ref = (base ?? heat) as Placed;
      this.#twin.size(ref.meta.width, ref.meta.height);
    }
    this.#twin.caption.textContent = twinHeat || waiting ? trust(lang, "untrainedCopy") : "";
    const correlation = twinHeat ? data.sanity : null;
    this.#twin.note.hidden = correlation === null;
    this.#twin.note.textContent = correlation
      ? trust(lang, "rankCorrelation", { r: fixed(correlation.rankCorrelation) })
      : "";
    setAttrs(this.#twin.note, {
      "data-role": "sanity-correlation",
      "data-value": correlation?.rankCorrelation ?? null,
    });

    // The linked feature map's bytes may be the same as before: keep them for #syncLinked.
    if (imageByRole(result, "feature_map")) keep.add("feature_map");
    this.#pictures.retain(keep);

    this.#buildTrust(result, data, lang);
    this.#classes.show(data, lang);
    this.#buildStrip(data, lang);
  }

  #buildTrust(result: StoredResult, data: ExplainData, lang: Lang): void {
    if (!result.final) {
      this.#trust.replaceChildren(
        statusLine(trust(lang, "faithfulnessPending"), "faithfulness-pending"),
      );
      return;
    }
    const readout = data.faithfulness;
    if (!readout) {
      this.#trust.replaceChildren();
      return;
    }
    const name =
      readout.classIndex === null || readout.classIndex === data.classIndex
        ? data.className
        : String(readout.classIndex);
    this.#trust.replaceChildren(faithfulnessReadout(readout, name, lang));
  }

  #setOpacity(value: number): void {
    const opacity = Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0.5;
    if (this.#ctx) this.#ctx.prefs.opacity = opacity;
    for (const heat of [this.#main.heat, this.#twin.heat]) {
      if (heat) heat.img.style.opacity = String(opacity);
    }
    setAttrs(this.#opacity, { "aria-valuetext": `${Math.round(opacity * 100)}%` });
  }

  #buildStrip(data: ExplainData, lang: Lang): void {
    const weights = data.channelWeights;
    if (weights.length === 0) {
      this.#strip.replaceChildren();
      return;
    }
    const maxAbs = Math.max(...weights.map((w) => Math.abs(w.weight))) || 1;
    const signed = weights.some((w) => w.weight < 0);
    const bars = h("div", { class: "cnnviz-channel-bars", role: "group" });
    bars.classList.toggle("is-signed", signed);
    const buttons = weights.map((w) => {
      const label = t(lang, "channelBar", { channel: w.channel, weight: formatNumber(w.weight) });
      const button = h("button", {
        type: "button",
        class: `cnnviz-channel-bar ${w.weight < 0 ? "is-negative" : "is-positive"}`,
        "data-channel": w.channel,
        "data-key": `channel-${w.channel}`,
        title: label,
        "aria-label": label,
        "aria-pressed": "false",
      });
      const fill = h("span", { class: "cnnviz-channel-fill" });
      const share = (Math.abs(w.weight) / maxAbs) * (signed ? 50 : 100);
      fill.style.height = `${Math.max(1, share).toFixed(1)}%`;
      button.append(fill);
      return button;
    });
    replaceKeepingFocus(bars, buttons);
    const total = data.channels ?? weights.length;
    setAttrs(bars, { "aria-label": t(lang, "channelWeights", { n: weights.length, total }) });
    this.#strip.replaceChildren(
      h(
        "div",
        { class: "cnnviz-subheading" },
        t(lang, "channelWeights", { n: weights.length, total }),
      ),
      bars,
    );
  }

  #syncStrip(channel: number): void {
    for (const bar of this.#strip.querySelectorAll<HTMLElement>("[data-channel]")) {
      bar.setAttribute("aria-pressed", Number(bar.dataset.channel) === channel ? "true" : "false");
    }
  }

  #onChannelClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const channel = Number(target?.closest<HTMLElement>("[data-channel]")?.dataset.channel);
    if (!Number.isInteger(channel) || !this.#ctx) return;
    this.#ctx.set("channel", channel === this.#ctx.traits.channel ? -1 : channel);
  }

  #syncLinked(ctx: ViewContext): void {
    const channel = ctx.traits.channel;
    const result = this.#shown;
    const map = result ? imageByRole(result, "feature_map") : undefined;
    const answered = result?.options.channel === channel;
    const ready = answered && map !== undefined;
    const show = channel >= 0 && result !== null && (ready || !answered);
    const signature = JSON.stringify([show, ready, channel, ctx.lang, result?.id]);
    if (signature === this.#linkedSignature) return;
    this.#linkedSignature = signature;
    this.#linkedMap = null;
    this.#linked.hidden = !show;
    if (!show) {
      this.#linked.replaceChildren();
      return;
    }
    const { lang } = ctx;
    const weight = this.#data?.channelWeights.find((w) => w.channel === channel);
    const title = [t(lang, "featureMapChannel", { n: channel })];
    if (weight) title.push(t(lang, "channelWeight", { weight: formatNumber(weight.weight) }));
    const head = h("div", { class: "cnnviz-linked-head" });
    head.append(
      h("span", { class: "cnnviz-subheading" }, title.join(" · ")),
      iconButton("×", t(lang, "close"), "close-linked"),
    );
    if (!ready || !result || !map) {
      this.#linked.replaceChildren(head, pendingNote(lang));
      return;
    }
    const placed = this.#pictures.get(
      "feature_map",
      map,
      t(lang, "featureMapAlt", { n: channel }),
      "feature-map",
    );
    this.#linkedMap = placed;
    this.#linked.replaceChildren(head, placed.img);
  }

  #syncVisibility(): void {
    const empty = this.#shown === null;
    this.#row.hidden = empty;
    this.#trust.hidden = empty || this.#trust.childElementCount === 0;
    this.#strip.hidden = empty || this.#strip.childElementCount === 0;
  }
}

/** Saliency: the image and its saliency map side by side; method (gradients, SmoothGrad,
 * integrated gradients with its completeness line) and class. */
export class SaliencyView implements ResultView {
  readonly controls: HTMLElement;
  readonly content: HTMLElement;
  readonly #method: HTMLSelectElement;
  readonly #methodControl: HTMLElement;
  readonly #classes: ClassControls;
  readonly #row: HTMLElement;
  readonly #completeness: HTMLElement;
  readonly #pictures: Pictures;
  #images: Placed[] = [];
  #ctx: ViewContext | null = null;
  #shown: StoredResult | null = null;
  #data: ExplainData | null = null;
  #builtLang: Lang | null = null;
  #width = 0;

  constructor(signal: AbortSignal) {
    this.#pictures = new Pictures(() => this.fit(this.#width));
    this.#classes = new ClassControls(signal);
    this.#method = h("select", { "data-role": "saliency-method" });
    this.#methodControl = labelled("", this.#method);
    this.controls = h("div", { class: "cnnviz-controls" });
    this.controls.append(this.#methodControl, this.#classes.pickerControl);
    this.content = h("div", {
      class: "cnnviz-view cnnviz-explain",
      "data-view-body": "saliency",
    });
    this.#row = h("div", { class: "cnnviz-explain-row" });
    this.#completeness = h("p", { class: "cnnviz-trust-line", "data-role": "completeness" });
    this.content.append(this.#row);
    this.#method.addEventListener(
      "change",
      () => {
        const value = this.#method.value;
        if ((SALIENCY_METHODS as readonly string[]).includes(value)) {
          this.#ctx?.set("saliency_method", value as SaliencyMethod);
        }
      },
      { signal },
    );
    this.#row.hidden = true;
    this.#completeness.hidden = true;
  }

  get shown(): StoredResult | null {
    return this.#shown;
  }

  update(result: StoredResult | undefined, ctx: ViewContext): void {
    this.#ctx = ctx;
    const { lang } = ctx;
    if (result && (result !== this.#shown || lang !== this.#builtLang)) {
      this.#shown = result;
      this.#builtLang = lang;
      this.#data = readExplainData(result.data);
      this.#build(result, this.#data, lang);
    }
    setLabel(this.#methodControl, t(lang, "method"));
    const chosen = ctx.traits.saliency_method;
    fillSelect(
      this.#method,
      SALIENCY_METHODS.map((m) => [m, saliencyLabel(lang, m)] as const),
      chosen,
    );
    for (const option of this.#method.options) {
      const method = option.value as SaliencyMethod;
      if ((SALIENCY_METHODS as readonly string[]).includes(method)) {
        option.title = saliencyHint(lang, method);
      }
    }
    this.#methodControl.title = (SALIENCY_METHODS as readonly string[]).includes(chosen)
      ? saliencyHint(lang, chosen)
      : "";
    this.#classes.sync(ctx, this.#data);
    this.#row.hidden = this.#shown === null;
    this.#completeness.hidden = this.#shown === null || !this.#completeness.textContent;
    this.fit(this.#width);
  }

  fit(width: number): void {
    this.#width = width;
    if (width <= 0 || this.#images.length === 0) return;
    const side = Math.min(EXPLAIN_SIDE, (width - GAP) / 2);
    const ref = this.#images[0];
    if (!ref) return;
    const fit = explainFit(ref.meta, side);
    this.#images.forEach((p, i) => place(p.img, i === 0 ? fit : { ...fit, smooth: true }));
    // As wide as the map above it: a long line wraps instead of widening the figure.
    this.#completeness.style.maxWidth = `${Math.max(fit.width, 200)}px`;
  }

  clear(): void {
    this.#pictures.clear();
    this.#shown = null;
    this.#data = null;
    this.#images = [];
    this.#builtLang = null;
    this.#row.replaceChildren();
    this.#row.hidden = true;
    this.#completeness.textContent = "";
    this.#completeness.hidden = true;
  }

  destroy(): void {
    this.clear();
  }

  #build(result: StoredResult, data: ExplainData, lang: Lang): void {
    this.#images = [];
    const keep = new Set<string>();
    const figures: HTMLElement[] = [];
    const drawn = data.method ? saliencyLabel(lang, data.method) : "";
    const mapCaption = [t(lang, "saliencyMap"), drawn].filter(Boolean).join(" · ");
    const parts: [string, string, string][] = [
      ["image", t(lang, "inputImage"), t(lang, "inputImage")],
      ["heatmap", mapCaption, t(lang, "saliencyAlt", { name: data.className })],
    ];
    for (const [role, caption, alt] of parts) {
      const found = imageByRole(result, role);
      if (!found) continue;
      keep.add(role);
      const placed = this.#pictures.get(role, found, alt, role);
      this.#images.push(placed);
      const figure = h("figure", { class: "cnnviz-explain-figure" });
      figure.append(placed.img, h("figcaption", { class: "cnnviz-muted" }, caption));
      // The completeness line belongs to the map: right under it.
      if (role === "heatmap") figure.append(this.#completeness);
      figures.push(figure);
    }
    this.#pictures.retain(keep);
    this.#classes.show(data, lang);
    this.#row.replaceChildren(...figures, this.#classes.predictions);
    const completeness = data.method === "integrated" ? data.completeness : null;
    this.#completeness.textContent = completeness ? completenessText(lang, completeness) : "";
    this.#completeness.title = completeness ? trust(lang, "completenessHint") : "";
    setAttrs(this.#completeness, {
      "data-sum": completeness?.sum ?? null,
      "data-gap": completeness?.gap ?? null,
    });
  }
}

/** The image's size on screen; the heatmap is drawn at the same size. */
function explainFit(meta: ImageMeta, side: number): Fit {
  if (meta.kind === "heatmap")
    return smoothFit(meta.width, meta.height, side, side, EXPLAIN_UPSCALE);
  return imageFit(meta.width, meta.height, side, side, EXPLAIN_UPSCALE);
}
