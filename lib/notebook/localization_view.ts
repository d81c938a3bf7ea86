/**
 * The localisation notebook's views (notebook 06), over the test-set maps of
 * `lib/pipeline/localize_test_set.ts`:
 *
 * - {@link mapMethodsTable}: which map methods apply to this model (options, time), and why the others do not;
 * - with ground-truth masks: {@link localizationScores} (pooled pixel AUROC, AU-PRO@0.3, pixel F1-max and its
 *   threshold, the PRO curve, and a per-image localisation quality), {@link localizationScoresTable},
 *   {@link proCurvesFigure} and {@link bestWorstPanels} — the best and the worst localised defective images
 *   as panels image · ground-truth outline · heatmap · predicted mask at the F1-max threshold;
 * - without masks: {@link mostLeastAnomalous} — the most and least anomalous test images by image score with
 *   their heatmaps, and a note that pixel metrics need masks;
 * - {@link paperLocalizationTable}: our figures next to the CutPaste paper's, with the training setup of our
 *   model as its file records it.
 *
 * Per-image localisation quality (used to rank "best" and "worst"): the **pixel AUROC within the image** —
 * its defect pixels against its own defect-free pixels — which needs no threshold and is defined for every
 * defective image with a non-empty mask; ties are broken by the IoU of the predicted mask (map ≥ the pooled
 * F1-max threshold) with the ground truth, which the panels also show.
 * @module
 */
import { basename } from "node:path";
import { localizationMetrics } from "../eval/localization_metrics.ts";
import { PUBLISHED_PIXEL_AUROC } from "../eval/published_results.ts";
import { rocAuc } from "../eval/roc.ts";
import type { LocalizationMethod } from "../io/localization_file.ts";
import type { MethodAvailability, ModelSummary, TestSetMaps } from "../pipeline/localize_test_set.ts";
import { mapsRange } from "../pipeline/localize_eval.ts";
import { type Figure, proCurveFigure, thinCurve } from "../plot/figure.ts";
import { composeGrid, type GridCell, heatmapOverlay, localizationPanelCells } from "../plot/images.ts";
import { type Displayable, encodeBase64, escapeHtml, html, htmlTable, type TableCell } from "./display.ts";
import { shownPath } from "./run_dirs.ts";

/** The FPR limit of the AU-PRO shown (MVTec AD's). */
export const PRO_LIMIT = 0.3;

/** A method's display name. */
export function methodLabel(method: LocalizationMethod): string {
  return method === "sspcab" ? "SSPCAB error" : method === "gradcam" ? "GradCAM" : "patch-level";
}

/** Per-image localisation quality of one defective test image under one method. */
export interface ImageQuality {
  /** Index of the image in the test set. */
  index: number;
  /** Pixel AUROC within the image (its defect pixels against its own defect-free pixels). */
  pixelAuroc: number;
  /** IoU of the predicted mask (map ≥ the pooled F1-max threshold) with the ground truth. */
  iou: number;
}

/** One method's localisation metrics on the test set. */
export interface MethodScores {
  /** The method. */
  method: LocalizationMethod;
  /** Pooled pixel AUROC (0–1). */
  pixelAuroc: number;
  /** AU-PRO up to FPR {@link PRO_LIMIT}, normalised (0–1). */
  auPro: number;
  /** The best pooled pixel F1. */
  pixelF1Max: number;
  /** The threshold of the best F1 (map ≥ it ⇒ defect pixel): the predicted masks use it. */
  pixelThreshold: number;
  /** Image AUROC of the map maxima. */
  imageAurocOfMax: number;
  /** The PRO curve up to (just past) the limit, thinned for plotting. */
  curve: { fpr: number[]; pro: number[] };
  /** Defective images' quality, best first (see the module doc). */
  perImage: ImageQuality[];
  /**
   * Defective images left out of {@link MethodScores.perImage} because their mask at the map size is empty
   * (a defect smaller than a map pixel vanished in the nearest-neighbour resize) or covers the whole image.
   */
  unmasked: number;
  /** Seconds per test image for the maps. */
  secondsPerImage: number;
}

