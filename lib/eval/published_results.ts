/**
 * Published image-level AUROC (%) on MVTec AD for the method this project reproduces and its peers, as
 * data, with the source of each column — and {@link compareWithPublished}, which puts our own per-category
 * results next to them as table rows (used by the evaluation notebook and reports).
 *
 * The figures are facts copied from the sources below; they are not read from any file at run time.
 * @module
 */
import { isMvtecCategory, MVTEC_CATEGORIES, type MvtecCategory } from "../data/mvtec.ts";

/** Keys of the published result columns. */
export type PublishedKey = "cutpaste" | "sspcab" | "paddle" | "pytorchScratch";

/** Where a column of published numbers comes from. */
export interface PublishedSource {
  /** Column key. */
  key: PublishedKey;
  /** Short column label for tables. */
  label: string;
  /** The publication or code base the numbers come from. */
  source: string;
  /** Training setup behind the numbers. */
  setup: string;
}

/** The published columns, in table order. */
export const PUBLISHED_SOURCES: readonly PublishedSource[] = [
  {
    key: "cutpaste",
    label: "CutPaste 3-way (paper)",
    source: "Li, Sohn, Yoon, Pfister — CutPaste: Self-Supervised Learning for Anomaly Detection and " +
      "Localization, CVPR 2021, Table 1 (3-way)",
    setup: "ImageNet-pretrained ResNet18, Gaussian density on the embeddings",
  },
  {
    key: "sspcab",
    label: "CutPaste 3-way + SSPCAB (paper)",
    source: "Ristea, Madan, Ionescu, Nasrollahi, Khan, Moeslund, Shah — Self-Supervised Predictive " +
      "Convolutional Attentive Block for Anomaly Detection, CVPR 2022 (MVTec AD, CutPaste 3-way + SSPCAB)",
    setup: "as CutPaste, with SSPCAB between layer3 and layer4 and λ = 0.01",
  },
  {
    key: "paddle",
    label: "Paddle reproduction",
    source: "PaddlePaddle reproduction of CutPaste 3-way + SSPCAB",
    setup: "ImageNet-pretrained ResNet18, 500 steps, batch 96",
  },
  {
    key: "pytorchScratch",
    label: "PyTorch, from scratch",
    source: "PyTorch reimplementation of CutPaste 3-way",
    setup: "random initialisation (no ImageNet weights), 10,000 steps",
  },
];

/** One category's published AUROCs (%), by column. */
export type PublishedRow = Readonly<Record<PublishedKey, number>>;

/** Published image AUROC (%) per MVTec AD category. */
export const PUBLISHED_AUROC: Readonly<Record<MvtecCategory, PublishedRow>> = {
  bottle: { cutpaste: 98.3, sspcab: 98.6, paddle: 100.0, pytorchScratch: 99.6 },
  cable: { cutpaste: 80.6, sspcab: 82.9, paddle: 90.8, pytorchScratch: 77.2 },
  capsule: { cutpaste: 96.2, sspcab: 98.1, paddle: 93.1, pytorchScratch: 92.4 },
  carpet: { cutpaste: 93.1, sspcab: 90.7, paddle: 90.2, pytorchScratch: 60.1 },
  grid: { cutpaste: 99.9, sspcab: 99.9, paddle: 100.0, pytorchScratch: 100.0 },
  hazelnut: { cutpaste: 97.3, sspcab: 98.3, paddle: 99.7, pytorchScratch: 86.8 },
  leather: { cutpaste: 100.0, sspcab: 100.0, paddle: 100.0, pytorchScratch: 100.0 },
  metal_nut: { cutpaste: 99.3, sspcab: 100.0, paddle: 98.3, pytorchScratch: 87.8 },
  pill: { cutpaste: 92.4, sspcab: 95.3, paddle: 94.9, pytorchScratch: 91.7 },
  screw: { cutpaste: 86.3, sspcab: 90.8, paddle: 81.2, pytorchScratch: 86.8 },
  tile: { cutpaste: 93.4, sspcab: 94.0, paddle: 99.4, pytorchScratch: 97.2 },
  toothbrush: { cutpaste: 98.3, sspcab: 98.8, paddle: 99.4, pytorchScratch: 94.7 },
  transistor: { cutpaste: 95.5, sspcab: 96.5, paddle: 98.5, pytorchScratch: 93.0 },
  wood: { cutpaste: 98.6, sspcab: 99.2, paddle: 100.0, pytorchScratch: 99.4 },
  zipper: { cutpaste: 99.4, sspcab: 98.1, paddle: 100.0, pytorchScratch: 98.8 },
};

