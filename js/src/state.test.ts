import { describe, expect, it } from "vitest";
import { imageMeta, pngBytes, resultMessage } from "./fakeModel";
import { selectionKey } from "./protocol";
import {
  imageByRole,
  MAX_RESULTS,
  needsRefresh,
  ResultStore,
  resolveDisplay,
  snapshotEntry,
} from "./state";

const KEY = selectionKey("conv1", "activations", 0);

function pending(id: number, layer = "conv1"): Record<string, unknown> {
  return { type: "pending", id, layer, view: "activations", sample: 0 };
}

function error(id: number, layer = "conv1"): Record<string, unknown> {
  return { type: "error", id, layer, view: "activations", sample: 0, message: `failed ${id}` };
}

describe("ResultStore", () => {
  it("goes pending -> ready for one request", () => {
    const store = new ResultStore();
    store.receive(pending(1));
    expect(resolveDisplay(store.get(KEY), undefined, KEY).state).toBe("loading");
    store.receive(resultMessage(1, "conv1"), [pngBytes()]);
    const display = resolveDisplay(store.get(KEY), undefined, KEY);
    expect(display.state).toBe("ready");
    expect(display.result?.caption).toBe("32 channels, 26 × 26");
    expect(display.result?.image.cols).toBe(8);
    expect([...(display.result?.png ?? [])].slice(0, 4)).toEqual([137, 80, 78, 71]);
  });

  it("accepts the PNG as ArrayBuffer as well as DataView", () => {
    const store = new ResultStore();
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    expect(store.receive(resultMessage(1, "conv1"), [buffer])).toBe(true);
    expect([...(store.get(KEY)?.result?.png ?? [])]).toEqual([1, 2, 3]);
  });

  it("never lets an older id replace a newer one", () => {
    const store = new ResultStore();
    store.receive(pending(5));
    expect(store.receive(resultMessage(4, "conv1"), [pngBytes()])).toBe(false);
    expect(store.receive(error(3))).toBe(false);
    expect(store.get(KEY)?.status).toBe("pending");
    store.receive(resultMessage(5, "conv1"), [pngBytes()]);
    expect(store.receive(pending(5))).toBe(false);
    expect(store.get(KEY)?.status).toBe("ready");
  });

  it("keys results by layer, view and sample", () => {
    const store = new ResultStore();
    store.receive(resultMessage(1, "conv2"), [pngBytes()]);
    store.receive(resultMessage(2, "conv1", { sample: 1 }), [pngBytes()]);
    expect(store.get(KEY)).toBeUndefined();
    expect(store.get(selectionKey("conv2", "activations", 0))?.status).toBe("ready");
    expect(store.get(selectionKey("conv1", "activations", 1))?.status).toBe("ready");
  });

  it("keeps the last image, marked stale, while a newer request is pending", () => {
    const store = new ResultStore();
    store.receive(resultMessage(1, "conv1"), [pngBytes()]);
    store.receive(pending(2));
    const display = resolveDisplay(store.get(KEY), undefined, KEY);
    expect(display).toMatchObject({ state: "loading", stale: true });
    expect(display.result?.id).toBe(1);
  });

  it("shows a streamed (non-final) image as still loading", () => {
    const store = new ResultStore();
    store.receive(resultMessage(1, "conv1", { final: false }), [pngBytes(1)]);
    expect(resolveDisplay(store.get(KEY), undefined, KEY)).toMatchObject({
      state: "loading",
      stale: false,
    });
    store.receive(resultMessage(1, "conv1"), [pngBytes(2)]);
    expect(resolveDisplay(store.get(KEY), undefined, KEY).state).toBe("ready");
  });

  it("turns an error into the error state, and a later request clears it", () => {
    const store = new ResultStore();
    store.receive(error(1));
    expect(resolveDisplay(store.get(KEY), undefined, KEY)).toMatchObject({
      state: "error",
      message: "failed 1",
    });
    store.receive(pending(2));
    expect(resolveDisplay(store.get(KEY), undefined, KEY).state).toBe("loading");
  });

  it("reports a result without image bytes as an error instead of drawing nothing", () => {
    const store = new ResultStore();
    store.receive(resultMessage(1, "conv1"), []);
    expect(resolveDisplay(store.get(KEY), undefined, KEY)).toMatchObject({
      state: "error",
      reason: "noImage",
    });
  });

  it("ignores messages it does not understand", () => {
    const store = new ResultStore();
    expect(store.receive(null)).toBe(false);
    expect(store.receive({ type: "result", id: "7" })).toBe(false);
    expect(store.receive({ ...pending(1), type: "progress" })).toBe(false);
    expect(store.size).toBe(0);
  });

  it(`keeps at most ${MAX_RESULTS} results, and an evicted key still refuses older ids`, () => {
    const store = new ResultStore();
    store.receive(pending(100));
    for (let i = 0; i < MAX_RESULTS + 8; i++) {
      store.receive(resultMessage(200 + i, `layer${i}`), [pngBytes()]);
    }
    expect(store.size).toBe(MAX_RESULTS);
    expect(store.get(KEY)).toBeUndefined();
    expect(store.receive(resultMessage(99, "conv1"), [pngBytes()])).toBe(false);
    expect(store.receive(resultMessage(100, "conv1"), [pngBytes()])).toBe(true);
  });

  it("tells subscribers which key changed", () => {
    const store = new ResultStore();
    const keys: string[] = [];
    const unsubscribe = store.subscribe((key) => keys.push(key));
    store.receive(pending(1));
    store.receive(pending(0));
    unsubscribe();
    store.receive(pending(2));
    expect(keys).toEqual([KEY]);
  });
});