/** The intersection over union of `pred ≥ threshold` with a 0/1 mask; 1 when both are empty. */
export function maskIou(map: ArrayLike<number>, mask: ArrayLike<number>, threshold: number): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < map.length; i++) {
    const p = map[i] >= threshold;
    const g = mask[i] !== 0;
    if (p && g) inter++;
    if (p || g) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/**
 * Every computed method's metrics (pooled over all test pixels; `curve: true` for the PRO curve) and the
 * per-image quality of each defective image, ranked best first. Needs masks: without them there are no pixel
 * metrics, and this returns `null`.
 */
export function localizationScores(run: TestSetMaps): MethodScores[] | null {
  const masks = run.masks;
  if (!masks) return null;
  const names = run.records.map((r) => r.path);
  const labels = run.records.map((r) => r.label);
  return run.methods.map(({ method, maps, seconds }) => {
    // No `labels`: a tiny defect can vanish when its mask is resized to a small map size; that image then
    // counts as defect-free for the pixel metrics instead of stopping the notebook (see `unmasked`).
    const m = localizationMetrics(
      { maps, masks, height: run.size, width: run.size, names },
      { proLimits: [PRO_LIMIT], curve: true },
    );
    const curve = thinCurve(m.proCurve!.fpr, m.proCurve!.pro, PRO_LIMIT);
    const perImage: ImageQuality[] = [];
    let unmasked = 0;
    run.records.forEach((r, i) => {
      if (r.label !== 1) return;
      const defect = masks[i].reduce((c, v) => c + (v ? 1 : 0), 0);
      if (defect === 0 || defect === masks[i].length) {
        unmasked++;
        return;
      }
      perImage.push({
        index: i,
        pixelAuroc: rocAuc(masks[i], maps[i]),
        iou: maskIou(maps[i], masks[i], m.pixelF1Threshold),
      });
    });
    perImage.sort((a, b) => b.pixelAuroc - a.pixelAuroc || b.iou - a.iou || a.index - b.index);
    return {
      method,
      pixelAuroc: m.pixelAuroc,
      auPro: m.auPro,
      pixelF1Max: m.pixelF1Max,
      pixelThreshold: m.pixelF1Threshold,
      imageAurocOfMax: labels.includes(0) && labels.includes(1) ? rocAuc(labels, m.imageScores) : NaN,
      curve: { fpr: curve.x, pro: curve.y },
      perImage,
      unmasked,
      secondsPerImage: seconds / Math.max(1, maps.length),
    };
  });
}

/** What `ours` means in a label: steps, batch, initialisation and size of the model, from its file. */
export function modelSetup(model: ModelSummary): string {
  const init = model.pretrained ? "ImageNet init" : "from scratch";
  const saved = model.step > 0 && model.step !== model.steps ? ` (saved at step ${model.step})` : "";
  const patch = model.patchSize ? `, ${model.patchSize}² patches` : "";
  return `${model.steps} steps of batch ${model.batchSize}${saved}, ${init}, ${model.size} px${patch}`;
}

/**
 * The map methods for this model: each computed one with the options it used and its time per test image,
 * the others with why they do not apply (e.g. no patch model, and how to train one).
 */
export function mapMethodsTable(run: TestSetMaps): Displayable {
  const rows: TableCell[][] = run.availability.map((a) => {
    const m = run.methods.find((x) => x.method === a.method);
    const status: TableCell = m
      ? "computed"
      : a.available
      ? "not requested"
      : { html: `not available: ${inlineCode(a.reason ?? "")}` };
    return [
      methodLabel(a.method),
      status,
      m ? Object.entries(m.options).map(([k, v]) => `${k} = ${v}`).join(", ") : "—",
      m ? (m.seconds / Math.max(1, m.maps.length)).toFixed(3) : "—",
    ];
  });
  const plain = run.availability.map((a) =>
    `${a.method}: ${
      run.methods.some((m) => m.method === a.method)
        ? "computed"
        : a.available
        ? "not requested"
        : `not available (${a.reason})`
    }`
  ).join("\n");
  return html(
    htmlTable(["method", "this model", "options", "s / image"], rows, {
      caption: `Anomaly maps of the ${run.records.length} test images of ${run.category} at ${run.size}²`,
      align: ["left", "left", "left", "right"],
    }),
    plain,
  );
}

// Escape text, turning `…` spans into <code>.
function inlineCode(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>");
}

/** The metrics of each method as a table (4 decimals), with the pixel threshold and the map time. */
export function localizationScoresTable(scores: readonly MethodScores[], category: string): Displayable {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : "—");
  const rows: TableCell[][] = scores.map((s) => [
    methodLabel(s.method),
    f(s.pixelAuroc),
    f(s.auPro),
    f(s.pixelF1Max),
    s.pixelThreshold.toPrecision(4),
    f(s.imageAurocOfMax),
    s.secondsPerImage.toFixed(3),
  ]);
  const plain = scores.map((s) =>
    `${s.method}: pixel AUROC ${f(s.pixelAuroc)}, AU-PRO@${PRO_LIMIT} ${f(s.auPro)}, F1-max ${
      f(s.pixelF1Max)
    }`
  ).join("\n");
  return html(
    htmlTable(
      [
        "method",
        "pixel AUROC",
        `AU-PRO@${PRO_LIMIT}`,
        "pixel F1-max",
        "F1-max threshold",
        "image AUROC (map max)",
        "s / image",
      ],
      rows,
      {
        caption: `${category}: localisation on the test set (all pixels pooled)`,
        align: ["left", "right", "right", "right", "right", "right", "right"],
      },
    ),
    plain,
  );
}

