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

/**
 * Rows on screen: those whose enclosing rows are all expanded or, while the list is
 * filtered, those `shown` names (the matches and their parents, whatever the fold state).
 */
export function visibleRows(
  tree: LayerTree,
  expanded: ReadonlySet<string>,
  shown: ReadonlySet<string> | null = null,
): TreeRow[] {
  return tree.rows.filter((row) =>
    shown ? shown.has(row.layer.name) : isVisible(tree, row.layer.name, expanded),
  );
}

/** What a search of the layer list keeps: the rows that match, and the rows to draw. */
export interface TreeFilter {
  /** Names whose name or type contains the query, in display order. */
  matches: string[];
  /** The matches and every row enclosing one, so each match is seen in its place. */
  shown: Set<string>;
}

/**
 * Rows whose name or type contains `query` (case-insensitive, surrounding blanks ignored),
 * with their parents; null for an empty query (nothing filtered).
 */
export function filterTree(tree: LayerTree, query: string): TreeFilter | null {
  const needle = query.trim().toLocaleLowerCase();
  if (needle === "") return null;
  const matches: string[] = [];
  const shown = new Set<string>();
  for (const row of tree.rows) {
    const { name, type } = row.layer;
    const hit =
      name.toLocaleLowerCase().includes(needle) ||
      String(type ?? "")
        .toLocaleLowerCase()
        .includes(needle);
    if (!hit) continue;
    matches.push(name);
    shown.add(name);
    for (const parent of ancestors(tree, name)) shown.add(parent);
  }
  return { matches, shown };
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

/**
 * The WAI-ARIA tree pattern: what a key does from the row `current`. While the list is
 * filtered (`shown`), keys move among the rows on screen and nothing folds: every parent
 * of a match is drawn open.
 */
export function treeMove(
  tree: LayerTree,
  expanded: ReadonlySet<string>,
  current: string,
  key: TreeKey,
  shown: ReadonlySet<string> | null = null,
): TreeMove {
  const visible = visibleRows(tree, expanded, shown);
  const first = visible[0];
  const last = visible[visible.length - 1];
  if (!first || !last) return {};
  const onScreen = (name: string): boolean => visible.some((r) => r.layer.name === name);
  const isOpen = (name: string): boolean => shown !== null || expanded.has(name);
  // A selection folded away by a click on its parent's toggle moves from that parent.
  const anchor = [current, ...ancestors(tree, current)].find(onScreen);
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
      if (!isOpen(anchor)) return { expand: anchor };
      const child = row.children.find(onScreen);
      return child === undefined ? {} : { select: child };
    }
    case "ArrowLeft":
      if (anchor !== current) return { select: anchor };
      if (shown === null && isExpandable(row) && expanded.has(anchor)) return { collapse: anchor };
      return row.parent === null || !onScreen(row.parent) ? {} : { select: row.parent };
  }
}
