// View tabs (Feature maps, Weights, ...), drawn from the `views` trait so a new
// view on the kernel side needs no frontend change beyond its label.

import { h, setAttrs } from "./dom";
import { t, viewLabel } from "./i18n";
import type { Lang } from "./protocol";

export interface ViewTabsOptions {
  idPrefix: string;
  signal: AbortSignal;
  onSelect: (view: string) => void;
}

export class ViewTabs {
  readonly element: HTMLDivElement;
  readonly #options: ViewTabsOptions;
  #tabs: HTMLButtonElement[] = [];
  #selected = "";

  constructor(options: ViewTabsOptions) {
    this.#options = options;
    this.element = h("div", {
      class: "cnnviz-tabs",
      role: "tablist",
      // The arrow keys pressed here move between tabs, not between notebook cells.
      "data-lm-suppress-shortcuts": "true",
    });
    const { signal } = options;
    this.element.addEventListener("click", (e) => this.#onClick(e), { signal });
    this.element.addEventListener("keydown", (e) => this.#onKey(e), { signal });
  }

  /** Id of the tab for `view`, for the panel's aria-labelledby. */
  tabId(view: string): string | undefined {
    return this.#tabs.find((tab) => tab.dataset.view === view)?.id;
  }

  setViews(views: readonly string[], lang: Lang): void {
    setAttrs(this.element, { "aria-label": t(lang, "viewsLabel") });
    this.#tabs = views.map((view, index) =>
      h(
        "button",
        {
          type: "button",
          role: "tab",
          class: "cnnviz-tab",
          id: `${this.#options.idPrefix}-tab-${index}`,
          "data-view": view,
        },
        viewLabel(lang, view),
      ),
    );
    this.element.replaceChildren(...this.#tabs);
    this.setSelected(this.#selected);
  }

  setSelected(view: string): void {
    this.#selected = view;
    const current = this.#tabs.some((tab) => tab.dataset.view === view);
    this.#tabs.forEach((tab, index) => {
      const selected = tab.dataset.view === view;
      // Roving tabindex: Tab enters the list once, arrows move inside it.
      setAttrs(tab, {
        "aria-selected": selected ? "true" : "false",
        tabindex: selected || (!current && index === 0) ? 0 : -1,
      });
    });
  }

  #onClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const view = target?.closest<HTMLElement>("[role=tab]")?.dataset.view;
    if (view !== undefined && view !== this.#selected) this.#options.onSelect(view);
  }

  #onKey(event: KeyboardEvent): void {
    const count = this.#tabs.length;
    const index = this.#tabs.findIndex((tab) => tab.dataset.view === this.#selected);
    const step: Record<string, number> = {
      ArrowLeft: index - 1,
      ArrowRight: index + 1,
      Home: 0,
      End: count - 1,
    };
    const next = step[event.key];
    if (next === undefined || count === 0) return;
    event.preventDefault();
    event.stopPropagation();
    const tab = this.#tabs[(next + count) % count];
    const view = tab?.dataset.view;
    if (!tab || view === undefined) return;
    tab.focus();
    if (view !== this.#selected) this.#options.onSelect(view);
  }
}