/** The published means over the 15 categories, as printed (rounded to one decimal). */
export const PUBLISHED_MEAN: PublishedRow = {
  cutpaste: 95.2,
  sspcab: 96.1,
  paddle: 96.4,
  pytorchScratch: 91.0,
};

/** One of our results: a category and its image AUROC as a fraction (0–1), as evaluation reports it. */
export interface OurResult {
  /** Category name. */
  category: string;
  /** Image AUROC, 0–1. */
  auroc: number;
}

/** One row of {@link compareWithPublished}. */
export interface ComparisonRow {
  /** Row label (the category, or a description of the mean). */
  label: string;
  /** `category`: one category; `mean`: mean over our categories; `published-mean`: the 15-category mean. */
  kind: "category" | "mean" | "published-mean";
  /** Our AUROC in % (null when there is nothing of ours to show in this row). */
  ours: number | null;
  /** The published AUROCs in % (null for a category that is not an MVTec AD one). */
  published: Record<PublishedKey, number | null>;
}

function emptyPublished(): Record<PublishedKey, number | null> {
  return { cutpaste: null, sspcab: null, paddle: null, pytorchScratch: null };
}

function meanOf(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

/**
 * Our per-category results next to the published ones, in percent: one row per result (published values
 * null for categories outside MVTec AD, e.g. the synthetic set); with two or more results a `mean` row over
 * them (the published columns averaged over the same categories when all of them are MVTec AD ones); and
 * always the published 15-category mean (with our mean only when all 15 categories were evaluated).
 */
export function compareWithPublished(ours: readonly OurResult[]): ComparisonRow[] {
  const rows: ComparisonRow[] = ours.map((r) => ({
    label: r.category,
    kind: "category",
    ours: Number.isFinite(r.auroc) ? r.auroc * 100 : null,
    published: isMvtecCategory(r.category) ? { ...PUBLISHED_AUROC[r.category] } : emptyPublished(),
  }));
  const finite = ours.filter((r) => Number.isFinite(r.auroc));
  if (ours.length >= 2) {
    const published = emptyPublished();
    if (ours.every((r) => isMvtecCategory(r.category))) {
      for (const s of PUBLISHED_SOURCES) {
        published[s.key] = meanOf(ours.map((r) => PUBLISHED_AUROC[r.category as MvtecCategory][s.key]));
      }
    }
    rows.push({
      label: `mean of these ${ours.length} categories`,
      kind: "mean",
      ours: finite.length === ours.length ? meanOf(finite.map((r) => r.auroc * 100)) : null,
      published,
    });
  }
  const all = MVTEC_CATEGORIES.every((c) => finite.some((r) => r.category === c));
  rows.push({
    label: "published mean (15 MVTec AD categories)",
    kind: "published-mean",
    ours: all ? meanOf(MVTEC_CATEGORIES.map((c) => finite.find((r) => r.category === c)!.auroc * 100)) : null,
    published: { ...PUBLISHED_MEAN },
  });
  return rows;
}

/** A published pixel-level localisation figure: the MVTec AD mean pixel AUROC of one map method. */
export interface PublishedLocalization {
  /** The map method it corresponds to (`gradcam` or `patch`, as in `lib/localize`). */
  method: "gradcam" | "patch";
  /** How the publication names it. */
  label: string;
  /** Mean pixel AUROC (%) over the 15 MVTec AD categories, as printed. */
  pixelAuroc: number;
  /** The publication. */
  source: string;
  /** Training setup behind the number. */
  setup: string;
}

/**
 * The CutPaste paper's localisation results (MVTec AD mean pixel AUROC, %): GradCAM on the image-level
 * 3-way model, and the patch-level model scored densely. The paper reports no AU-PRO, and SSPCAB's paper no
 * map of its reconstruction error, so those have no published counterpart.
 */
export const PUBLISHED_PIXEL_AUROC: readonly PublishedLocalization[] = [
  {
    method: "gradcam",
    label: "CutPaste, GradCAM of the image-level model",
    pixelAuroc: 88.3,
    source: "Li, Sohn, Yoon, Pfister — CutPaste, CVPR 2021 (localisation, image-level model + GradCAM)",
    setup: "ImageNet-pretrained ResNet18, full training, 256² images",
  },
  {
    method: "patch",
    label: "CutPaste, patch-level model (64² patches, stride 4)",
    pixelAuroc: 96.0,
    source: "Li, Sohn, Yoon, Pfister — CutPaste, CVPR 2021 (localisation, patch-level 3-way model)",
    setup: "ImageNet-pretrained ResNet18 trained on 64×64 patches of 256² images, full training",
  },
];
