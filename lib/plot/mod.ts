/**
 * Plotting: figures as plotly-style JSON specs (`figure.ts`), rendered to SVG by our own code (`svg.ts`), to
 * PNG through sharp (`png.ts`), or shown interactively in a browser with nodeplotlib (`show.ts`).
 *
 * ```ts
 * import { rocFigure, savePng } from "./lib/plot/mod.ts";
 * await savePng(rocFigure([{ name: "bottle", fpr, tpr, auc }], "ROC — bottle"), "outputs/plots/roc.png");
 * ```
 * @module
 */
export * from "./figure.ts";
export * from "./svg.ts";
export * from "./png.ts";
export * from "./show.ts";
