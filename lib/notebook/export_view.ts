/**
 * The export notebook's views: the bundle's files and metadata, the bundle's verdicts on a normal and a
 * defective test image shown beside the images, and the same bundle run on every available compute backend
 * — scores (which must agree) and per-image latency (measured by `lib/pipeline/compare_backends.ts`).
 * @module
 */
import { basename, resolve } from "node:path";
import type { BundleMetadata } from "../export/bundle_metadata.ts";
import { type ImageRecord, listCategory } from "../data/mvtec.ts";
import { loadRgb } from "../data/images.ts";
import { cloneRgbImage, type RgbImage } from "../data/rgb_image.ts";
import { formatPrediction, type Prediction } from "../pipeline/predict.ts";
import type { Figure } from "../plot/figure.ts";
import { barFigure } from "../plot/figure.ts";
import { UserError } from "../util/errors.ts";
import {
  type Displayable,
  escapeHtml,
  html,
  htmlTable,
  markdown,
  png,
  type PngDisplay,
  type TableCell,
} from "./display.ts";
import { composeGrid, type Rgb } from "../plot/images.ts";
import { shownPath } from "./run_dirs.ts";
import type { ScoresFile } from "../io/scores_file.ts";
import type { BackendRun } from "../pipeline/compare_backends.ts";

/** What each bundle file is for, by file name (weight shards are matched by extension). */
const FILE_ROLES: Record<string, string> = {
  "model.json":
    "graph topology + weights manifest (tf.loadGraphModel); inputs raw RGB, outputs embedding, score and " +
    "SSPCAB's anomaly_map",
  "model.onnx": "the same network as ONNX (opset 17): embedding, score, pred_label, anomaly_map",
  "density.json": "the fitted density (mean, Ledoit–Wolf precision) and the threshold",
  "metadata.json": "category, input size, preprocessing, threshold, metrics, training configuration",
};