/** The PRO curves of all methods in one figure, up to the AU-PRO limit. */
export function proCurvesFigure(scores: readonly MethodScores[], category: string): Figure {
  return proCurveFigure(
    scores.map((s) => ({ name: methodLabel(s.method), fpr: s.curve.fpr, pro: s.curve.pro, auPro: s.auPro })),
    `PRO curve — ${category}`,
    PRO_LIMIT,
  );
}

function gridHtml(bytes: Uint8Array, note: string): string {
  return `<img src="data:image/png;base64,${encodeBase64(bytes)}" alt="${escapeHtml(note)}">`;
}

function imageName(run: TestSetMaps, i: number): string {
  const r = run.records[i];
  return `${r.defectType}/${basename(r.path)}`;
}

/** Options of {@link bestWorstPanels} and {@link mostLeastAnomalous}. */
export interface PanelOptions {
  /** Images at each end (default 2). */
  n?: number;
  /** Side of each panel cell in pixels (default 176). */
  cellSize?: number;
}

/**
 * For each method, the `n` best and `n` worst localised defective test images (by per-image pixel AUROC, see
 * the module doc), one row each: the image · its ground-truth outline (red) · the heatmap (inferno, one
 * colour scale per method over the whole test set) with the outline · the predicted mask at the method's
 * F1-max threshold (cyan) with the outline. A table lists the images and their quality.
 */
export async function bestWorstPanels(
  run: TestSetMaps,
  scores: readonly MethodScores[],
  options: PanelOptions = {},
): Promise<Displayable> {
  const n = Math.max(1, options.n ?? 2);
  const masks = run.masks;
  if (!masks) throw new RangeError("bestWorstPanels needs masks; use mostLeastAnomalous without them");
  const parts: string[] = [];
  const plain: string[] = [];
  for (const s of scores) {
    const maps = run.methods.find((m) => m.method === s.method)!.maps;
    const range = mapsRange(maps);
    const count = Math.min(n, Math.floor(s.perImage.length / 2) || s.perImage.length);
    const best = s.perImage.slice(0, count);
    const worst = s.perImage.slice(-count).reverse().filter((q) => !best.includes(q));
    const picked: [string, ImageQuality][] = [
      ...best.map((q, k): [string, ImageQuality] => [`best ${k + 1}`, q]),
      ...worst.map((q, k): [string, ImageQuality] => [`worst ${k + 1}`, q]),
    ];
    const rows: GridCell[][] = picked.map(([, q]) =>
      localizationPanelCells({
        image: run.images[q.index],
        mask: masks[q.index],
        map: maps[q.index],
        range,
        threshold: s.pixelThreshold,
        caption: imageName(run, q.index),
      })
    );
    const note = `${methodLabel(s.method)}: the ${best.length} best and ${worst.length} worst localised of ` +
      `${s.perImage.length} defective test images, ranked by pixel AUROC within the image${
        s.unmasked ? ` (${s.unmasked} left out: their mask is empty or full at ${run.size}²)` : ""
      }. Columns: image · ` +
      `ground truth (red outline) · heatmap · predicted mask (cyan, map ≥ ${
        s.pixelThreshold.toPrecision(4)
      }, the F1-max threshold).`;
    const bytes = await composeGrid(rows, {
      cellSize: options.cellSize ?? 176,
      rowLabels: picked.map(([label]) => label),
      title: `${run.category} — ${methodLabel(s.method)}: best and worst localised`,
    });
    const table = htmlTable(
      ["", "image", "pixel AUROC in the image", "IoU at the F1-max threshold"],
      picked.map(([label, q]) => [
        label,
        { html: `<code>${escapeHtml(shownPath(run.records[q.index].path))}</code>` },
        q.pixelAuroc.toFixed(4),
        q.iou.toFixed(3),
      ]),
      { align: ["left", "left", "right", "right"] },
    );
    parts.push(
      `<h4>${escapeHtml(methodLabel(s.method))}</h4><p>${escapeHtml(note)}</p>${
        gridHtml(bytes, note)
      }${table}`,
    );
    plain.push(note);
  }
  return html(parts.join(""), plain.join("\n"));
}

