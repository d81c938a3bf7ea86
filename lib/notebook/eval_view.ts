/**
 * The evaluation notebook's views, built from the files `evaluateCategories` writes: the per-image scores
 * file (ROC curves, score histogram with the threshold, confusion counts, the worst false positives and
 * false negatives as images), the saved plots, and our AUROC next to the published numbers.
 * @module
 */
import { basename, join, resolve } from "node:path";
import { rocCurve } from "../eval/roc.ts";
import { type CategoryEvalResult, plotDir } from "../pipeline/run_eval.ts";
import { readScores, type ScoredImage, type ScoresFile, scoresPath } from "../io/scores_file.ts";
import { readRunInfo as readRunInfoFile, type RunInfo, runInfoPath } from "../io/run_info.ts";
import { type ComparisonRow, PUBLISHED_SOURCES } from "../eval/published_results.ts";
import { listCategory } from "../data/mvtec.ts";
import { loadMask, loadRgb } from "../data/images.ts";
import { type Figure, rocFigure, scoreHistogramFigure } from "../plot/figure.ts";
import { UserError } from "../util/errors.ts";
import {
  type Displayable,
  encodeBase64,
  escapeHtml,
  html,
  htmlTable,
  png,
  type PngDisplay,
  type TableCell,
} from "./display.ts";
import { composeGrid, type GridCell, heatmapOverlay, overlayMask } from "../plot/images.ts";
import type { LocalizationFile } from "../io/localization_file.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import { recordedPath, shownPath } from "./run_dirs.ts";

export type { ScoredImage, ScoresFile } from "../io/scores_file.ts";
export type { RunInfo } from "../io/run_info.ts";

/** Read (and validate) the scores file evaluation wrote for `category` in `modelDir`. */
export async function loadScores(modelDir: string, category: string): Promise<ScoresFile> {
  const path = scoresPath(modelDir, category);
  try {
    return await readScores(path);
  } catch (err) {
    throw new UserError(
      `cannot read the scores of ${category} (${shownPath(path)}): ${(err as Error).message}`,
      "run the evaluation cell (or `deno task eval`) first",
    );
  }
}

/** A table of evaluation results: AUROC, threshold, image counts and the files written. */
export function evaluationTable(results: readonly CategoryEvalResult[]): Displayable {
  const rows: TableCell[][] = results.map((r) => [
    r.category,
    r.auroc.toFixed(4),
    r.threshold.toFixed(3),
    r.nTrain,
    r.nTest,
    { html: r.files.map((f) => `<code>${escapeHtml(shownPath(f))}</code>`).join("<br>") },
  ]);
  const plain = results.map((r) => `${r.category}: AUROC ${r.auroc.toFixed(4)}, threshold ${r.threshold}`)
    .join("\n");
  return html(
    htmlTable(
      ["category", "image AUROC", "threshold", "train (fit)", "test (scored)", "files written"],
      rows,
      {
        align: ["left", "right", "right", "right", "right", "left"],
      },
    ),
    plain,
  );
}

/** ROC curves of one or more categories from their scores files. */
export function rocFigureFromScores(files: readonly ScoresFile[], title = "ROC curve (test set)"): Figure {
  return rocFigure(
    files.map((f) => {
      const curve = rocCurve(f.images.map((i) => i.label), f.images.map((i) => i.score));
      return { name: f.category, fpr: curve.fpr, tpr: curve.tpr, auc: f.auroc };
    }),
    title,
  );
}

/** Histogram of the scores per group (`good` and each defect type) with the threshold line. */
export function scoreHistogramFromScores(file: ScoresFile): Figure {
  const byGroup: Record<string, number[]> = {};
  for (const i of file.images) (byGroup[i.label === 0 ? "good" : i.defectType] ??= []).push(i.score);
  return scoreHistogramFigure(
    byGroup,
    file.threshold,
    `Anomaly scores of the test images — ${file.category}`,
  );
}

/** Counts at the threshold. */
export interface Confusion {
  /** Defective images flagged. */
  tp: number;
  /** Good images flagged. */
  fp: number;
  /** Good images passed. */
  tn: number;
  /** Defective images passed. */
  fn: number;
}

/** The confusion counts at the file's threshold (score ≥ threshold ⇒ anomalous). */
export function confusionAt(file: ScoresFile): Confusion {
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const i of file.images) {
    const flagged = i.score >= file.threshold;
    if (i.label === 1) flagged ? c.tp++ : c.fn++;
    else flagged ? c.fp++ : c.tn++;
  }
  return c;
}