function sizeText(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)}\u00a0MB` : `${(bytes / 1e3).toFixed(1)}\u00a0kB`;
}

/** The files of an exported bundle with their sizes and roles. */
export async function bundleFilesTable(files: readonly string[]): Promise<Displayable> {
  const rows: TableCell[][] = [];
  let total = 0;
  for (const f of files) {
    const bytes = (await Deno.stat(f)).size;
    total += bytes;
    const name = basename(f);
    const role = FILE_ROLES[name] ??
      (name.endsWith(".bin") ? "weights (float32, BatchNorm folded into the convs)" : "");
    rows.push([{ html: `<code>${escapeHtml(shownPath(f))}</code>` }, sizeText(bytes), role]);
  }
  rows.push(["total", sizeText(total), ""]);
  const plain = files.map((f) => shownPath(f)).join("\n");
  return html(
    htmlTable(["file", "size", "what it is"], rows, {
      align: ["left", "right", "left"],
      boldRows: [rows.length - 1],
    }),
    plain,
  );
}

/** The key facts of a bundle's `metadata.json`. */
export function bundleMetadataTable(metadata: BundleMetadata): Displayable {
  const rows: TableCell[][] = [
    ["category", metadata.category],
    ["input", `${metadata.imageSize}×${metadata.imageSize} RGB, ${metadata.preprocessing.input}`],
    ["resize (caller)", metadata.preprocessing.resize],
    ["density", metadata.density],
    ["outputs", metadata.outputs.join(", ")],
    ["threshold", `${metadata.threshold.toFixed(4)} (score ≥ threshold ⇒ anomalous)`],
    ["AUROC at export", `${metadata.metrics.auroc.toFixed(4)} (model of step ${metadata.metrics.step})`],
    ["library version", metadata.libraryVersion],
  ];
  const plain = rows.map((r) => r.join(": ")).join("\n");
  return html(htmlTable(["", "metadata.json"], rows, { align: ["left", "left"] }), plain);
}

/** A normal and a defective test image of a category. */
export interface SampleImages {
  /** The first good test image. */
  normal: ImageRecord;
  /** The first defective test image. */
  defective: ImageRecord;
}

/** The first good and the first defective test image of `category` (in listing order). */
export async function pickSampleImages(dataDir: string, category: string): Promise<SampleImages> {
  const records = await listCategory(dataDir, category);
  const normal = records.find((r) => r.split === "test" && r.label === 0);
  const defective = records.find((r) => r.split === "test" && r.label === 1);
  if (!normal || !defective) {
    throw new UserError(
      `${category} needs a good and a defective test image for this demo`,
      "add test/good and test/<defect> images",
    );
  }
  return { normal, defective };
}

/** Green: judged normal. */
export const NORMAL_COLOR: Rgb = [30, 160, 60];
/** Red: judged anomalous. */
export const ANOMALOUS_COLOR: Rgb = [220, 30, 40];

/** The image with a `thickness`-pixel frame in `color` (the input is not modified). */
export function frameImage(image: RgbImage, color: Rgb, thickness = 3): RgbImage {
  const out = cloneRgbImage(image);
  const { width: w, height: h } = out;
  const t = Math.max(1, Math.min(thickness, Math.floor(Math.min(w, h) / 2)));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (x >= t && y >= t && x < w - t && y < h - t) continue;
      const p = (y * w + x) * 3;
      out.data[p] = color[0];
      out.data[p + 1] = color[1];
      out.data[p + 2] = color[2];
    }
  }
  return out;
}

/** A verdict in words: `ANOMALOUS · 59.37 ≥ 41.77`. */
export function verdictText(p: Prediction): string {
  return `${p.anomalous ? "ANOMALOUS" : "NORMAL"} · ${p.score.toFixed(2)} ${p.anomalous ? "≥" : "<"} ${
    p.threshold.toFixed(2)
  }`;
}

/**
 * The predicted images side by side, framed green (normal) or red (anomalous), each captioned with its
 * verdict; `truths` (e.g. `good`, `contamination`) name the ground truth in the title.
 */
export async function verdictGallery(
  predictions: readonly Prediction[],
  options: { size?: number; truths?: readonly string[] } = {},
): Promise<PngDisplay> {
  const size = options.size ?? 256;
  const cells = await Promise.all(predictions.map(async (p) => ({
    image: frameImage(
      await loadRgb(p.path, size),
      p.anomalous ? ANOMALOUS_COLOR : NORMAL_COLOR,
      Math.max(2, Math.round(size / 64)),
    ),
    caption: verdictText(p),
  })));
  const truths = options.truths ?? [];
  const title = truths.length
    ? `Ground truth: ${truths.join(" · ")} — bundle verdict below each image`
    : "Bundle verdicts";
  const bytes = await composeGrid([cells], { cellSize: Math.max(224, Math.min(256, size)), title });
  return png(bytes, predictions.map(verdictText).join("; "));
}

/** The predictions as the reference's command prints them (paths shown project-relative). */
export function predictionLines(predictions: readonly Prediction[]): Displayable {
  const lines = predictions.map((p) => formatPrediction({ ...p, path: shownPath(p.path) }));
  return markdown("```\n" + lines.join("\n") + "\n```");
}

/** The evaluation's score of each image (from the scores file), matched by path; NaN where absent. */
export function evaluationScores(file: ScoresFile, images: readonly string[]): number[] {
  const byPath = new Map(file.images.map((i) => [resolve(i.path), i.score]));
  return images.map((p) => byPath.get(resolve(p)) ?? NaN);
}

/** Largest relative difference |a − b| / |b| over paired values (NaN pairs skipped; NaN when none). */
export function maxRelativeDifference(a: readonly number[], b: readonly number[]): number {
  let max = NaN;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) continue;
    const d = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-12);
    max = Number.isNaN(max) ? d : Math.max(max, d);
  }
  return max;
}

/**
 * The backends side by side: the score of every image (with the verdict), the largest relative difference
 * from `reference` (e.g. the evaluation's float64 scores), bundle load time and median latency.
 */
export function backendComparisonTable(
  runs: readonly BackendRun[],
  options: { imageLabels: readonly string[]; reference?: { label: string; scores: readonly number[] } },
): Displayable {
  const ref = options.reference;
  const headers = [
    "backend",
    "device",
    ...options.imageLabels.map((l) => `score: ${l}`),
    ref ? `max rel. diff vs ${ref.label}` : "",
    "bundle load",
    "median per image",
  ].filter((h) => h !== "");
  const rows: TableCell[][] = [];
  if (ref) {
    rows.push([
      ref.label,
      "float64 density on the training-side model",
      ...ref.scores.map((s) => s.toFixed(4)),
      "—",
      "",
      "",
    ]);
  }
  for (const r of runs) {
    if (!r.available) {
      rows.push([
        r.backend,
        `not available: ${r.device}`,
        ...options.imageLabels.map(() => "—"),
        ...(ref ? ["—"] : []),
        "—",
        "—",
      ]);
      continue;
    }
    const diff = ref ? maxRelativeDifference(r.predictions.map((p) => p.score), ref.scores) : NaN;
    rows.push([
      r.backend,
      r.device,
      ...r.predictions.map((p) => `${p.score.toFixed(4)} ${p.anomalous ? "(anomalous)" : "(normal)"}`),
      ...(ref ? [Number.isFinite(diff) ? diff.toExponential(1) : "—"] : []),
      `${Math.round(r.loadMs)} ms`,
      `${r.medianMs.toFixed(r.medianMs < 100 ? 1 : 0)} ms (${r.timesMs.length} runs)`,
    ]);
  }
  const plain = [
    headers.join(" | "),
    ...rows.map((r) => r.map((c) => (typeof c === "object" ? "" : c)).join(" | ")),
  ]
    .join("\n");
  return html(
    htmlTable(headers, rows, { align: headers.map((_, i) => (i < 2 ? "left" : "right")) }),
    plain,
  );
}

/** Median per-image latency per available backend, as bars. */
export function latencyFigure(runs: readonly BackendRun[], title = "Median latency per image"): Figure {
  const ok = runs.filter((r) => r.available);
  return barFigure(
    ok.map((r) => r.backend),
    [{ name: "ms per image", values: ok.map((r) => r.medianMs) }],
    title,
    {
      yTitle: "milliseconds",
      yRange: [0, Math.max(1, ...ok.map((r) => r.medianMs)) * 1.1],
      width: 520,
      height: 340,
    },
  );
}

/** A one-line latency summary for the report's title page, e.g. `wasm 83 ms · cpu 640 ms`. */
export function latencySummary(runs: readonly BackendRun[]): string {
  return runs.filter((r) => r.available).map((r) => `${r.backend} ${Math.round(r.medianMs)} ms`).join(" · ");
}