/**
 * Without masks: the `n` most and `n` least anomalous test images by image score (the density's score, the
 * one evaluation thresholds), one row each: the image, then each method's heatmap (one colour scale per
 * method over the test set). A note says that pixel metrics need masks and where to get data that has them.
 */
export async function mostLeastAnomalous(run: TestSetMaps, options: PanelOptions = {}): Promise<Displayable> {
  const n = Math.max(1, options.n ?? 2);
  const order = [...run.imageScores.keys()].sort((a, b) => run.imageScores[b] - run.imageScores[a] || a - b);
  const count = Math.min(n, Math.floor(order.length / 2) || order.length);
  const most = order.slice(0, count);
  const least = order.slice(-count).reverse().filter((i) => !most.includes(i));
  const picked: [string, number][] = [
    ...most.map((i, k): [string, number] => [`most ${k + 1}`, i]),
    ...least.map((i, k): [string, number] => [`least ${k + 1}`, i]),
  ];
  const ranges = run.methods.map((m) => mapsRange(m.maps));
  const rows: GridCell[][] = picked.map(([, i]) => [
    {
      image: run.images[i],
      caption: `${run.records[i].label ? run.records[i].defectType : "good"} · ${
        run.imageScores[i].toFixed(2)
      }`,
    },
    ...run.methods.map((m, k) => ({
      image: heatmapOverlay(run.images[i], m.maps[i], ranges[k]),
      caption: methodLabel(m.method),
    })),
  ]);
  const note = `This data has no ground-truth masks, so no pixel metric (pixel AUROC, AU-PRO, F1) can be ` +
    `computed — they compare each pixel of the map with the mask. Shown instead: the ${most.length} most and ` +
    `${least.length} least anomalous of ${run.records.length} test images by image score (threshold ` +
    `${
      run.threshold.toFixed(2)
    }), with each method's heatmap (inferno: dark = normal, bright = anomalous). ` +
    "For pixel metrics, run on a category with masks: the full MVTec AD category (`deno task data` extracts " +
    "the official archive with its ground_truth/ masks), or the synthetic set (`deno task data --synthetic`).";
  let img = "";
  if (run.methods.length) {
    const bytes = await composeGrid(rows, {
      cellSize: options.cellSize ?? 176,
      rowLabels: picked.map(([label]) => label),
      title: `${run.category}: most and least anomalous test images`,
    });
    img = gridHtml(bytes, note);
  }
  const table = htmlTable(
    ["", "image", "type", "image score", "score − threshold"],
    picked.map(([label, i]) => [
      label,
      { html: `<code>${escapeHtml(shownPath(run.records[i].path))}</code>` },
      run.records[i].label ? run.records[i].defectType : "good",
      run.imageScores[i].toFixed(3),
      (run.imageScores[i] - run.threshold).toFixed(3),
    ]),
    { align: ["left", "left", "left", "right", "right"] },
  );
  return html(`<p>${inlineCode(note)}</p>${img}${table}`, note);
}

/** One row of {@link paperLocalizationRows}. */
export interface PaperRow {
  /** The method. */
  method: LocalizationMethod;
  /** Our pooled pixel AUROC in %, or null (not computed, or no masks). */
  oursPixelAuroc: number | null;
  /** Our AU-PRO@0.3 in %, or null. */
  oursAuPro: number | null;
  /** The paper's MVTec AD mean pixel AUROC in %, or null (no published figure). */
  paperPixelAuroc: number | null;
}

