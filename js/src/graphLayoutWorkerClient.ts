// Runs graph layouts in Web Workers made from a Blob URL of the inlined worker script
// (graphLayoutWorkerSource.ts). A worker does one layout at a time; an answered one waits
// idle for the next request a while, an abandoned one is stopped (terminate), which is how
// a newer layout cancels an older one still at work. Where workers cannot be had (no
// `Worker` or Blob URLs, the script not inlined, a content security policy that forbids
// blob: workers), the caller lays out on its own thread.

import type { GraphJson, LayoutData } from "./graphLayout";
import { WORKER_SOURCE } from "./graphLayoutWorkerSource";

export interface LayoutRequest {
  graph: GraphJson;
  collapsed: string[];
}

export type LayoutAnswer = { layout: LayoutData } | { error: string };

/** How long an idle worker is kept for the next layout (a fold, another view). */
const IDLE_MS = 30_000;

let url: string | null = null;
/** Set once a worker failed to start: from then on this page lays out on its thread. */
let unavailable = false;
let idle: { worker: Worker; timer: ReturnType<typeof setTimeout> } | null = null;

function newWorker(): Worker | null {
  if (unavailable || WORKER_SOURCE === "") return null;
  if (typeof Worker === "undefined" || typeof Blob === "undefined") return null;
  try {
    url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    return new Worker(url);
  } catch {
    unavailable = true; // a security error (CSP, sandbox) or no Blob URLs
    return null;
  }
}

function park(worker: Worker): void {
  if (idle !== null) {
    worker.terminate();
    return;
  }
  const timer = setTimeout(() => {
    if (idle?.worker === worker) idle = null;
    worker.terminate();
  }, IDLE_MS);
  idle = { worker, timer };
}

/**
 * Sends `request` to a worker. Null at once where there is no worker to be had; the promise
 * resolves to the worker's answer, to null when the worker failed (the caller then lays out
 * on its own thread), and rejects with the signal's reason when `signal` is aborted first.
 */
export function layoutInWorker(
  request: LayoutRequest,
  signal?: AbortSignal,
): Promise<LayoutAnswer | null> | null {
  let worker: Worker | null;
  let fresh = false;
  if (idle !== null) {
    clearTimeout(idle.timer);
    worker = idle.worker;
    idle = null;
  } else {
    worker = newWorker();
    fresh = true;
  }
  if (worker === null) return null;
  const running = worker;
  return new Promise<LayoutAnswer | null>((resolve, reject) => {
    const finish = () => {
      running.removeEventListener("message", onMessage);
      running.removeEventListener("error", onError);
      running.removeEventListener("messageerror", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const onMessage = (event: MessageEvent<LayoutAnswer>) => {
      finish();
      park(running);
      resolve(event.data);
    };
    const onError = (event: Event) => {
      event.preventDefault?.();
      finish();
      running.terminate();
      if (fresh) unavailable = true; // it never started: a page that forbids workers
      resolve(null);
    };
    const onAbort = () => {
      finish();
      running.terminate(); // stops a layout still at work
      reject(signal?.reason);
    };
    running.addEventListener("message", onMessage);
    running.addEventListener("error", onError);
    running.addEventListener("messageerror", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      running.postMessage(request);
    } catch {
      onError(new Event("error"));
    }
  });
}
