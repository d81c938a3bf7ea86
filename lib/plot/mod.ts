/**
 * Plotting: figures as plotly-style JSON specs, rendered to SVG by our own code, to PNG through sharp, or shown
 * interactively in a browser; receptive-field drawings; masks and regions drawn over images and labelled image
 * grids.
 *
 * @example A ROC curve as an SVG document
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderSvg, rocFigure } from "./mod.ts";
 * const svg = renderSvg(rocFigure([{ name: "bottle", fpr: [0, 0.2, 1], tpr: [0, 0.9, 1], auc: 0.89 }]));
 * assert.ok(svg.startsWith("<svg"));
 * ```
 * @module
 */
export {
  type Annotation,
  type Axis,
  barFigure,
  type BarOptions,
  type BarSeries,
  type BarTrace,
  type Bins,
  type Dash,
  type Figure,
  type FigureOptions,
  type Font,
  groupColors,
  type GroupedPoint,
  type HistogramOptions,
  type HistogramTrace,
  type HistoryPoint,
  type Layout,
  type Legend,
  type LineStyle,
  lossCurveFigure,
  type MarkerStyle,
  niceStep,
  orderGroups,
  PALETTE,
  proCurveFigure,
  type ProCurveInput,
  type RocCurveInput,
  rocFigure,
  scatterFigure,
  type ScatterOptions,
  type ScatterTrace,
  scoreHistogramFigure,
  type SecondaryAxis,
  type Shape,
  sharedBins,
  thinCurve,
  type Title,
  titleText,
  type Trace,
  type TraceBase,
} from "./figure.ts";
export {
  composeGrid,
  DEFECT_COLOR,
  denormalizeImage,
  fitText,
  type GridCell,
  type GridOptions,
  localizationPanel,
  localizationPanelCells,
  type LocalizationPanelInput,
  maskOutline,
  outlineMask,
  overlayMask,
  type OverlayOptions,
  PASTE_COLOR,
  PREDICTED_COLOR,
  predictedMask,
  type Rgb,
} from "./images.ts";
export { figureToPng, type PngOptions, saveFigurePng, savePng, saveSvg, svgSize, svgToPng } from "./png.ts";
export {
  type FieldCell,
  type ReceptiveField,
  receptiveField,
  type ReceptiveFieldOptions,
  receptiveFieldSvg,
} from "./receptive_field.ts";
export { displayable, NODEPLOTLIB_SPECIFIER, showFigure, type ShowOptions } from "./show.ts";
export {
  type AxisInfo,
  dashArray,
  escapeXml,
  FONT_FAMILY,
  formatTick,
  histogramBins,
  type HistogramInfo,
  niceTicks,
  type PlotBox,
  renderSvg,
  type ResolvedFigure,
  resolveFigure,
  textWidth,
} from "./svg.ts";

// Types and values the API above refers to, defined in other areas.
export type { Mask } from "../data/rgb_image.ts";
export type { RgbImage } from "../data/rgb_image.ts";
export type { SspcabConfig } from "../model/sspcab.ts";
