import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, layer, mountOne, redrawn } from "./fakeModel";

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
    await redrawn();
    expect(row(root, "dense").getAttribute("aria-selected")).toBe("true");
    expect(row(root, "input_1").getAttribute("aria-selected")).toBe("false");
    expect(root.querySelectorAll("[aria-selected=true][role=treeitem]")).toHaveLength(1);
  });

  it("scrolls to a selection made elsewhere, not to a clicked row nor to one that stayed", async () => {
    const many = Array.from({ length: 40 }, (_, i) => layer(`conv${i}`));
    const model = new FakeModel({ layers: many, layer: "conv0" });
    const { root } = await mountOne(model);
    const box = root.querySelector<HTMLElement>(".cnnviz-layers");
    if (!box) throw new Error("no scroll box");
    // happy-dom lays nothing out: rows 20 px tall in a 100 px box.
    Object.defineProperty(box, "clientHeight", { value: 100, configurable: true });
    rows(root).forEach((r, i) => {
      Object.defineProperty(r, "offsetTop", { value: 20 * i, configurable: true });
      Object.defineProperty(r, "offsetHeight", { value: 20, configurable: true });
    });
    const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    model.set("layer", "conv30"); // from Python: scrolled to, at the next frame
    await frame();
    expect(box.scrollTop).toBe(520);
    // A click on conv3, which the made-up geometry puts above the box (a scroll would be
    // seen); drawn when the answer comes (here: REDRAW_AFTER_MS), and not scrolled to.
    row(root, "conv3").click();
    await redrawn();
    await frame();
    expect(row(root, "conv3").getAttribute("aria-selected")).toBe("true");
    expect(box.scrollTop).toBe(520);
    model.set("sample", 1); // the layer stays: the list stays where it was scrolled to
    await redrawn();
    await frame();
    expect(box.scrollTop).toBe(520);
    model.set("layer", "conv39");
    await frame();
    expect(box.scrollTop).toBe(39 * 20 + 20 - 100);
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

  it("puts each full name and type in a tooltip, however the cells are cut", async () => {
    const long = "blocks_10_depthwise_conv_with_a_long_name";
    const model = new FakeModel({ layers: [layer(long, { type: "DepthwiseConv2D" })] });
    const { root } = await mountOne(model);
    expect(row(root, long).querySelector(".cnnviz-name")?.getAttribute("title")).toBe(long);
    expect(row(root, long).querySelector(".cnnviz-type")?.getAttribute("title")).toBe(
      "DepthwiseConv2D",
    );
  });
});

// EfficientNet-style names: many similar rows, two types of interest.
const BIG = [
  layer("image", { kind: "input", type: "InputLayer" }),
  layer("stem_conv"),
  layer("blocks_0_depthwise_conv", { type: "DepthwiseConv2D" }),
  layer("blocks_0_depthwise_bn", { kind: "norm", type: "BatchNormalization" }),
  layer("blocks_1_expand_conv"),
  layer("blocks_1_depthwise_conv", { type: "DepthwiseConv2D" }),
  layer("backbone", { kind: "model", type: "Functional" }),
  layer("backbone/head_conv", { parent: "backbone" }),
  layer("backbone/head_bn", { parent: "backbone", kind: "norm", type: "BatchNormalization" }),
  layer("logits", { kind: "dense", type: "Dense" }),
];

function search(root: HTMLElement): HTMLInputElement {
  const input = root.querySelector<HTMLInputElement>("[data-role=layer-search]");
  if (!input) throw new Error("no search box");
  return input;
}

function typeInto(input: HTMLInputElement, text: string): void {
  input.value = text;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

function keyOn(target: Element, key: string): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
  target.dispatchEvent(event);
  return event;
}

