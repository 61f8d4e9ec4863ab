// The handle between the layer list and the panel: drag it (or focus it and press the arrow
// keys) to give the names more room. It only writes one CSS variable, `--cnnviz-list-width`,
// on the element whose grid the list sits in, so the layout itself stays in CSS.

import { h, setAttrs } from "./dom";
import { t } from "./i18n";
import type { Lang } from "./protocol";

/** The CSS variable the body's grid reads for the list's column. */
export const LIST_WIDTH_VAR = "--cnnviz-list-width";
/** Narrowest the list gets, and the least the panel keeps, in CSS pixels. */
export const MIN_LIST = 160;
export const MIN_PANEL = 240;
/** Arrow keys move the split by this much; with Shift by STEP_LARGE. */
export const STEP = 16;
export const STEP_LARGE = 64;

export interface SplitterOptions {
  /** The list's pane: the handle is put on its right edge. */
  pane: HTMLElement;
  /** Where the variable goes (the grid holding the pane); its parent by default. */
  host?: () => HTMLElement | null;
  signal: AbortSignal;
  lang?: Lang;
  /** Called when the user sets or resets the width (the pane may hold a width of its own). */
  onResize?: () => void;
}

/** `width` kept between MIN_LIST and what leaves the panel MIN_PANEL of `total`. */
export function clampWidth(width: number, total: number): number {
  const max = Math.max(MIN_LIST, total - MIN_PANEL);
  return Math.round(Math.min(max, Math.max(MIN_LIST, width)));
}

export class Splitter {
  readonly element: HTMLDivElement;
  readonly #pane: HTMLElement;
  readonly #host: () => HTMLElement | null;
  readonly #onResize: () => void;
  #drag: { pointer: number; startX: number; startWidth: number } | null = null;

  constructor(options: SplitterOptions) {
    this.#pane = options.pane;
    this.#host = options.host ?? (() => this.#pane.parentElement);
    this.#onResize = options.onResize ?? (() => undefined);
    this.element = h("div", {
      class: "cnnviz-splitter",
      role: "separator",
      "aria-orientation": "vertical",
      tabindex: 0,
      "data-role": "splitter",
      // JupyterLab's notebook shortcuts must not see the arrow keys pressed here.
      "data-lm-suppress-shortcuts": "true",
    });
    this.setLang(options.lang ?? "en");
    this.#pane.append(this.element);
    const { signal } = options;
    const on = <K extends keyof HTMLElementEventMap>(
      type: K,
      listener: (event: HTMLElementEventMap[K]) => void,
    ): void => this.element.addEventListener(type, listener, { signal });
    on("pointerdown", (e) => this.#onDown(e));
    on("pointermove", (e) => this.#onMove(e));
    on("pointerup", (e) => this.#onUp(e));
    on("pointercancel", (e) => this.#onUp(e));
    on("lostpointercapture", () => this.#end());
    on("keydown", (e) => this.#onKey(e));
    // Double-click gives the layout back to CSS (the list as wide as its content allows).
    on("dblclick", () => this.reset());
  }

  setLang(lang: Lang): void {
    const label = t(lang, "splitterLabel");
    setAttrs(this.element, { "aria-label": label, title: label });
  }

  /** The list's width as set by the user, or null while CSS decides. */
  get width(): number | null {
    const raw = this.#host()?.style.getPropertyValue(LIST_WIDTH_VAR) ?? "";
    const value = Number.parseFloat(raw);
    return Number.isFinite(value) ? value : null;
  }

  /** Sets the list's width (clamped to the room there is); returns the width applied. */
  setWidth(width: number): number {
    const host = this.#host();
    if (!host) return width;
    const total = host.getBoundingClientRect().width || host.clientWidth;
    // Unlaid-out (hidden) host: nothing to measure against, so only the minimum holds.
    const applied =
      total > 0
        ? clampWidth(width, total)
        : Math.max(MIN_LIST, Number.isFinite(width) ? Math.round(width) : MIN_LIST);
    host.style.setProperty(LIST_WIDTH_VAR, `${applied}px`);
    this.#syncValue(applied, total);
    this.#onResize();
    return applied;
  }

  reset(): void {
    this.#host()?.style.removeProperty(LIST_WIDTH_VAR);
    setAttrs(this.element, { "aria-valuenow": null, "aria-valuemin": null, "aria-valuemax": null });
    this.#onResize();
  }

  #current(): number {
    return this.width ?? this.#pane.getBoundingClientRect().width;
  }

  #syncValue(width: number, total: number): void {
    setAttrs(this.element, {
      "aria-valuenow": width,
      "aria-valuemin": MIN_LIST,
      "aria-valuemax": total > 0 ? Math.max(MIN_LIST, Math.round(total - MIN_PANEL)) : null,
    });
  }

  #onDown(event: PointerEvent): void {
    if (event.button !== 0) return;
    event.preventDefault(); // no text selection while dragging
    this.#drag = { pointer: event.pointerId, startX: event.clientX, startWidth: this.#current() };
    this.element.setPointerCapture?.(event.pointerId);
    this.element.classList.add("is-dragging");
  }

  #onMove(event: PointerEvent): void {
    const drag = this.#drag;
    if (!drag || event.pointerId !== drag.pointer) return;
    this.setWidth(drag.startWidth + event.clientX - drag.startX);
  }

  #onUp(event: PointerEvent): void {
    if (this.#drag && event.pointerId === this.#drag.pointer) {
      this.element.releasePointerCapture?.(event.pointerId);
      this.#end();
    }
  }

  #end(): void {
    this.#drag = null;
    this.element.classList.remove("is-dragging");
  }

  #onKey(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const step = event.shiftKey ? STEP_LARGE : STEP;
    const now = this.#current();
    let next: number | null = null;
    if (event.key === "ArrowLeft") next = now - step;
    else if (event.key === "ArrowRight") next = now + step;
    else if (event.key === "Home") next = MIN_LIST;
    else if (event.key === "End") next = Number.POSITIVE_INFINITY;
    else if (event.key === "Enter") {
      event.preventDefault();
      this.reset();
      return;
    }
    if (next === null) return;
    event.preventDefault();
    event.stopPropagation();
    this.setWidth(next);
  }
}