/** The confusion matrix at the threshold as a table, with the true- and false-positive rates. */
export function confusionTable(file: ScoresFile): Displayable {
  const c = confusionAt(file);
  const pct = (a: number, b: number) => (b ? `${((a / b) * 100).toFixed(0)}%` : "—");
  const rows: TableCell[][] = [
    ["good", c.tn, c.fp, `false-positive rate ${pct(c.fp, c.fp + c.tn)}`],
    ["defective", c.fn, c.tp, `true-positive rate ${pct(c.tp, c.tp + c.fn)}`],
  ];
  const plain = `good: ${c.tn} passed, ${c.fp} flagged; defective: ${c.fn} passed, ${c.tp} flagged`;
  return html(
    htmlTable(["actual \\ predicted", "normal (passed)", "anomalous (flagged)", ""], rows, {
      caption: `${file.category} at threshold ${file.threshold.toFixed(3)}`,
      align: ["left", "right", "right", "left"],
    }),
    plain,
  );
}

/** The misclassified test images at the threshold, worst first. */
export interface Misclassified {
  /** Good images scored at or above the threshold, highest score first. */
  falsePositives: ScoredImage[];
  /** Defective images scored below the threshold, lowest score first. */
  falseNegatives: ScoredImage[];
}

/** The false positives and false negatives of a scores file, worst first. */
export function misclassified(file: ScoresFile): Misclassified {
  return {
    falsePositives: file.images.filter((i) => i.label === 0 && i.score >= file.threshold)
      .sort((a, b) => b.score - a.score),
    falseNegatives: file.images.filter((i) => i.label === 1 && i.score < file.threshold)
      .sort((a, b) => a.score - b.score),
  };
}

/** The closest calls: the highest-scoring good images and the lowest-scoring defective ones. */
export function closestCalls(file: ScoresFile, n = 3): Misclassified {
  return {
    falsePositives: file.images.filter((i) => i.label === 0).sort((a, b) => b.score - a.score).slice(0, n),
    falseNegatives: file.images.filter((i) => i.label === 1).sort((a, b) => a.score - b.score).slice(0, n),
  };
}

function scoredCaption(i: ScoredImage): string {
  return `${i.label === 0 ? "good" : i.defectType} · ${i.score.toFixed(2)}`;
}

/** Options of {@link errorGallery}. */
export interface ErrorGalleryOptions {
  /** The data folder evaluation used (to find ground-truth masks), as a kernel path. */
  dataDir: string;
  /** Side the images are shown at (default 256). */
  size?: number;
  /** Images per row (default 4). */
  max?: number;
}

/**
 * The worst false positives and false negatives as images (defective ones with their ground-truth mask in
 * red when there is one), each captioned with its score, above a table of the files. When there are none,
 * says so and shows the closest calls instead (highest-scoring good, lowest-scoring defective images).
 */
