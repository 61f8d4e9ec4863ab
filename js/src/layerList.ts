// The layer tree on the left: what model.summary() prints, with sub-models folded, a search
// box that filters it, and the handle that resizes it against the panel.

import { h, setAttrs } from "./dom";
import { formatParams, formatShape } from "./format";
import { t } from "./i18n";
import type { Lang, LayerInfo } from "./protocol";
import { Splitter } from "./splitter";
import {
  ancestors,
  buildTree,
  filterTree,
  isExpandable,
  isVisible,
  type LayerTree,
  shortName,
  type TreeFilter,
  type TreeKey,
  type TreeRow,
  treeMove,
} from "./tree";

const TREE_KEYS = new Set<string>([
  "ArrowUp",
  "ArrowDown",
  "ArrowLeft",
  "ArrowRight",
  "Home",
  "End",
]);

export interface LayerListOptions {
  idPrefix: string;
  signal: AbortSignal;
  onSelect: (name: string) => void;
  /** A click on the row that is already selected. */
  onReselect?: (name: string) => void;
}

export class LayerList {
  /** The list's pane: search box, scrolling table (column header and tree), resize handle. */
  readonly element: HTMLDivElement;
  /** The scroll container holding the column header and the tree. */
  readonly #scroll: HTMLDivElement;
  readonly #head: HTMLDivElement;
  readonly #tree: HTMLDivElement;
  readonly #search: HTMLInputElement;
  readonly #searchCount: HTMLSpanElement;
  readonly #noMatch: HTMLDivElement;
  readonly #splitter: Splitter;
  readonly #options: LayerListOptions;
  #model: LayerTree = buildTree([]);
  #rows = new Map<string, HTMLElement>();
  #expanded = new Set<string>();
  #filter: TreeFilter | null = null;
  #selected = "";
  #lang: Lang = "en";
  /** The row to scroll to at the next frame (one pending reveal at a time). */
  #revealing: HTMLElement | null = null;
  /** The row being selected by a click, while its selection goes out. */
  #clicked: string | null = null;

