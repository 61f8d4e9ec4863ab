// The layer tree on the left: what model.summary() prints, with sub-models folded.

import { h, setAttrs } from "./dom";
import { formatParams, formatShape } from "./format";
import { t } from "./i18n";
import type { Lang, LayerInfo } from "./protocol";
import {
  ancestors,
  buildTree,
  isExpandable,
  isVisible,
  type LayerTree,
  shortName,
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
  /** Scroll container holding the column header and the tree. */
  readonly element: HTMLDivElement;
  readonly #head: HTMLDivElement;
  readonly #tree: HTMLDivElement;
  readonly #options: LayerListOptions;
  #model: LayerTree = buildTree([]);
  #rows = new Map<string, HTMLElement>();
  #expanded = new Set<string>();
  #selected = "";
  #lang: Lang = "en";

  constructor(options: LayerListOptions) {
    this.#options = options;
    this.element = h("div", { class: "cnnviz-layers" });
    this.#head = h("div", { class: "cnnviz-row cnnviz-colhead", "aria-hidden": "true" });
    this.#tree = h("div", { class: "cnnviz-tree", role: "tree", tabindex: 0 });
    this.element.append(this.#head, this.#tree);
    const { signal } = options;
    this.#tree.addEventListener("click", (e) => this.#onClick(e), { signal });
    this.#tree.addEventListener("keydown", (e) => this.#onKey(e), { signal });
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
    this.#rows = new Map();
    const nodes = this.#model.rows.map((row, index) => {
      const node = this.#renderRow(row, index);
      this.#rows.set(row.layer.name, node);
      return node;
    });
    if (nodes.length === 0) nodes.push(h("div", { class: "cnnviz-empty" }, t(lang, "noLayers")));
    this.#tree.replaceChildren(...nodes);
    this.setSelected(this.#selected);
  }

  /** Marks `name` selected and unfolds its ancestors so it can be seen. */
  setSelected(name: string): void {
    this.#selected = name;
    for (const parent of ancestors(this.#model, name)) this.#expanded.add(parent);
    this.#syncRows();
    const node = this.#rows.get(name);
    setAttrs(this.#tree, { "aria-activedescendant": node?.id });
    if (node) this.#reveal(node);
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
      node.hidden = !isVisible(this.#model, name, this.#expanded);
      setAttrs(node, { "aria-selected": name === this.#selected ? "true" : "false" });
      if (!isExpandable(row)) continue;
      const open = this.#expanded.has(name);
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
  }

  #setExpanded(name: string, open: boolean): void {
    if (open) this.#expanded.add(name);
    else this.#expanded.delete(name);
    this.#syncRows();
  }

  /** Scrolls only the list itself: scrollIntoView would also scroll the notebook. */
  #reveal(node: HTMLElement): void {
    const box = this.element;
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
    // Keep keyboard navigation going from the row just clicked.
    this.#tree.focus({ preventScroll: true });
    if (name !== this.#selected) this.#options.onSelect(name);
    else this.#options.onReselect?.(name);
  }

  #onKey(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Enter" || event.key === " ") {
      const row = this.#model.byName.get(this.#selected);
      if (row && isExpandable(row)) {
        event.preventDefault();
        this.#setExpanded(row.layer.name, !this.#expanded.has(row.layer.name));
      }
      return;
    }
    if (!TREE_KEYS.has(event.key)) return;
    event.preventDefault();
    const move = treeMove(this.#model, this.#expanded, this.#selected, event.key as TreeKey);
    if (move.expand !== undefined) this.#setExpanded(move.expand, true);
    if (move.collapse !== undefined) this.#setExpanded(move.collapse, false);
    if (move.select !== undefined && move.select !== this.#selected) {
      this.#options.onSelect(move.select);
    }
  }
}
