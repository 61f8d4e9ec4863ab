import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, layer, mountOne } from "./fakeModel";
import {
  clampWidth,
  LIST_WIDTH_VAR,
  MIN_LIST,
  MIN_PANEL,
  STEP,
  STEP_LARGE,
  Splitter,
} from "./splitter";

afterEach(() => {
  document.body.replaceChildren();
});

/** A host grid `width` px wide holding a pane `paneWidth` px wide (happy-dom lays nothing out). */
function setup(width: number, paneWidth: number): { host: HTMLElement; splitter: Splitter } {
  const host = document.createElement("div");
  const pane = document.createElement("div");
  host.append(pane);
  document.body.append(host);
  host.getBoundingClientRect = () => ({ width }) as DOMRect;
  pane.getBoundingClientRect = () => ({ width: paneWidth }) as DOMRect;
  const splitter = new Splitter({ pane, signal: new AbortController().signal });
  return { host, splitter };
}

function key(target: Element, name: string, shiftKey = false): KeyboardEvent {
  const event = new KeyboardEvent("keydown", {
    key: name,
    shiftKey,
    bubbles: true,
    cancelable: true,
  });
  target.dispatchEvent(event);
  return event;
}

function pointer(target: Element, type: string, clientX: number): void {
  const event = new MouseEvent(type, { clientX, button: 0, bubbles: true, cancelable: true });
  Object.defineProperty(event, "pointerId", { value: 1 });
  target.dispatchEvent(event);
}

describe("splitter", () => {
  it("keeps the list between its minimum and what leaves the panel its room", () => {
    expect(clampWidth(10, 1000)).toBe(MIN_LIST);
    expect(clampWidth(500.4, 1000)).toBe(500);
    expect(clampWidth(5000, 1000)).toBe(1000 - MIN_PANEL);
    expect(clampWidth(300, 200)).toBe(MIN_LIST);
  });

  it("is a focusable vertical separator with a label, put on the pane's edge", () => {
    const { splitter } = setup(1000, 300);
    const el = splitter.element;
    expect(el.getAttribute("role")).toBe("separator");
    expect(el.getAttribute("aria-orientation")).toBe("vertical");
    expect(el.tabIndex).toBe(0);
    expect(el.getAttribute("aria-label")).toContain("Resize the layer list");
    expect(el.parentElement?.parentElement).not.toBeNull();
    splitter.setLang("ko");
    expect(el.getAttribute("aria-label")).toContain("레이어 목록");
  });

  it("moves with the arrow keys and sets the width variable on the host", () => {
    const { host, splitter } = setup(1000, 300);
    const el = splitter.element;
    expect(splitter.width).toBeNull();
    const right = key(el, "ArrowRight");
    expect(right.defaultPrevented).toBe(true);
    expect(host.style.getPropertyValue(LIST_WIDTH_VAR)).toBe(`${300 + STEP}px`);
    expect(el.getAttribute("aria-valuenow")).toBe(String(300 + STEP));
    key(el, "ArrowLeft", true);
    expect(splitter.width).toBe(300 + STEP - STEP_LARGE);
    key(el, "End");
    expect(splitter.width).toBe(1000 - MIN_PANEL);
    key(el, "Home");
    expect(splitter.width).toBe(MIN_LIST);
    // Enter (and a double click) hands the width back to CSS.
    key(el, "Enter");
    expect(splitter.width).toBeNull();
    expect(host.style.getPropertyValue(LIST_WIDTH_VAR)).toBe("");
    expect(key(el, "a").defaultPrevented).toBe(false);
  });

  it("follows a drag and resets on double click", () => {
    const { host, splitter } = setup(1000, 300);
    const el = splitter.element;
    pointer(el, "pointerdown", 500);
    expect(el.classList.contains("is-dragging")).toBe(true);
    pointer(el, "pointermove", 620);
    expect(host.style.getPropertyValue(LIST_WIDTH_VAR)).toBe("420px");
    pointer(el, "pointermove", 100);
    expect(splitter.width).toBe(MIN_LIST);
    pointer(el, "pointerup", 100);
    expect(el.classList.contains("is-dragging")).toBe(false);
    // Moves after the button is released do nothing.
    pointer(el, "pointermove", 900);
    expect(splitter.width).toBe(MIN_LIST);
    el.dispatchEvent(new MouseEvent("dblclick", { bubbles: true }));
    expect(splitter.width).toBeNull();
  });

  it("sits in the widget's layer pane and resizes the body's grid", async () => {
    const model = new FakeModel({ layers: [layer("conv1")], layer: "conv1" });
    const { root } = await mountOne(model);
    const handle = root.querySelector<HTMLElement>("[data-role=splitter]");
    expect(handle?.parentElement?.classList.contains("cnnviz-layer-pane")).toBe(true);
    const body = root.querySelector<HTMLElement>(".cnnviz-body");
    expect(handle?.parentElement?.parentElement).toBe(body);
    if (!handle || !body) throw new Error("no splitter");
    key(handle, "ArrowRight");
    expect(body.style.getPropertyValue(LIST_WIDTH_VAR)).toMatch(/^\d+px$/);
  });
});
