import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, layer, mountOne } from "./fakeModel";

afterEach(() => {
  document.body.replaceChildren();
});

describe("view tabs", () => {
  it("switch with the arrow keys, keep them from JupyterLab, and have one tab stop", async () => {
    const model = new FakeModel({
      layers: [layer("conv1")],
      layer: "conv1",
      views: ["activations", "weights", "gradcam"],
    });
    const { root } = await mountOne(model);
    const list = root.querySelector<HTMLElement>("[role=tablist]");
    expect(list?.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    const tabs = [...root.querySelectorAll<HTMLElement>("[role=tab]")];
    expect(tabs.map((t) => t.tabIndex)).toEqual([0, -1, -1]);
    let bubbled = 0;
    root.addEventListener("keydown", () => (bubbled += 1));
    tabs[0]?.focus();
    const event = new KeyboardEvent("keydown", {
      key: "ArrowRight",
      bubbles: true,
      cancelable: true,
    });
    tabs[0]?.dispatchEvent(event);
    expect(event.defaultPrevented).toBe(true);
    expect(bubbled).toBe(0);
    expect(model.get("view")).toBe("weights");
    expect(document.activeElement).toBe(tabs[1]);
    expect(tabs.map((t) => t.tabIndex)).toEqual([-1, 0, -1]);
  });

  it("labels a view this build knows by name, and a newer one by its own name", async () => {
    const model = new FakeModel({
      layers: [layer("conv1")],
      layer: "conv1",
      views: ["activations", "examples", "future_view"],
    });
    const { root } = await mountOne(model);
    const labels = [...root.querySelectorAll("[role=tab]")].map((t) => t.textContent);
    expect(labels).toEqual(["Feature maps", "Top images", "future_view"]);
  });
});
