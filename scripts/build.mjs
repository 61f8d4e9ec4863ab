// `npm run build` (and `npm run dev`, with --watch): the widget's one ESM file and its CSS
// in cnnviz_widget/static, as `esbuild js/src/widget.ts js/src/widget.css --bundle
// --format=esm --minify --target=es2020` did, plus the graph layout's Web Worker: that is
// bundled on its own first (js/src/graphLayoutWorker.ts, dagre included) and its code goes
// into the widget's bundle as the string WORKER_SOURCE of js/src/graphLayoutWorkerSource.ts,
// since anywidget loads one file. The graph view makes the worker from a Blob URL of it.
import path from "node:path";
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const common = { bundle: true, minify: true, target: "es2020" };

/** The worker's bundle, and the files it was made of (watched in --watch mode). */
async function workerBundle() {
  const result = await esbuild.build({
    ...common,
    entryPoints: ["js/src/graphLayoutWorker.ts"],
    format: "iife",
    write: false,
    metafile: true,
    logLevel: "warning",
  });
  const [output] = result.outputFiles;
  if (!output || output.text.length === 0) throw new Error("the layout worker bundle is empty");
  return { text: output.text, inputs: Object.keys(result.metafile.inputs) };
}

const inlineWorker = {
  name: "inline-graph-layout-worker",
  setup(build) {
    build.onLoad({ filter: /[\\/]graphLayoutWorkerSource\.ts$/ }, async () => {
      const { text, inputs } = await workerBundle();
      return {
        contents: `export const WORKER_SOURCE = ${JSON.stringify(text)};\n`,
        loader: "js",
        watchFiles: inputs.map((file) => path.resolve(file)),
      };
    });
  },
};

const options = {
  ...common,
  entryPoints: ["js/src/widget.ts", "js/src/widget.css"],
  format: "esm",
  outdir: "cnnviz_widget/static",
  plugins: [inlineWorker],
  logLevel: "info",
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