describe("snapshot", () => {
  const snapshot = {
    ...resultMessage(9, "conv1", { image: imageMeta({ cols: 4 }) }),
    pngs: [pngBytes()],
  };

  it("is used only for its own key", () => {
    expect(snapshotEntry(snapshot, KEY)?.result?.image.cols).toBe(4);
    expect(snapshotEntry(snapshot, selectionKey("conv2", "activations", 0))).toBeUndefined();
    expect(snapshotEntry({}, KEY)).toBeUndefined();
  });

  it("fills in when the store knows nothing, and live results win over it", () => {
    expect(resolveDisplay(undefined, snapshot, KEY).state).toBe("ready");
    const store = new ResultStore();
    store.receive(error(10));
    expect(resolveDisplay(store.get(KEY), snapshot, KEY).state).toBe("error");
  });

  it("shows an error the kernel left in the snapshot", () => {
    const failed = { ...error(3), layer: "conv1" };
    expect(resolveDisplay(undefined, failed, KEY)).toMatchObject({
      state: "error",
      message: "failed 3",
    });
    expect(needsRefresh(undefined, failed, KEY)).toBe(false);
  });

  it("decides whether a new view has to ask the kernel", () => {
    const store = new ResultStore();
    expect(needsRefresh(undefined, {}, KEY)).toBe(true);
    expect(needsRefresh(undefined, snapshot, KEY)).toBe(false);
    store.receive(pending(1));
    expect(needsRefresh(store.get(KEY), {}, KEY)).toBe(false);
  });
});

describe("results with several images", () => {
  it("pairs each image with its buffer, by role", () => {
    const store = new ResultStore();
    const images = [
      { ...imageMeta(), role: "trained" },
      { ...imageMeta({ kind: "kernels" }), role: "baseline" },
    ];
    store.receive(
      resultMessage(1, "conv1", {
        image: images[0],
        images,
        data: { vmax: 0.3 },
        options: { channel: 2 },
      }),
      [pngBytes(1), pngBytes(2)],
    );
    const result = store.get(KEY)?.result;
    expect(result?.images.map((m) => m.role)).toEqual(["trained", "baseline"]);
    expect(result?.pngs.map((p) => p[8])).toEqual([1, 2]);
    expect(result?.data).toEqual({ vmax: 0.3 });
    expect(result?.options).toEqual({ channel: 2 });
    expect(result && imageByRole(result, "baseline")?.png[8]).toBe(2);
    expect(result?.images[1]?.kind).toBe("kernels");
  });

  it("leaves out an image whose buffer is missing, but needs the first", () => {
    const store = new ResultStore();
    const images = [
      { ...imageMeta(), role: "image" },
      { ...imageMeta(), role: "heatmap" },
    ];
    store.receive(resultMessage(1, "conv1", { images }), [pngBytes()]);
    expect(store.get(KEY)?.result?.images.map((m) => m.role)).toEqual(["image"]);
    store.receive(resultMessage(2, "conv1", { images }), [null, pngBytes()]);
    expect(store.get(KEY)?.status).toBe("error");
  });

  it("reads every PNG of a snapshot, and gives the same entry for the same snapshot", () => {
    const images = [
      { ...imageMeta(), role: "image" },
      { ...imageMeta(), role: "heatmap" },
    ];
    const snapshot = {
      ...resultMessage(4, "conv1", { images, data: { class_index: 3 } }),
      pngs: [pngBytes(1), pngBytes(2)],
    };
    const entry = snapshotEntry(snapshot, KEY);
    expect(entry?.result?.pngs).toHaveLength(2);
    expect(entry?.result?.data).toEqual({ class_index: 3 });
    expect(snapshotEntry(snapshot, KEY)).toBe(entry);
  });
});