export async function errorGallery(file: ScoresFile, options: ErrorGalleryOptions): Promise<Displayable> {
  const size = options.size ?? 256;
  const max = options.max ?? 4;
  const errors = misclassified(file);
  const none = !errors.falsePositives.length && !errors.falseNegatives.length;
  const shown = none ? closestCalls(file, Math.min(3, max)) : errors;
  const masks = new Map<string, string>();
  for (const r of await listCategory(options.dataDir, file.category).catch(() => [])) {
    if (r.maskPath) masks.set(resolve(r.path), r.maskPath);
  }
  const cell = async (i: ScoredImage): Promise<GridCell> => {
    const image = await loadRgb(await recordedPath(i.path), size);
    const mask = masks.get(resolve(i.path));
    return {
      image: mask ? overlayMask(image, await loadMask(mask, size)) : image,
      caption: scoredCaption(i),
    };
  };
  const rows: GridCell[][] = [];
  const labels: string[] = [];
  const groups: [string, ScoredImage[]][] = none
    ? [["highest good", shown.falsePositives], ["lowest defective", shown.falseNegatives]]
    : [["false positives", shown.falsePositives.slice(0, max)], [
      "false negatives",
      shown.falseNegatives.slice(0, max),
    ]];
  for (const [label, list] of groups) {
    if (!list.length) continue;
    rows.push(await Promise.all(list.map(cell)));
    labels.push(label);
  }
  const t = file.threshold.toFixed(2);
  const fpN = errors.falsePositives.length;
  const fnN = errors.falseNegatives.length;
  const note = none
    ? `No false positives and no false negatives at the threshold ${t}: it separates this test set ` +
      `perfectly. Shown instead are the closest calls — the good images with the highest scores and the ` +
      `defective ones with the lowest.`
    : `${fpN} false positive${fpN === 1 ? "" : "s"} (good images scored ≥ ${t}) and ${fnN} false ` +
      `negative${fnN === 1 ? "" : "s"} (defective images scored < ${t}); up to ${max} of each, worst first.`;
  const listed = groups.flatMap(([label, list]) =>
    list.map((i): TableCell[] => [
      label,
      { html: `<code>${escapeHtml(shownPath(i.path))}</code>` },
      i.label === 0 ? "good" : i.defectType,
      i.score.toFixed(3),
      (i.score - file.threshold).toFixed(3),
    ])
  );
  let img = "";
  if (rows.length) {
    const bytes = await composeGrid(rows, {
      cellSize: Math.min(192, Math.max(176, size)), // wide enough for "contamination · 41.14"
      rowLabels: labels,
      title: `${file.category}: ${
        none ? "closest calls" : "misclassified test images"
      } (score; threshold ${t})`,
    });
    img = `<img src="data:image/png;base64,${encodeBase64(bytes)}" alt="${escapeHtml(note)}">`;
  }
  const table = listed.length
    ? htmlTable(["", "image", "type", "score", "score − threshold"], listed, {
      align: ["left", "left", "left", "right", "right"],
    })
    : "";
  return html(`<p>${escapeHtml(note)}</p>${img}${table}`, note);
}

/** Options of {@link publishedComparisonTable}. */
export interface ComparisonTableOptions {
  /** Header of our column (e.g. `ours (30 steps, 128 px, synthetic)`). */
  oursLabel?: string;
  /** Caption above the table. */
  caption?: string;
}

/** {@link compareWithPublished}'s rows as a table (%, one decimal; `—` where there is no number), with sources. */
export function publishedComparisonTable(
  rows: readonly ComparisonRow[],
  options: ComparisonTableOptions = {},
): Displayable {
  const fmt = (v: number | null) => (v === null || !Number.isFinite(v) ? "—" : v.toFixed(1));
  const headers = ["category", options.oursLabel ?? "ours", ...PUBLISHED_SOURCES.map((s) => s.label)];
  const cells: TableCell[][] = rows.map((r) => [
    r.label,
    fmt(r.ours),
    ...PUBLISHED_SOURCES.map((s) => fmt(r.published[s.key])),
  ]);
  const bold = rows.map((r, i) => (r.kind === "category" ? -1 : i)).filter((i) => i >= 0);
  const sources = PUBLISHED_SOURCES.map((s) =>
    `<li><b>${escapeHtml(s.label)}</b>: ${escapeHtml(s.source)} — ${escapeHtml(s.setup)}.</li>`
  ).join("");
  const table = htmlTable(headers, cells, {
    caption: options.caption ?? "Image AUROC (%) per category",
    align: ["left", ...headers.slice(1).map(() => "right" as const)],
    boldRows: bold,
  });
  const plain = [headers.join(" | "), ...cells.map((r) => r.join(" | "))].join("\n");
  return html(`${table}<ol style="font-size:12px;color:#57606a;margin:4px 0">${sources}</ol>`, plain);
}

/** A plot evaluation saved for `category` (`roc_plot.png`, `tsne.png`, `score_hist.png`) as an inline image. */
export async function savedPlot(modelDir: string, category: string, name: string): Promise<PngDisplay> {
  return await pngFile(join(plotDir(modelDir, category), name), `${name} of ${category}`);
}

/** A PNG file (e.g. a plot evaluation saved) as an inline image. */
export async function pngFile(path: string, alt?: string): Promise<PngDisplay> {
  try {
    return png(await Deno.readFile(path), alt ?? basename(path));
  } catch (err) {
    throw new UserError(
      `cannot read ${shownPath(path)}: ${(err as Error).message}`,
      "run the evaluation with savePlots: true first",
    );
  }
}

/** The run information training wrote for `category` in `modelDir`, or null when there is none yet. */
export async function readRunInfo(modelDir: string, category: string): Promise<RunInfo | null> {
  const path = runInfoPath(modelDir, category);
  try {
    await Deno.stat(path);
  } catch {
    return null;
  }
  return await readRunInfoFile(path);
}