describe("layer search", () => {
  it("filters by name, case-insensitively, and says how many match", async () => {
    const model = new FakeModel({ layers: BIG, layer: "stem_conv" });
    const { root } = await mountOne(model);
    const input = search(root);
    expect(input.getAttribute("aria-label")).toBe("Filter layers by name or type");
    typeInto(input, "DEPTHWISE");
    expect(visible(root)).toEqual([
      "blocks_0_depthwise_conv",
      "blocks_0_depthwise_bn",
      "blocks_1_depthwise_conv",
    ]);
    expect(root.querySelector("[data-role=search-count]")?.textContent).toBe("3 of 10");
    // Filtering is not selecting: the kernel hears nothing, the selection stays.
    expect(model.saved).toHaveLength(0);
    expect(row(root, "stem_conv").getAttribute("aria-selected")).toBe("true");
  });

  it("filters by type and keeps the parents of matches in view", async () => {
    const model = new FakeModel({ layers: BIG, layer: "image" });
    const { root } = await mountOne(model);
    // The sub-model is folded, yet its matching child is shown under it.
    expect(visible(root)).not.toContain("backbone/head_bn");
    typeInto(search(root), "batchnorm");
    expect(visible(root)).toEqual(["blocks_0_depthwise_bn", "backbone", "backbone/head_bn"]);
    expect(row(root, "backbone").classList.contains("is-match")).toBe(false);
    expect(row(root, "backbone/head_bn").classList.contains("is-match")).toBe(true);
    expect(row(root, "backbone").getAttribute("aria-expanded")).toBe("true");
    // Clearing gives the fold state back.
    typeInto(search(root), "  ");
    expect(visible(root)).not.toContain("backbone/head_bn");
    expect(root.querySelector("[data-role=search-count]")?.hasAttribute("hidden")).toBe(true);
  });

  it("clears on Escape, keeping the selection, and lets an empty Escape through", async () => {
    const model = new FakeModel({ layers: BIG, layer: "logits" });
    const { root } = await mountOne(model);
    const input = search(root);
    typeInto(input, "conv");
    expect(row(root, "logits").hidden).toBe(true);
    expect(row(root, "logits").getAttribute("aria-selected")).toBe("true");
    const escape = keyOn(input, "Escape");
    expect(escape.defaultPrevented).toBe(true);
    expect(input.value).toBe("");
    expect(visible(root)).toHaveLength(8);
    expect(row(root, "logits").hidden).toBe(false);
    expect(row(root, "logits").getAttribute("aria-selected")).toBe("true");
    expect(model.saved).toHaveLength(0);
    expect(keyOn(input, "Escape").defaultPrevented).toBe(false);
  });

  it("keeps its width while searching, so the panel does not jump", async () => {
    const model = new FakeModel({ layers: BIG, layer: "image" });
    const { root } = await mountOne(model);
    const pane = root.querySelector<HTMLElement>(".cnnviz-layer-pane");
    if (!pane) throw new Error("no pane");
    pane.getBoundingClientRect = () => ({ width: 412.3 }) as DOMRect;
    typeInto(search(root), "b");
    expect(pane.style.minWidth).toBe("413px");
    typeInto(search(root), "bn");
    expect(pane.style.minWidth).toBe("413px");
    typeInto(search(root), "");
    expect(pane.style.minWidth).toBe("");
    // Dragging the split while searching lets go of the held width.
    typeInto(search(root), "b");
    expect(pane.style.minWidth).toBe("413px");
    const handle = root.querySelector("[data-role=splitter]");
    handle?.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
    expect(pane.style.minWidth).toBe("");
  });

  it("says so when nothing matches", async () => {
    const model = new FakeModel({ layers: BIG, layer: "image" });
    const { root } = await mountOne(model);
    typeInto(search(root), "<b>nothing</b>");
    expect(visible(root)).toEqual([]);
    const none = root.querySelector("[data-role=no-match]");
    expect(none?.hasAttribute("hidden")).toBe(false);
    expect(none?.textContent).toBe("No layer matches “<b>nothing</b>”");
    expect(none?.querySelector("b")).toBeNull();
  });

  it("moves among the matches with the keyboard, from the box into the list", async () => {
    const model = new FakeModel({ layers: BIG, layer: "image" });
    const { root } = await mountOne(model);
    const input = search(root);
    const tree = root.querySelector<HTMLElement>("[role=tree]");
    input.focus();
    typeInto(input, "depthwise_conv");
    // Enter goes into the list and picks the first match (the selection was filtered out).
    keyOn(input, "Enter");
    expect(document.activeElement).toBe(tree);
    expect(model.get("layer")).toBe("blocks_0_depthwise_conv");
    press(root, "ArrowDown");
    expect(model.get("layer")).toBe("blocks_1_depthwise_conv");
    press(root, "ArrowDown");
    expect(model.get("layer")).toBe("blocks_1_depthwise_conv");
    press(root, "Home");
    expect(model.get("layer")).toBe("blocks_0_depthwise_conv");
    // Escape in the list clears the search too; the selection stays.
    press(root, "Escape");
    expect(input.value).toBe("");
    expect(model.get("layer")).toBe("blocks_0_depthwise_conv");
    press(root, "ArrowDown");
    expect(model.get("layer")).toBe("blocks_0_depthwise_bn");
  });

  it("starts a search when a letter is typed in the list", async () => {
    const model = new FakeModel({ layers: BIG, layer: "image" });
    const { root } = await mountOne(model);
    const tree = root.querySelector<HTMLElement>("[role=tree]");
    tree?.focus();
    const event = keyOn(tree as HTMLElement, "l");
    expect(event.defaultPrevented).toBe(true);
    expect(search(root).value).toBe("l");
    expect(document.activeElement).toBe(search(root));
    expect(visible(root)).toContain("logits");
  });

  it("keeps the search across a new layer list and in Korean", async () => {
    const model = new FakeModel({ layers: BIG, layer: "image", lang: "ko" });
    const { root } = await mountOne(model);
    const input = search(root);
    expect(input.placeholder).toBe("레이어 찾기");
    typeInto(input, "logits");
    expect(root.querySelector("[data-role=search-count]")?.textContent).toBe("10개 중 1개");
    model.set("layers", [...BIG, layer("logits_2", { kind: "dense", type: "Dense" })]);
    expect(visible(root)).toEqual(["logits", "logits_2"]);
  });

  it("keeps JupyterLab's shortcuts out of the list and the box", async () => {
    const model = new FakeModel({ layers: BIG, layer: "image" });
    const { root } = await mountOne(model);
    const pane = root.querySelector(".cnnviz-layer-pane");
    expect(pane?.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    expect(pane?.contains(search(root))).toBe(true);
    expect(pane?.contains(root.querySelector("[role=tree]"))).toBe(true);
  });
});
