import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, layer, mountOne } from "./fakeModel";

const LAYERS = [
  layer("input_1", {
    kind: "input",
    type: "InputLayer",
    output_shape: [null, 28, 28, 1],
    params: 0,
  }),
  layer("vgg16", {
    kind: "model",
    type: "Functional",
    output_shape: [null, 7, 7, 512],
    params: 14714688,
  }),
  layer("vgg16/block1_conv1", {
    parent: "vgg16",
    output_shape: [null, 224, 224, 64],
    params: 1792,
  }),
  layer("vgg16/block1_conv2", { parent: "vgg16", params: 36928 }),
  layer("dense", {
    kind: "dense",
    type: "Dense",
    output_shape: [null, 10],
    params: 5130,
    trainable: false,
  }),
];

function rows(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>("[role=treeitem]")];
}

function visible(root: HTMLElement): string[] {
  return rows(root)
    .filter((r) => !r.hidden)
    .map((r) => r.dataset.layer ?? "");
}

function row(root: HTMLElement, name: string): HTMLElement {
  const found = rows(root).find((r) => r.dataset.layer === name);
  if (!found) throw new Error(`no row ${name}`);
  return found;
}

function press(root: HTMLElement, key: string): void {
  const tree = root.querySelector("[role=tree]");
  tree?.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("layer list", () => {
  it("draws one row per layer with name, type, shape and params", async () => {
    const model = new FakeModel({ layers: LAYERS, model_name: "mnist_cnn" });
    const { root } = await mountOne(model);
    expect(rows(root).map((r) => r.dataset.layer)).toEqual(LAYERS.map((l) => l.name));
    const dense = row(root, "dense");
    expect(dense.querySelector(".cnnviz-name")?.textContent).toBe("dense");
    expect(dense.querySelector(".cnnviz-type")?.textContent).toBe("Dense");
    expect(dense.querySelector(".cnnviz-shape")?.textContent).toBe("10");
    expect(dense.querySelector(".cnnviz-params")?.textContent).toBe("5,130");
    expect(row(root, "vgg16").querySelector(".cnnviz-params")?.textContent).toBe("14,714,688");
    expect(root.querySelector(".cnnviz-header")?.textContent).toContain("mnist_cnn");
    expect(root.querySelector(".cnnviz-count")?.textContent).toBe("5 layers");
  });

  it("folds sub-models at first and unfolds them with the toggle", async () => {
    const model = new FakeModel({ layers: LAYERS });
    const { root } = await mountOne(model);
    expect(visible(root)).toEqual(["input_1", "vgg16", "dense"]);
    const toggle = row(root, "vgg16").querySelector<HTMLElement>("[data-role=toggle]");
    expect(toggle?.getAttribute("aria-expanded")).toBe("false");
    toggle?.click();
    expect(visible(root)).toHaveLength(5);
    expect(toggle?.getAttribute("aria-expanded")).toBe("true");
    expect(row(root, "vgg16").getAttribute("aria-expanded")).toBe("true");
    expect(row(root, "vgg16/block1_conv1").querySelector(".cnnviz-label")?.textContent).toBe(
      "block1_conv1",
    );
    // Folding is not selecting.
    expect(model.saved).toHaveLength(0);
    toggle?.click();
    expect(visible(root)).toEqual(["input_1", "vgg16", "dense"]);
  });

  it("unfolds the parents of the selected layer, also when Python selects it", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "vgg16/block1_conv2" });
    const { root } = await mountOne(model);
    expect(visible(root)).toContain("vgg16/block1_conv2");
    row(root, "vgg16").querySelector<HTMLElement>("[data-role=toggle]")?.click();
    expect(visible(root)).not.toContain("vgg16/block1_conv1");
    model.set("layer", "vgg16/block1_conv1");
    expect(visible(root)).toContain("vgg16/block1_conv1");
    expect(row(root, "vgg16/block1_conv1").getAttribute("aria-selected")).toBe("true");
  });

  it("selects a layer on click and sends it to the kernel", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "input_1" });
    const { root } = await mountOne(model);
    row(root, "dense").click();
    expect(model.get("layer")).toBe("dense");
    expect(model.saved.at(-1)?.layer).toBe("dense");
    expect(row(root, "dense").getAttribute("aria-selected")).toBe("true");
    expect(row(root, "input_1").getAttribute("aria-selected")).toBe("false");
    expect(root.querySelectorAll("[aria-selected=true][role=treeitem]")).toHaveLength(1);
  });

  it("moves the selection with the keyboard among visible rows", async () => {
    const model = new FakeModel({ layers: LAYERS, layer: "input_1" });
    const { root } = await mountOne(model);
    const tree = root.querySelector<HTMLElement>("[role=tree]");
    expect(tree?.tabIndex).toBe(0);
    press(root, "ArrowDown");
    expect(model.get("layer")).toBe("vgg16");
    expect(model.saved).toHaveLength(1);
    press(root, "ArrowRight");
    expect(visible(root)).toContain("vgg16/block1_conv1");
    expect(model.get("layer")).toBe("vgg16");
    press(root, "ArrowRight");
    expect(model.get("layer")).toBe("vgg16/block1_conv1");
    press(root, "ArrowLeft");
    expect(model.get("layer")).toBe("vgg16");
    press(root, "ArrowLeft");
    expect(visible(root)).toEqual(["input_1", "vgg16", "dense"]);
    press(root, "End");
    expect(model.get("layer")).toBe("dense");
    press(root, "Home");
    expect(model.get("layer")).toBe("input_1");
    press(root, "ArrowUp");
    expect(model.get("layer")).toBe("input_1");
    const selectedId = row(root, "input_1").id;
    expect(tree?.getAttribute("aria-activedescendant")).toBe(selectedId);
  });

  it("shows a hostile layer name as text", async () => {
    const evil = "<img src=x onerror=alert(1)>";
    const model = new FakeModel({
      layers: [layer(evil, { type: "<b>Conv</b>" })],
      layer: evil,
      model_name: "<script>alert(2)</script>",
    });
    const { root } = await mountOne(model);
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector("b, script")).toBeNull();
    expect(row(root, evil).querySelector(".cnnviz-label")?.textContent).toBe(evil);
    expect(root.querySelector("[data-panel]")?.getAttribute("data-layer")).toBe(evil);
    expect(root.querySelector(".cnnviz-caption-layer")?.textContent).toBe(evil);
  });

  it("rebuilds when the layers change, keeping fold state", async () => {
    const model = new FakeModel({ layers: LAYERS });
    const { root } = await mountOne(model);
    row(root, "vgg16").querySelector<HTMLElement>("[data-role=toggle]")?.click();
    model.set("layers", [...LAYERS, layer("softmax", { kind: "activation" })]);
    expect(visible(root)).toHaveLength(6);
    expect(root.querySelector(".cnnviz-count")?.textContent).toBe("6 layers");
  });
});
