// The frontend read against real kernel messages: js/src/fixtures/protocol.json is written by
// tests/test_protocol.py from a real explorer, so a field or list that one side changes and
// the other does not fails here or there.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { NOTE_KEYS, warningsFor } from "./captions";
import { ERROR_STRINGS, errorText, rejectedText } from "./errorStrings";
import { t } from "./i18n";
import {
  CAM_METHODS,
  IMAGE_KINDS,
  LAYER_KINDS,
  MESSAGE_KINDS,
  parseKernelMessage,
  parseRejected,
  readImageMeta,
  type RejectedMessage,
  SYNCED_TRAITS,
  VIEW_OPTIONS,
  VIEWS,
} from "./protocol";
import { NOTICE, ResultStore } from "./state";
import { readExplainData, readWeightsData } from "./viewData";

type Raw = Record<string, unknown>;
const fixture = JSON.parse(
  // Read from the repository root, where vitest runs (happy-dom gives no file: URLs).
  readFileSync(resolve(process.cwd(), "js/src/fixtures/protocol.json"), "utf-8"),
) as { lists: Raw; messages: Record<string, Raw> };
const { lists, messages } = fixture;

function buffersOf(message: Raw): DataView[] {
  const encoded = (message["$buffers"] as string[] | undefined) ?? [];
  return encoded.map((text) => new DataView(Uint8Array.from(Buffer.from(text, "base64")).buffer));
}

function wire(message: Raw): Raw {
  const { $buffers: _, ...rest } = message;
  return rest;
}

describe("the shared lists equal the kernel's", () => {
  it("views, options, kinds, methods, messages and traits", () => {
    expect([...VIEWS]).toEqual(lists.views);
    expect(VIEW_OPTIONS).toEqual(lists.view_options);
    expect([...LAYER_KINDS]).toEqual(lists.layer_kinds);
    expect([...IMAGE_KINDS]).toEqual(lists.image_kinds);
    expect([...CAM_METHODS]).toEqual(lists.cam_methods);
    expect([...MESSAGE_KINDS]).toEqual(lists.message_kinds);
    expect([...SYNCED_TRAITS]).toEqual(lists.synced_traits);
  });

  it("every warning code is translated, with the numbers it carries", () => {
    const codes = lists.warning_codes as Record<string, string[]>;
    expect(Object.keys(NOTE_KEYS).sort()).toEqual(Object.keys(codes).sort());
    for (const [code, params] of Object.entries(codes)) {
      const values = Object.fromEntries(params.map((p) => [p, 7]));
      const text = t("ko", NOTE_KEYS[code as keyof typeof NOTE_KEYS], values);
      expect(text).not.toMatch(/\{\w+\}/); // every placeholder filled
    }
  });
});

describe("error codes", () => {
  it("every error code is translated, with the values it carries", () => {
    const codes = lists.error_codes as Record<string, string[]>;
    for (const table of Object.values(ERROR_STRINGS)) {
      expect(Object.keys(table).sort()).toEqual(Object.keys(codes).sort());
    }
    for (const [code, params] of Object.entries(codes)) {
      const values = Object.fromEntries(params.map((p) => [p, 7]));
      const text = errorText("ko", "English", { code, params: values });
      expect(text).not.toMatch(/\{\w+\}/); // every placeholder filled
      expect(text).not.toContain("English");
    }
  });

  it("a message without a code keeps its text inside a Korean sentence", () => {
    expect(errorText("ko", "ResourceExhaustedError: OOM")).toBe(
      "계산하지 못했습니다: ResourceExhaustedError: OOM",
    );
  });
});

describe("real messages parse with the frontend's own code", () => {
  for (const [name, message] of Object.entries(messages)) {
    if (message.type === "rejected") continue;
    it(`${name}: every field the kernel sends is read, none is invented`, () => {
      const raw = wire(message);
      const parsed = parseKernelMessage(raw) as unknown as Raw | null;
      expect(parsed).not.toBeNull();
      expect(Object.keys(parsed ?? {}).sort()).toEqual(Object.keys(raw).sort());
      for (const meta of (raw.images as Raw[] | undefined) ?? []) {
        expect(Object.keys(readImageMeta(meta)).sort()).toEqual(Object.keys(meta).sort());
      }
    });
  }

  it("results go into the store with every PNG", () => {
    for (const message of Object.values(messages)) {
      if (message.type !== "result") continue;
      const store = new ResultStore();
      expect(store.receive(wire(message), buffersOf(message))).toBe(true);
      const key = `${message.layer}|${message.view}|${message.sample}`;
      const entry = store.get(key);
      expect(entry?.status).toBe(message.final ? "ready" : "partial");
      const pngs = entry?.result?.pngs ?? [];
      expect(pngs).toHaveLength((message.images as unknown[]).length);
      for (const png of pngs) expect([...png.slice(1, 4)]).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    }
  });

  it("view numbers are read by the views' readers", () => {
    const weights = readWeightsData(messages.weights?.data as Raw);
    expect(weights.histogram?.edges.length).toBeGreaterThan(1);
    expect(weights.filter?.rows.length).toBe(3);
    expect(weights.kernelShape).toEqual([3, 3, 32, 64]);
    const cam = readExplainData(messages.gradcam?.data as Raw);
    expect(cam.predictions).toHaveLength(5);
    expect(cam.channelWeights.length).toBe(cam.channels);
    expect(cam.method).toBe("gradcam");
    expect(readExplainData(messages.saliency?.data as Raw).predictions).toHaveLength(5);
  });

  it("an error reaches the store as an error", () => {
    const error = messages.error as Raw;
    const store = new ResultStore();
    store.receive(wire(error));
    expect(store.get(`${error.layer}|${error.view}|${error.sample}`)?.status).toBe("error");
  });

  it("a refused value becomes the store's one-line notice", () => {
    const rejected = messages.rejected as Raw;
    expect(parseRejected(rejected)?.trait).toBe("sample");
    const store = new ResultStore();
    const heard: string[] = [];
    store.subscribe((key) => heard.push(key));
    store.receive(rejected);
    expect(heard).toEqual([NOTICE]);
    expect(store.notice?.message).toMatch(/sample must be between 0 and 2/);
    expect(Object.keys(parseRejected(rejected) ?? {}).sort()).toEqual(Object.keys(rejected).sort());
  });

  it("errors and refusals are said in Korean, from their codes", () => {
    const error = messages.error as Raw;
    const parsed = parseKernelMessage(wire(error));
    expect(parsed?.type).toBe("error");
    if (parsed?.type !== "error") return;
    expect(parsed.code).toBe("no_weights");
    expect(errorText("en", parsed.message, parsed)).toBe(error.message);
    const korean = errorText("ko", parsed.message, parsed);
    expect(korean).toContain("가중치");
    expect(korean).toContain(String(parsed.params?.layer));
    const rejected = parseRejected(messages.rejected as Raw);
    expect(rejected?.code).toBe("sample_range");
    expect(rejectedText("ko", rejected as RejectedMessage)).toBe(
      "sample은 0부터 2 사이여야 하는데 7입니다.",
    );
  });

  it("warnings of real results translate", () => {
    const store = new ResultStore();
    const message = messages.activations as Raw;
    store.receive(wire(message), buffersOf(message));
    const result = store.get(`${message.layer}|${message.view}|${message.sample}`)?.result;
    expect(warningsFor(result, "ko")).toHaveLength((message.warnings as unknown[]).length);
  });
});
