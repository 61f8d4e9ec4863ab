// The layer tree as data: nesting, visibility and keyboard moves, without DOM.

import type { LayerInfo } from "./protocol";

export interface TreeRow {
  layer: LayerInfo;
  depth: number;
  /** Name of the enclosing row, null at top level (also when `parent` names no row). */
  parent: string | null;
  children: string[];
  /** Position among siblings, 1-based, and the sibling count (aria-posinset/setsize). */
  position: number;
  siblings: number;
}

export interface LayerTree {
  /** Rows in display order: each parent directly followed by its descendants. */
  rows: TreeRow[];
  byName: Map<string, TreeRow>;
}

export function buildTree(layers: readonly LayerInfo[]): LayerTree {
  const names = new Set(layers.map((l) => l.name));
  const childrenOf = new Map<string | null, LayerInfo[]>();
  for (const layer of layers) {
    // A parent that is not a row (or a self-reference) would hide the layer forever.
    const parent =
      layer.parent !== null && layer.parent !== layer.name && names.has(layer.parent)
        ? layer.parent
        : null;
    const list = childrenOf.get(parent) ?? [];
    list.push(layer);
    childrenOf.set(parent, list);
  }
  const rows: TreeRow[] = [];
  const byName = new Map<string, TreeRow>();
  const visit = (parent: string | null, depth: number): void => {
    const siblings = childrenOf.get(parent) ?? [];
    siblings.forEach((layer, index) => {
      // Duplicate names or parent cycles must not loop; the first occurrence wins.
      if (byName.has(layer.name)) return;
      const row: TreeRow = {
        layer,
        depth,
        parent,
        children: (childrenOf.get(layer.name) ?? []).map((c) => c.name),
        position: index + 1,
        siblings: siblings.length,
      };
      rows.push(row);
      byName.set(layer.name, row);
      visit(layer.name, depth + 1);
    });
  };
  visit(null, 0);
  return { rows, byName };
}

export function isExpandable(row: TreeRow): boolean {
  return row.children.length > 0;
}

/** Names of the rows enclosing `name`, innermost first. */
export function ancestors(tree: LayerTree, name: string): string[] {
  const out: string[] = [];
  let parent = tree.byName.get(name)?.parent ?? null;
  while (parent !== null && !out.includes(parent)) {
    out.push(parent);
    parent = tree.byName.get(parent)?.parent ?? null;
  }
  return out;
}

/** A row is visible when every enclosing row is expanded. */
export function isVisible(tree: LayerTree, name: string, expanded: ReadonlySet<string>): boolean {
  return ancestors(tree, name).every((a) => expanded.has(a));
}

export function visibleRows(tree: LayerTree, expanded: ReadonlySet<string>): TreeRow[] {
  return tree.rows.filter((row) => isVisible(tree, row.layer.name, expanded));
}

/** The last part of a nested name (`vgg16/block1_conv1` -> `block1_conv1`) for display. */
export function shortName(row: TreeRow): string {
  const { name } = row.layer;
  const prefix = row.parent === null ? "" : `${row.parent}/`;
  return prefix && name.startsWith(prefix) && name.length > prefix.length
    ? name.slice(prefix.length)
    : name;
}

export type TreeKey = "ArrowUp" | "ArrowDown" | "ArrowLeft" | "ArrowRight" | "Home" | "End";

export interface TreeMove {
  /** Layer to select, when the key moves the selection. */
  select?: string;
  /** Row to expand or collapse, when the key folds instead. */
  expand?: string;
  collapse?: string;
}

/** The WAI-ARIA tree pattern: what a key does from the row `current`. */
export function treeMove(
  tree: LayerTree,
  expanded: ReadonlySet<string>,
  current: string,
  key: TreeKey,
): TreeMove {
  const visible = visibleRows(tree, expanded);
  const first = visible[0];
  const last = visible[visible.length - 1];
  if (!first || !last) return {};
  // A selection folded away by a click on its parent's toggle moves from that parent.
  const anchor = [current, ...ancestors(tree, current)].find((name) =>
    visible.some((r) => r.layer.name === name),
  );
  const index = visible.findIndex((r) => r.layer.name === anchor);
  const row = index >= 0 ? visible[index] : undefined;
  if (!row || anchor === undefined) {
    // Nothing selected (or hidden): any key lands on an end of the list.
    return { select: key === "End" || key === "ArrowUp" ? last.layer.name : first.layer.name };
  }
  switch (key) {
    case "ArrowUp":
      return { select: (visible[index - 1] ?? row).layer.name };
    case "ArrowDown":
      return { select: (visible[index + 1] ?? row).layer.name };
    case "Home":
      return { select: first.layer.name };
    case "End":
      return { select: last.layer.name };
    case "ArrowRight": {
      if (!isExpandable(row)) return {};
      if (!expanded.has(anchor)) return { expand: anchor };
      const child = row.children[0];
      return child === undefined ? {} : { select: child };
    }
    case "ArrowLeft":
      if (anchor !== current) return { select: anchor };
      if (isExpandable(row) && expanded.has(anchor)) return { collapse: anchor };
      return row.parent === null ? {} : { select: row.parent };
  }
}
