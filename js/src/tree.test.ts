import { describe, expect, it } from "vitest";
import { layer } from "./fakeModel";
import { ancestors, buildTree, filterTree, shortName, treeMove, visibleRows } from "./tree";

// input, vgg16 (conv_a, inner (deep)), flatten: a sub-model inside a sub-model.
const LAYERS = [
  layer("input", { kind: "input" }),
  layer("vgg16", { kind: "model", type: "Functional" }),
  layer("vgg16/conv_a", { parent: "vgg16" }),
  layer("vgg16/inner", { parent: "vgg16", kind: "model" }),
  layer("vgg16/inner/deep", { parent: "vgg16/inner" }),
  layer("flatten", { kind: "reshape" }),
];

const names = (rows: { layer: { name: string } }[]): string[] => rows.map((r) => r.layer.name);

describe("buildTree", () => {
  it("nests rows under their parent, in model order", () => {
    const tree = buildTree(LAYERS);
    expect(names(tree.rows)).toEqual(LAYERS.map((l) => l.name));
    expect(tree.byName.get("vgg16/inner/deep")?.depth).toBe(2);
    expect(tree.byName.get("vgg16")?.children).toEqual(["vgg16/conv_a", "vgg16/inner"]);
    expect(ancestors(tree, "vgg16/inner/deep")).toEqual(["vgg16/inner", "vgg16"]);
  });

  it("puts children after their parent even when listed before it", () => {
    const tree = buildTree([layer("m/a", { parent: "m" }), layer("m", { kind: "model" })]);
    expect(names(tree.rows)).toEqual(["m", "m/a"]);
  });

  it("keeps a layer whose parent is missing at top level", () => {
    const tree = buildTree([layer("x", { parent: "gone" }), layer("y", { parent: "y" })]);
    expect(names(visibleRows(tree, new Set()))).toEqual(["x", "y"]);
  });

  it("shows nested names without their parent's prefix", () => {
    const tree = buildTree(LAYERS);
    const row = tree.byName.get("vgg16/inner/deep");
    expect(row && shortName(row)).toBe("deep");
  });
});

describe("treeMove", () => {
  const tree = buildTree(LAYERS);

  it("hides folded children and moves among visible rows", () => {
    const collapsed = new Set<string>();
    expect(names(visibleRows(tree, collapsed))).toEqual(["input", "vgg16", "flatten"]);
    expect(treeMove(tree, collapsed, "vgg16", "ArrowDown")).toEqual({ select: "flatten" });
    expect(treeMove(tree, collapsed, "input", "ArrowUp")).toEqual({ select: "input" });
    expect(treeMove(tree, collapsed, "vgg16", "End")).toEqual({ select: "flatten" });
    expect(treeMove(tree, collapsed, "flatten", "Home")).toEqual({ select: "input" });
  });

  it("expands, enters, collapses and climbs with the horizontal arrows", () => {
    const open = new Set(["vgg16"]);
    expect(treeMove(tree, new Set(), "vgg16", "ArrowRight")).toEqual({ expand: "vgg16" });
    expect(treeMove(tree, open, "vgg16", "ArrowRight")).toEqual({ select: "vgg16/conv_a" });
    expect(treeMove(tree, open, "vgg16/conv_a", "ArrowLeft")).toEqual({ select: "vgg16" });
    expect(treeMove(tree, open, "vgg16", "ArrowLeft")).toEqual({ collapse: "vgg16" });
    expect(treeMove(tree, open, "input", "ArrowLeft")).toEqual({});
    expect(treeMove(tree, open, "vgg16/inner", "ArrowDown")).toEqual({ select: "flatten" });
  });

  it("moves from the visible parent when the selection was folded away", () => {
    expect(treeMove(tree, new Set(), "vgg16/conv_a", "ArrowDown")).toEqual({ select: "flatten" });
    expect(treeMove(tree, new Set(), "vgg16/conv_a", "ArrowLeft")).toEqual({ select: "vgg16" });
  });

  it("starts at an end when nothing is selected", () => {
    expect(treeMove(tree, new Set(), "", "ArrowDown")).toEqual({ select: "input" });
    expect(treeMove(tree, new Set(), "", "End")).toEqual({ select: "flatten" });
    expect(treeMove(buildTree([]), new Set(), "", "ArrowDown")).toEqual({});
  });
});

describe("filterTree", () => {
  const tree = buildTree([
    ...LAYERS,
    layer("dense_logits", { kind: "dense", type: "Dense" }),
    layer("vgg16/inner/deep_bn", { parent: "vgg16/inner", type: "BatchNormalization" }),
  ]);

  it("is null for an empty or blank query", () => {
    expect(filterTree(tree, "")).toBeNull();
    expect(filterTree(tree, "   ")).toBeNull();
  });

  it("matches names and types case-insensitively and keeps every enclosing row", () => {
    const byName = filterTree(tree, "DEEP");
    expect(byName?.matches).toEqual(["vgg16/inner/deep", "vgg16/inner/deep_bn"]);
    expect([...(byName?.shown ?? [])].sort()).toEqual(
      ["vgg16", "vgg16/inner", "vgg16/inner/deep", "vgg16/inner/deep_bn"].sort(),
    );
    const byType = filterTree(tree, " batchnorm ");
    expect(byType?.matches).toEqual(["vgg16/inner/deep_bn"]);
    expect(filterTree(tree, "dense")?.matches).toEqual(["dense_logits"]);
    expect(filterTree(tree, "zzz")?.matches).toEqual([]);
  });

  it("moves only among the rows it shows, with nothing to fold", () => {
    const shown = filterTree(tree, "deep")?.shown ?? null;
    const none = new Set<string>();
    expect(names(visibleRows(tree, none, shown))).toEqual([
      "vgg16",
      "vgg16/inner",
      "vgg16/inner/deep",
      "vgg16/inner/deep_bn",
    ]);
    expect(treeMove(tree, none, "vgg16/inner/deep", "ArrowDown", shown)).toEqual({
      select: "vgg16/inner/deep_bn",
    });
    // The parents are drawn open: right goes into them, left goes up, never folds.
    expect(treeMove(tree, none, "vgg16", "ArrowRight", shown)).toEqual({ select: "vgg16/inner" });
    expect(treeMove(tree, none, "vgg16/inner", "ArrowLeft", shown)).toEqual({ select: "vgg16" });
    expect(treeMove(tree, none, "vgg16", "ArrowLeft", shown)).toEqual({});
    // A selection the filter hides: any key lands on an end of what is shown.
    expect(treeMove(tree, none, "flatten", "ArrowDown", shown)).toEqual({ select: "vgg16" });
    expect(treeMove(tree, none, "flatten", "End", shown)).toEqual({
      select: "vgg16/inner/deep_bn",
    });
    expect(treeMove(tree, none, "flatten", "ArrowDown", new Set())).toEqual({});
  });
});
