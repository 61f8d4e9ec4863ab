// The graph layout worker's script: js/src/graphLayoutWorker.ts bundled on its own, put in
// here as a string by scripts/build.mjs when it builds the widget (anywidget loads one ESM
// file, so the worker cannot be a file of its own). Empty in the source tree, where vitest
// and tsc read this file as it is: there the layout runs on the page's thread.

export const WORKER_SOURCE: string = "";
