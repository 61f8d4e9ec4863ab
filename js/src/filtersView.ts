// Filter patterns: the grid of patterns as it improves, its progress, and "more filters".

import { ActivationsView } from "./activationsView";
import { h } from "./dom";
import { t } from "./i18n";
import type { StoredResult } from "./state";
import type { ResultView, ViewContext } from "./viewCommon";

/** How many more filters one click on "more" asks for. */
export const FILTER_STEP = 16;

export class FiltersView implements ResultView {
  readonly controls: HTMLElement;
  readonly #grid = new ActivationsView("filters");
  readonly #progress: HTMLElement;
  readonly #more: HTMLButtonElement;
  #ctx: ViewContext | null = null;
  #channels = 0;

  constructor(signal: AbortSignal) {
    this.#progress = h("span", { class: "cnnviz-progress", "data-role": "progress" });
    this.#more = h("button", { type: "button", "data-role": "more-filters" });
    this.#more.hidden = true;
    this.#more.addEventListener(
      "click",
      () => {
        const ctx = this.#ctx;
        if (!ctx) return;
        const next = Math.min(ctx.traits.filter_count + FILTER_STEP, this.#channels);
        if (next > ctx.traits.filter_count) ctx.set("filter_count", next);
      },
      { signal },
    );
    this.controls = h("div", { class: "cnnviz-controls" });
    this.controls.append(this.#progress, this.#more);
  }

  get content(): HTMLElement {
    return this.#grid.content;
  }

  get shown(): StoredResult | null {
    return this.#grid.shown;
  }

  update(result: StoredResult | undefined, ctx: ViewContext): void {
    this.#ctx = ctx;
    this.#grid.update(result, ctx);
    const shown = result ?? this.#grid.shown;
    if (!shown) return;
    const { step, steps } = shown.image;
    this.#progress.textContent =
      step !== undefined && steps !== undefined
        ? t(ctx.lang, "filterProgress", { step, steps })
        : "";
    const channels = shown.data["channels"];
    if (typeof channels === "number") this.#channels = channels;
    const left = this.#channels - ctx.traits.filter_count;
    this.#more.hidden = !shown.final || this.#channels === 0;
    this.#more.disabled = left <= 0;
    this.#more.textContent =
      left > 0
        ? t(ctx.lang, "moreFilters", { n: Math.min(FILTER_STEP, left) })
        : t(ctx.lang, "filtersAll", { n: this.#channels });
  }

  fit(width: number): void {
    this.#grid.fit(width);
  }

  clear(): void {
    this.#grid.clear();
    this.#progress.textContent = "";
  }

  destroy(): void {
    this.#grid.destroy();
  }
}