  constructor(options: LayerListOptions) {
    this.#options = options;
    const treeId = `${options.idPrefix}-tree`;
    this.element = h("div", {
      class: "cnnviz-layer-pane",
      // Keys pressed in the list (arrows, Escape) belong to it, not to JupyterLab's notebook.
      "data-lm-suppress-shortcuts": "true",
    });
    this.#search = h("input", {
      type: "search",
      class: "cnnviz-search-input",
      "data-role": "layer-search",
      autocomplete: "off",
      spellcheck: "false",
      "aria-controls": treeId,
    });
    this.#searchCount = h("span", {
      class: "cnnviz-search-count",
      "data-role": "search-count",
      "aria-live": "polite",
    });
    const search = h("div", { class: "cnnviz-search", role: "search" });
    search.append(this.#search, this.#searchCount);
    this.#scroll = h("div", { class: "cnnviz-layers" });
    this.#head = h("div", { class: "cnnviz-row cnnviz-colhead", "aria-hidden": "true" });
    this.#tree = h("div", { class: "cnnviz-tree", role: "tree", tabindex: 0, id: treeId });
    this.#noMatch = h("div", { class: "cnnviz-empty", "data-role": "no-match" });
    this.#noMatch.hidden = true;
    this.#scroll.append(this.#head, this.#tree, this.#noMatch);
    this.element.append(search, this.#scroll);
    const { signal } = options;
    // A width the user drags to replaces the one held while searching.
    const onResize = (): void => {
      this.element.style.removeProperty("min-width");
    };
    this.#splitter = new Splitter({ pane: this.element, signal, onResize });
    this.#tree.addEventListener("click", (e) => this.#onClick(e), { signal });
    this.#tree.addEventListener("keydown", (e) => this.#onKey(e), { signal });
    this.#search.addEventListener("input", () => this.#applyFilter(), { signal });
    this.#search.addEventListener("keydown", (e) => this.#onSearchKey(e), { signal });
  }

  /** The text the list is filtered by ("" when it is not). */
  get query(): string {
    return this.#search.value;
  }

  /** Filters the rows by name or type (case-insensitive); "" shows them all again. */
  setQuery(query: string): void {
    this.#search.value = query;
    this.#applyFilter();
  }

  /** Rebuilds every row; the fold state of rows that still exist is kept. */
  setLayers(layers: readonly LayerInfo[], lang: Lang): void {
    this.#lang = lang;
    this.#model = buildTree(Array.isArray(layers) ? layers : []);
    this.#expanded = new Set([...this.#expanded].filter((n) => this.#model.byName.has(n)));
    this.#head.replaceChildren(
      h("span", { class: "cnnviz-cell cnnviz-name" }, t(lang, "colName")),
      h("span", { class: "cnnviz-cell cnnviz-type" }, t(lang, "colType")),
      h("span", { class: "cnnviz-cell cnnviz-shape" }, t(lang, "colShape")),
      h("span", { class: "cnnviz-cell cnnviz-params" }, t(lang, "colParams")),
    );
    setAttrs(this.#tree, { "aria-label": t(lang, "layersLabel") });
    setAttrs(this.#search, {
      placeholder: t(lang, "searchPlaceholder"),
      "aria-label": t(lang, "searchLabel"),
      title: t(lang, "searchHint"),
    });
    this.#splitter.setLang(lang);
    this.#rows = new Map();
    const nodes = this.#model.rows.map((row, index) => {
      const node = this.#renderRow(row, index);
      this.#rows.set(row.layer.name, node);
      return node;
    });
    if (nodes.length === 0) nodes.push(h("div", { class: "cnnviz-empty" }, t(lang, "noLayers")));
    this.#tree.replaceChildren(...nodes);
    this.#filter = filterTree(this.#model, this.#search.value);
    this.#select(this.#selected, true);
  }

  /**
   * Marks `name` selected and unfolds its ancestors so it can be seen; scrolls the list to a
   * selection that changed, unless its row was just clicked (it is on screen: the redraw
   * of a click comes with the kernel's answer, after the click handler has returned). A
   * selection that stayed (another sample or tab was chosen) is left where the list was
   * scrolled to.
   */
  setSelected(name: string): void {
    const reveal = name !== this.#selected && name !== this.#clicked;
    this.#clicked = null;
    this.#select(name, reveal);
  }

  #select(name: string, reveal: boolean): void {
    this.#selected = name;
    for (const parent of ancestors(this.#model, name)) this.#expanded.add(parent);
    this.#syncRows();
    const node = this.#rows.get(name);
    // A selection the search hides stays selected; it has no row on screen to point at.
    const onScreen = node && !node.hidden ? node : undefined;
    setAttrs(this.#tree, { "aria-activedescendant": onScreen?.id });
    if (onScreen && reveal) this.#reveal(onScreen);
  }

  #renderRow(row: TreeRow, index: number): HTMLElement {
    const { layer } = row;
    const lang = this.#lang;
    const node = h("div", {
      class: "cnnviz-row",
      role: "treeitem",
      id: `${this.#options.idPrefix}-row-${index}`,
      "data-layer": layer.name,
      "data-kind": layer.kind,
      "aria-level": row.depth + 1,
      "aria-posinset": row.position,
      "aria-setsize": row.siblings,
      "aria-selected": "false",
    });
    const name = h("span", { class: "cnnviz-cell cnnviz-name", title: layer.name });
    name.style.setProperty("--depth", String(row.depth));
    if (isExpandable(row)) {
      name.append(
        h("button", {
          type: "button",
          class: "cnnviz-toggle",
          "data-role": "toggle",
          tabindex: -1,
        }),
      );
    } else {
      name.append(h("span", { class: "cnnviz-toggle-space", "aria-hidden": "true" }));
    }
    name.append(h("span", { class: "cnnviz-label" }, shortName(row)));
    const params = h("span", { class: "cnnviz-cell cnnviz-params" }, formatParams(layer.params));
    if (!layer.trainable && layer.params > 0) {
      params.classList.add("is-frozen");
      params.title = t(lang, "notTrainable");
    }
    node.append(
      name,
      h("span", { class: "cnnviz-cell cnnviz-type", title: layer.type }, layer.type),
      h("span", { class: "cnnviz-cell cnnviz-shape" }, formatShape(layer.output_shape)),
      params,
    );
    return node;
  }

  /** Brings every row's visibility, fold and selection attributes up to date. */
  #syncRows(): void {
    const lang = this.#lang;
    for (const row of this.#model.rows) {
      const name = row.layer.name;
      const node = this.#rows.get(name);
      if (!node) continue;
      const filter = this.#filter;
      node.hidden = filter
        ? !filter.shown.has(name)
        : !isVisible(this.#model, name, this.#expanded);
      node.classList.toggle("is-match", filter?.matches.includes(name) === true);
      setAttrs(node, { "aria-selected": name === this.#selected ? "true" : "false" });
      if (!isExpandable(row)) continue;
      // While filtering, every parent of a match is drawn open.
      const open = this.#filter ? this.#filter.shown.has(name) : this.#expanded.has(name);
      setAttrs(node, { "aria-expanded": String(open) });
      const toggle = node.querySelector(".cnnviz-toggle");
      if (toggle) {
        setAttrs(toggle, {
          "aria-expanded": String(open),
          "aria-label": t(lang, open ? "collapse" : "expand"),
          title: t(lang, open ? "collapse" : "expand"),
        });
      }
    }
    this.#syncFilterStatus();
  }

  #syncFilterStatus(): void {
    const filter = this.#filter;
    const lang = this.#lang;
    const total = this.#model.rows.length;
    this.#searchCount.textContent = filter
      ? t(lang, "searchCount", { n: filter.matches.length, total })
      : "";
    this.#searchCount.hidden = filter === null;
    const none = filter !== null && filter.matches.length === 0 && total > 0;
    this.#noMatch.hidden = !none;
    this.#noMatch.textContent = none
      ? t(lang, "noMatch", { query: this.#search.value.trim() })
      : "";
    this.element.classList.toggle("is-filtered", filter !== null);
  }

  #applyFilter(): void {
    const was = this.#filter;
    this.#filter = filterTree(this.#model, this.#search.value);
    // The list is as wide as its widest row: keep the width it had while searching, or the
    // panel beside it would jump with every letter typed.
    if (!was && this.#filter) {
      const width = this.element.getBoundingClientRect().width;
      if (width > 0) this.element.style.minWidth = `${Math.ceil(width)}px`;
    } else if (was && !this.#filter) {
      this.element.style.removeProperty("min-width");
    }
    this.#syncRows();
    // The selection stays what it was; once it is on screen again it is scrolled to.
    const node = this.#rows.get(this.#selected);
    const onScreen = node && !node.hidden ? node : undefined;
    setAttrs(this.#tree, { "aria-activedescendant": onScreen?.id });
    if (onScreen) this.#reveal(onScreen);
    else this.#scroll.scrollTop = 0;
  }

  #onSearchKey(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape") {
      if (this.#search.value === "") return;
      // Escape clears the search and nothing else (JupyterLab would leave the cell).
      event.preventDefault();
      event.stopPropagation();
      this.setQuery("");
      return;
    }
    if (event.key === "ArrowDown" || event.key === "Enter") {
      // Into the list: to the selected row when it is shown, else to the first match.
      event.preventDefault();
      event.stopPropagation();
      const selected = this.#rows.get(this.#selected);
      const first = this.#filter?.matches[0];
      if ((!selected || selected.hidden) && first !== undefined && event.key === "Enter") {
        this.#options.onSelect(first);
      }
      this.#tree.focus({ preventScroll: true });
    }
  }

  #setExpanded(name: string, open: boolean): void {
    if (open) this.#expanded.add(name);
    else this.#expanded.delete(name);
    this.#syncRows();
  }

  /**
   * Scrolls only the list itself (scrollIntoView would also scroll the notebook), just
   * before the next frame: reading positions right after changing the rows would make the
   * browser lay out the whole page at once, on every click.
   */
  #reveal(node: HTMLElement): void {
    if (typeof requestAnimationFrame !== "function") {
      this.#revealNow(node);
      return;
    }
    const first = this.#revealing === null;
    this.#revealing = node;
    if (!first) return;
    requestAnimationFrame(() => {
      const target = this.#revealing;
      this.#revealing = null;
      if (target && target.isConnected && !target.hidden) this.#revealNow(target);
    });
  }

  #revealNow(node: HTMLElement): void {
    const box = this.#scroll;
    const head = this.#head.offsetHeight;
    // .cnnviz-layers is position: relative, so offsetTop is measured from it.
    const top = node.offsetTop;
    if (top - head < box.scrollTop) box.scrollTop = Math.max(0, top - head);
    else if (top + node.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = top + node.offsetHeight - box.clientHeight;
    }
  }

  #onClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const node = target?.closest<HTMLElement>("[role=treeitem]");
    const name = node?.dataset.layer;
    if (name === undefined) return;
    if (target?.closest("[data-role=toggle]")) {
      this.#setExpanded(name, !this.#expanded.has(name));
      return;
    }
    if (name !== this.#selected) {
      // The row is on screen (it was just clicked): no scrolling to it, whose reading of
      // positions would lay out the page in the frame of the answer (setSelected).
      this.#clicked = name;
      this.#options.onSelect(name);
    } else this.#options.onReselect?.(name);
    // Keep keyboard navigation going from the row just clicked (after the choice went out).
    this.#tree.focus({ preventScroll: true });
  }

  #onKey(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape" && this.#search.value !== "") {
      event.preventDefault();
      event.stopPropagation();
      this.setQuery("");
      return;
    }
    // Typing a letter in the list starts a search (as in a file browser).
    if (event.key.length === 1 && /\S/.test(event.key)) {
      event.preventDefault();
      event.stopPropagation();
      this.#search.focus();
      this.setQuery(this.#search.value + event.key);
      return;
    }
    if (event.key === "Enter" || event.key === " ") {
      if (this.#filter) return;
      const row = this.#model.byName.get(this.#selected);
      if (row && isExpandable(row)) {
        event.preventDefault();
        this.#setExpanded(row.layer.name, !this.#expanded.has(row.layer.name));
      }
      return;
    }
    if (!TREE_KEYS.has(event.key)) return;
    event.preventDefault();
    event.stopPropagation();
    const shown = this.#filter?.shown ?? null;
    const key = event.key as TreeKey;
    const move = treeMove(this.#model, this.#expanded, this.#selected, key, shown);
    if (move.expand !== undefined) this.#setExpanded(move.expand, true);
    if (move.collapse !== undefined) this.#setExpanded(move.collapse, false);
    if (move.select !== undefined && move.select !== this.#selected) {
      this.#options.onSelect(move.select);
    }
  }
}