/** A column label for our numbers, e.g. `ours: 30 steps from scratch, 128 px, synthetic data`. */
export function oursLabel(info: RunInfo | null, dataLabel: string): string {
  if (!info) return `ours (${dataLabel})`;
  const init = info.config.pretrained ? "ImageNet init" : "from scratch";
  return `ours: ${info.steps} steps ${init}, ${info.config.size} px, ${dataLabel}`;
}

/** What {@link localizationGallery} shows: images, their masks (or none) and maps, metrics when known. */
export interface LocalizationGalleryInput {
  /** Category. */
  category: string;
  /** The images' records (for captions: defect type and file name). */
  records: readonly { path: string; defectType: string }[];
  /** The images, all the maps' size. */
  images: readonly RgbImage[];
  /** 0/1 (or 0/255) masks of the images, or `null` when the data has no masks. */
  masks: readonly ArrayLike<number>[] | null;
  /** Per method, one map per image. */
  maps: readonly { method: string; maps: readonly ArrayLike<number>[] }[];
  /** The test set's metrics of every method (the category's results file), or `null` (no masks). */
  metrics: LocalizationFile | null;
}

/**
 * "Where is the defect?": one row per image — the image, its ground truth in red (when the data has masks),
 * then each method's map as an inferno overlay (each method on one colour scale over the images shown) —
 * and, when masks exist, a table of each method's pixel AUROC, AU-PRO@0.3, pixel F1 and image AUROC of the
 * map maxima. Without masks it says so.
 */
export async function localizationGallery(input: LocalizationGalleryInput): Promise<Displayable> {
  if (input.images.length === 0) {
    const note = `${input.category}: no defective test images to localise.`;
    return html(`<p>${escapeHtml(note)}</p>`, note);
  }
  const ranges = input.maps.map(({ maps }) => {
    let min = Infinity;
    let max = -Infinity;
    for (const m of maps) {
      for (let i = 0; i < m.length; i++) (min = Math.min(min, m[i])), (max = Math.max(max, m[i]));
    }
    return { min, max };
  });
  const rows: GridCell[][] = input.images.map((image, i) => {
    const rec = input.records[i];
    const row: GridCell[] = [{ image, caption: `${rec.defectType} ${basename(rec.path)}` }];
    const mask = input.masks?.[i];
    if (mask) {
      const data = Uint8Array.from(mask, (v) => (v ? 255 : 0));
      row.push({
        image: overlayMask(image, { width: image.width, height: image.height, data }),
        caption: "ground truth",
      });
    }
    input.maps.forEach(({ method, maps }, k) =>
      row.push({ image: heatmapOverlay(image, maps[i], ranges[k]), caption: method })
    );
    return row;
  });
  const bytes = await composeGrid(rows, { title: `Where is the defect? ${input.category}` });
  const note = input.masks
    ? `${input.images.length} defective test images: the image, its ground-truth mask (red), and each method's ` +
      `anomaly map (inferno: dark = normal, bright = anomalous).`
    : `This data has no ground-truth masks, so the maps are shown without them and no pixel metrics can be ` +
      `computed (${input.images.length} defective test images; inferno: dark = normal, bright = anomalous).`;
  const img = `<img src="data:image/png;base64,${encodeBase64(bytes)}" alt="${escapeHtml(note)}">`;
  let table = "";
  let plain = note;
  const methods = input.metrics?.methods ?? [];
  if (methods.length) {
    const nImages = input.metrics!.n_images;
    const f = (v: number) => v.toFixed(4);
    table = htmlTable(
      ["method", "pixel AUROC", "AU-PRO@0.3", "pixel F1-max", "image AUROC (map max)", "s / image", "images"],
      methods.map((
        m,
      ) => [
        m.method,
        f(m.pixel_auroc),
        f(m.au_pro),
        f(m.pixel_f1),
        f(m.image_auroc_of_max),
        m.seconds_per_image.toFixed(3),
        nImages,
      ]),
      { align: ["left", "right", "right", "right", "right", "right", "right"] },
    );
    plain += "\n" +
      methods.map((m) =>
        `${m.method}: pixel AUROC ${f(m.pixel_auroc)}, AU-PRO@0.3 ${f(m.au_pro)}, F1 ${f(m.pixel_f1)}`
      ).join("\n");
  }
  return html(`<p>${escapeHtml(note)}</p>${img}${table}`, plain);
}
