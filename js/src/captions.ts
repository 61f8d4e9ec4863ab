// The caption above a result, in the interface's language. The kernel's caption is English;
// for other languages it is rebuilt here from the numbers that came with the picture.

import { formatShape } from "./format";
import { t } from "./i18n";
import type { Lang } from "./protocol";
import type { StoredResult } from "./state";

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function captionFromNumbers(result: StoredResult, lang: Lang): string | null {
  const meta = result.image;
  const data = result.data;
  const shape = meta.true_shape;
  switch (meta.kind) {
    case "mosaic": {
      const [h, w, c] = shape;
      if (h === undefined || w === undefined || c === undefined) return null;
      let text = t(lang, "capMosaic", { c, shape: formatShape([h, w]) });
      if (meta.downsample > 1) {
        const tile = formatShape([meta.tile_height, meta.tile_width]);
        text += t(lang, "capTiles", { tile, f: meta.downsample });
      }
      return text;
    }
    case "strip":
      return t(lang, "capStrip", { n: meta.channels, shape: formatShape(shape) });
    case "kernels": {
      const size = formatShape(shape.slice(0, 2));
      let text = t(lang, "capKernels", { n: meta.channels, size });
      const inChannels = meta.in_channels ?? 1;
      if (meta.tiles === "filters" && inChannels > 1) {
        const inChannel =
          typeof result.options["in_channel"] === "number" ? result.options["in_channel"] : 0;
        text += t(lang, "capInChannel", { i: inChannel, of: inChannels });
      }
      return text;
    }
    case "matrix":
      return t(lang, "capMatrix", { shape: formatShape(shape) });
    case "patterns":
      if (meta.step === undefined || meta.steps === undefined) return null;
      return t(lang, "capPatterns", { n: meta.channels, step: meta.step, steps: meta.steps });
    default: {
      const name = str(data["class_name"]);
      if (name === null) return null;
      // Saliency results name their method too ("gradients", ...); only a CAM is captioned so.
      const method = "saliency_method" in result.options ? null : str(data["method"]);
      return method === null
        ? t(lang, "capSaliency", { name })
        : t(lang, "capCam", { method, name });
    }
  }
}

/** The caption to show: the kernel's own in English, rebuilt from numbers otherwise. */
export function captionFor(result: StoredResult | null | undefined, lang: Lang): string {
  if (!result) return "";
  if (lang === "en") return result.caption;
  return captionFromNumbers(result, lang) ?? result.caption;
}

/** The translation of every warning code the kernel sends (``WARNING_CODES`` in Python). */
export const NOTE_KEYS = {
  nan: "noteNan",
  inf: "noteInf",
  constant_channels: "noteConstant",
  equal_values: "noteEqual",
  nonfinite_patterns: "noteNonfinite",
  nonfinite_images: "noteNonfiniteImages",
  zero_cam: "noteZeroCam",
  zero_weights: "noteZeroWeights",
  clipped_weights: "noteClipped",
} as const;

/** The warnings to show: the kernel's English text, or rebuilt from their codes. */
export function warningsFor(result: StoredResult | null | undefined, lang: Lang): string[] {
  if (!result) return [];
  if (lang === "en") return result.warnings;
  return result.warnings.map((text, i) => {
    const note = result.warningCodes[i];
    const code = note ? note["code"] : undefined;
    if (typeof code !== "string" || !(code in NOTE_KEYS)) return text;
    const params: Record<string, string | number> = {};
    for (const [name, value] of Object.entries(note ?? {})) {
      if (typeof value === "number" || typeof value === "string") params[name] = value;
    }
    if (code === "constant_channels" && params["n"] === params["of"]) {
      return t(lang, "noteConstantAll");
    }
    return t(lang, NOTE_KEYS[code as keyof typeof NOTE_KEYS], params);
  });
}
