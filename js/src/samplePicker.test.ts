import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, layer, mountOne, pngBytes } from "./fakeModel";

const SAMPLES = [0, 1, 2, 3].map((i) => ({ thumbnail: pngBytes(i), caption: `#${i}` }));

afterEach(() => {
  document.body.replaceChildren();
});

function buttons(root: HTMLElement): HTMLButtonElement[] {
  return [...root.querySelectorAll<HTMLButtonElement>("[data-role=sample] button")];
}

function key(target: Element, name: string): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key: name, bubbles: true, cancelable: true });
  target.dispatchEvent(event);
  return event;
}

describe("sample picker", () => {
  it("is one tab stop, on the pressed sample", async () => {
    const model = new FakeModel({ layers: [layer("conv1")], layer: "conv1", samples: SAMPLES });
    const { root } = await mountOne(model);
    expect(buttons(root).map((b) => b.tabIndex)).toEqual([0, -1, -1, -1]);
    model.set("sample", 2);
    expect(buttons(root).map((b) => b.tabIndex)).toEqual([-1, -1, 0, -1]);
  });

  it("moves the selection and the focus with the arrow keys, Home and End", async () => {
    const model = new FakeModel({ layers: [layer("conv1")], layer: "conv1", samples: SAMPLES });
    const { root } = await mountOne(model);
    const [first] = buttons(root);
    first?.focus();
    const right = key(first as HTMLElement, "ArrowRight");
    expect(right.defaultPrevented).toBe(true);
    expect(model.get("sample")).toBe(1);
    expect(model.saved.at(-1)?.sample).toBe(1);
    expect(document.activeElement).toBe(buttons(root)[1]);
    key(document.activeElement as HTMLElement, "End");
    expect(model.get("sample")).toBe(3);
    key(document.activeElement as HTMLElement, "ArrowRight");
    expect(model.get("sample")).toBe(3);
    key(document.activeElement as HTMLElement, "Home");
    expect(model.get("sample")).toBe(0);
    expect(buttons(root)[0]?.getAttribute("aria-pressed")).toBe("true");
    expect(key(document.activeElement as HTMLElement, "x").defaultPrevented).toBe(false);
    expect(
      root.querySelector("[data-role=sample]")?.getAttribute("data-lm-suppress-shortcuts"),
    ).toBe("true");
  });
});