/** Our figures per method (in %) next to the paper's, one row per method in the availability order. */
export function paperLocalizationRows(
  availability: readonly MethodAvailability[],
  scores: readonly MethodScores[] | null,
): PaperRow[] {
  return availability.map((a) => {
    const s = scores?.find((x) => x.method === a.method);
    const p = PUBLISHED_PIXEL_AUROC.find((x) => x.method === a.method);
    return {
      method: a.method,
      oursPixelAuroc: s ? s.pixelAuroc * 100 : null,
      oursAuPro: s ? s.auPro * 100 : null,
      paperPixelAuroc: p?.pixelAuroc ?? null,
    };
  });
}

/**
 * Our pixel AUROC and AU-PRO next to the CutPaste paper's MVTec AD mean pixel AUROC (%), with what each
 * column's models were trained with: theirs ImageNet weights and full training, ours as the model file says.
 */
export function paperLocalizationTable(
  run: TestSetMaps,
  scores: readonly MethodScores[] | null,
  dataLabel: string,
): Displayable {
  const rows = paperLocalizationRows(run.availability, scores);
  const fmt = (v: number | null) => (v === null ? "—" : v.toFixed(1));
  const cells: TableCell[][] = rows.map((r) => [
    methodLabel(r.method),
    fmt(r.oursPixelAuroc),
    fmt(r.oursAuPro),
    fmt(r.paperPixelAuroc),
  ]);
  const sources = PUBLISHED_PIXEL_AUROC.map((p) =>
    `<li><b>${escapeHtml(p.label)}</b>: ${escapeHtml(p.source)} — ${escapeHtml(p.setup)}.</li>`
  ).join("");
  const why = run.masks ? "" : " Our columns are empty because this data has no ground-truth masks.";
  const setup =
    `<p style="font-size:12px;color:#57606a;margin:4px 0">Ours: ${
      escapeHtml(modelSetup(run.model))
    }, maps at ${run.size}² — one category, not the 15-category mean; the paper's models use ImageNet weights ` +
    `and full training. No published figure exists for the SSPCAB map or for AU-PRO.${escapeHtml(why)}</p>`;
  const table = htmlTable(
    [
      "method",
      "ours: pixel AUROC",
      `ours: AU-PRO@${PRO_LIMIT}`,
      "CutPaste paper: pixel AUROC (MVTec AD mean)",
    ],
    cells,
    {
      caption: `Localisation (%) — ours: ${run.category}, ${dataLabel}; next to the paper`,
      align: ["left", "right", "right", "right"],
    },
  );
  const plain = rows.map((r) =>
    `${r.method}: ours ${fmt(r.oursPixelAuroc)} / AU-PRO ${fmt(r.oursAuPro)}, paper ${fmt(r.paperPixelAuroc)}`
  ).join("\n");
  return html(`${table}${setup}<ol style="font-size:12px;color:#57606a;margin:4px 0">${sources}</ol>`, plain);
}

/** The one-line summary notebook 06 records as a report fact. */
export function localizationFact(run: TestSetMaps, scores: readonly MethodScores[] | null): string {
  if (!run.methods.length) return `${run.category}: no map method applies to this model`;
  if (!scores) {
    return `${run.category}: ${
      run.methods.map((m) => m.method).join(", ")
    } maps (no masks: no pixel metrics)`;
  }
  return `${run.category}: ` +
    scores.map((s) =>
      `${s.method} pixel AUROC ${s.pixelAuroc.toFixed(3)}, AU-PRO@${PRO_LIMIT} ${s.auPro.toFixed(3)}`
    ).join("; ");
}

/**
 * The note shown instead of a pixel-level view (`what`, e.g. "PRO curve") when the data has no ground-truth
 * masks; with `detail` (default true) it also says where to get data with masks.
 */
export function noMasksNote(run: TestSetMaps, what: string, detail = true): Displayable {
  const text = `${run.category}: no ground-truth masks in this data, so no ${what}.` +
    (detail
      ? " Pixel metrics need masks: use the full MVTec AD category (`deno task data` extracts the official " +
        "archive with its ground_truth/ folders) or the synthetic set (`deno task data --synthetic`), and run " +
        "notebooks 03, 04 and 06 on it."
      : "");
  return html(`<p>${inlineCode(text)}</p>`, text);
}
