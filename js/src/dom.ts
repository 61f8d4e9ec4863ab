// Small DOM helpers. Text always goes through textContent: layer names, types and
// captions come from the kernel and may contain markup.

type Attrs = Record<string, string | number | boolean | null | undefined>;

/** An element with attributes (false/null/undefined are left out) and optional text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function setAttrs(node: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) node.removeAttribute(name);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

/**
 * PNGs up to this size are shown from a `data:` URL, bigger ones from a Blob's object URL.
 * Making a Blob and its URL asks the browser's process for it (a millisecond or more per
 * picture, measured on every click); encoding a small PNG in base64 takes a fraction of that.
 */
export const DATA_URL_MAX_BYTES = 64 * 1024;

/** A URL that shows PNG bytes; the caller hands it to `revokeUrl` when done with it. */
export function pngUrl(png: Uint8Array): string {
  if (png.byteLength <= DATA_URL_MAX_BYTES) {
    let text = "";
    for (let i = 0; i < png.byteLength; i += 0x8000) {
      text += String.fromCharCode(...png.subarray(i, i + 0x8000));
    }
    return `data:image/png;base64,${btoa(text)}`;
  }
  // Blob wants an ArrayBuffer-backed view; the bytes were copied into one by toBytes.
  return URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: "image/png" }));
}

/** Frees what `pngUrl` made (an object URL; a `data:` URL holds nothing to free). */
export function revokeUrl(url: string): void {
  if (url.startsWith("blob:")) URL.revokeObjectURL(url);
}

let counter = 0;

/** A prefix for element ids, unique per view, so two views on one page never share an id. */
export function uniqueId(base: string): string {
  counter += 1;
  return `${base}-${counter}`;
}
