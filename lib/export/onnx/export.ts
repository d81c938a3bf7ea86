/**
 * Export of a trained {@link ProjectionNet} with its fitted Gaussian density and decision threshold as one
 * ONNX model (opset 17, IR version 8), runnable by ONNX Runtime (C++, C#, Python, Java, Node), OpenVINO or
 * TensorRT without any of this project's code.
 *
 * The graph is the eval-mode network in NCHW with every BatchNorm folded (in float64) into the convolution or
 * linear layer before it:
 * - input `image`: `[batch, H, W, 3]` raw RGB, float32 in 0…255 or uint8; the graph casts, transposes to
 *   NCHW and applies the ImageNet normalisation `(x/255 − mean)/std` itself;
 * - ResNet18 (`Conv` with OIHW weights + `Relu`, `MaxPool`, `Add`), SSPCAB between layer3 and layer4
 *   (`Pad` — constant or reflect — four `Slice`s, `Concat`, one `Conv` equal to the sum of the four masked
 *   sub-kernel convolutions, squeeze-and-excitation with `GlobalAveragePool`, `Gemm`, `Sigmoid`);
 * - output `embedding` `[batch, 512]`: the global-average-pooled layer4 features;
 * - output `score` `[batch]` (with a density): the Mahalanobis distance of the L2-normalised embedding,
 *   computed as `‖(e/‖e‖ − μ)·W‖₂` with `W Wᵀ = P` factored at export in float64 (see `whiten.ts`);
 * - output `pred_label` `[batch]` bool (with a threshold): `score ≥ threshold`, true = anomalous;
 * - output `logits` `[batch, classes]` (optional): the classifier head (`Gemm` with the BatchNorm1d folded,
 *   `Relu`, then the output layer);
 * - output `anomaly_map` `[batch, H, W]` (default when the model has SSPCAB): SSPCAB's reconstruction error
 *   `mean_c (SSPCAB(F) − F)²` at every layer3 position (`Sub`, `Mul`, `ReduceMean` over the channels), upsampled
 *   to the input size by `Resize` (linear, `half_pixel` — PyTorch `align_corners=False`) — the map of
 *   `lib/localize/sspcab_map.ts` with no smoothing — or GradCAM of the score w.r.t. layer4 with the analytic
 *   gradient (as the graph model, see `graph_model.ts`; `P d = (d W) Wᵀ` reuses the whitening matrix),
 *   upsampled and smoothed by two constant `MatMul`s `M_h · cam · M_wᵀ` (see `map_spec.ts`).
 *
 * `metadata_props` carry the category, image size, preprocessing, threshold(s), score formula, density
 * summary, training summary and the exporter version.
 * @module
 */
import type { ProjectionNet } from "../../model/projection_net.ts";
import { RESNET18_EMBED_DIM, RESNET18_WIDTHS } from "../../model/resnet18.ts";
import { sspcabOffsets } from "../../model/sspcab.ts";
import { createMatrix, type Matrix } from "../../eval/linalg.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../../data/normalize.ts";
import { LIBRARY_VERSION } from "../../version.ts";
import { foldBatchNorm, layer3Size, layer4Size } from "../graph_model.ts";
import { type GraphMapSpec, graphMapSpec, upsampleMatrix } from "../map_spec.ts";
import { OnnxGraphBuilder, tensorValueInfo } from "./graph_builder.ts";
import { DataType, encodeModel, type ModelJson, type ValueInfoJson } from "./schema.ts";
import { whiteningMatrix } from "./whiten.ts";

/** ONNX operator set the exporter targets. */
export const ONNX_OPSET = 17;
/** ONNX IR version matching {@link ONNX_OPSET}. */
export const ONNX_IR_VERSION = 8;
/** Version of this exporter's graph layout, recorded in `metadata_props` (`exporter_version` is the library's). */
export const ONNX_EXPORT_VERSION = 1;
/** `metadata_props` value of `format`, identifying our models. */
export const ONNX_MODEL_FORMAT = "sspcab-onnx";
/** Name of the symbolic batch dimension of every input and output. */
export const BATCH_DIM = "batch";

/** Smallest norm used when L2-normalising the embedding (a zero row stays zero, as in scikit-learn). */
const MIN_NORM = 1e-12;

/** The Gaussian density the `score` output evaluates. */
export interface OnnxDensity {
  /** Mean μ of the (normalised) training embeddings, length 512. */
  mean: ArrayLike<number>;
  /** Precision matrix P, `512 × 512` row-major (float64 preferred: it is factored in float64). */
  precision: ArrayLike<number>;
  /** L2-normalise the embedding before scoring (default true, as the reference evaluation). */
  l2Normalize?: boolean;
}

/** Options of {@link buildOnnxModel}. */
export interface OnnxExportOptions {
  /** Input size the network was trained and calibrated at: a side length or `[height, width]`. */
  imageSize: number | readonly [number, number];
  /** Element type of the `image` input: float32 in 0…255 (default) or uint8. */
  inputType?: "float32" | "uint8";
  /** A Gaussian density: adds the `score` output. */
  density?: OnnxDensity;
  /** Decision threshold on the score: adds the `pred_label` output (needs `density`). */
  threshold?: number;
  /** Further named thresholds recorded in the metadata (e.g. `{ youden: 1.2 }`). */
  thresholds?: Record<string, number>;
  /** Add the classifier's `logits` output (default false). */
  includeLogits?: boolean;
  /**
   * The `anomaly_map` output: `true` or a spec with method `sspcab` (SSPCAB's reconstruction error upsampled
   * to the input size; needs the SSPCAB block) or `gradcam` (GradCAM of the score w.r.t. layer4; needs
   * `density`), `false` for none. Default: the sspcab map when the model has SSPCAB, else none.
   */
  anomalyMap?: boolean | GraphMapSpec;
  /** Pixel threshold of the map (metadata `pixel_threshold`: a map value ≥ it marks a defect pixel). */
  pixelThreshold?: number;
  /** Per-channel normalisation of the 0…1 input (default ImageNet mean/std). */
  normalization?: { mean: readonly number[]; std: readonly number[] };
  /** Category the model was trained for (metadata `category`). */
  category?: string;
  /** Training summary recorded as JSON in metadata `training` (configuration, step, AUROC, …). */
  training?: unknown;
  /** Further `metadata_props` entries (strings as they are, anything else as JSON). */
  metadata?: Record<string, unknown>;
}

/** An exported ONNX model. */
export interface OnnxModelArtifacts {
  /** The `.onnx` file content. */
  bytes: Uint8Array;
  /** The model as plain objects (what was encoded). */
  model: ModelJson;
  /** Graph output names in order. */
  outputs: string[];
  /** How the precision was factored (absent without a density). */
  whitening?: "cholesky" | "eigen";
}

type ParamReader = (name: string) => Promise<Float32Array>;

function paramReader(net: ProjectionNet): ParamReader {
  return async (name) => {
    const v = net.params.get(name);
    if (!v) throw new Error(`onnx export: model parameter "${name}" is missing`);
    return Float32Array.from(await v.data() as Float32Array);
  };
}

function shapeOf(net: ProjectionNet, name: string): number[] {
  const v = net.params.get(name);
  if (!v) throw new Error(`onnx export: model parameter "${name}" is missing`);
  return v.shape.slice();
}

/** HWIO → OIHW. */
function hwioToOihw(w: Float32Array, [kh, kw, ci, co]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < kh; h++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        const src = ((h * kw + x) * ci + i) * co;
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + h) * kw + x] = w[src + o];
      }
    }
  }
  return out;
}

/** [in, out] → [out, in]. */
function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** A layer's weight (TF layout) and bias with the BatchNorm `bn` folded in (none when `bn` is null). */
async function folded(
  net: ProjectionNet,
  read: ParamReader,
  layer: string,
  bn: string | null,
  hasBias: boolean,
): Promise<{ weight: Float32Array; bias: Float32Array; shape: number[] }> {
  const shape = shapeOf(net, `${layer}.weight`);
  const weight = await read(`${layer}.weight`);
  const bias = hasBias ? await read(`${layer}.bias`) : null;
  if (!bn) return { weight, bias: bias ?? new Float32Array(shape[shape.length - 1]), shape };
  const f = foldBatchNorm(weight, bias, {
    gamma: await read(`${bn}.weight`),
    beta: await read(`${bn}.bias`),
    mean: await read(`${bn}.running_mean`),
    variance: await read(`${bn}.running_var`),
  });
  return { weight: f.weight, bias: f.bias, shape };
}

interface Ctx {
  b: OnnxGraphBuilder;
  net: ProjectionNet;
  read: ParamReader;
}

/** `Conv` (+ folded BatchNorm) [+ `Relu`]: node `name`, weights `name.weight`/`name.bias` in OIHW. */
async function convBn(
  ctx: Ctx,
  name: string,
  x: string,
  param: string,
  bn: string | null,
  stride: number,
  pad: number,
  relu: string | null,
): Promise<string> {
  const f = await folded(ctx.net, ctx.read, param, bn, bn === null);
  const [kh, kw, ci, co] = f.shape;
  const w = ctx.b.initializer(`${name}.weight`, hwioToOihw(f.weight, f.shape), [co, ci, kh, kw]);
  const bias = ctx.b.initializer(`${name}.bias`, f.bias, [co]);
  const y = ctx.b.node("Conv", name, [x, w, bias], {
    kernel_shape: [kh, kw],
    strides: [stride, stride],
    pads: [pad, pad, pad, pad],
    dilations: [1, 1],
    group: 1,
  }, { doc: bn ? `${param} with ${bn} folded in` : param });
  return relu ? ctx.b.node("Relu", relu, [y]) : y;
}

/** `Gemm` (`x·Wᵀ + b`, W stored [out, in]) for a linear layer, optionally with a BatchNorm1d folded in. */
async function gemm(ctx: Ctx, name: string, x: string, param: string, bn: string | null): Promise<string> {
  const f = await folded(ctx.net, ctx.read, param, bn, true);
  const [inF, outF] = f.shape;
  const w = ctx.b.initializer(`${name}.weight`, transpose2d(f.weight, inF, outF), [outF, inF]);
  const bias = ctx.b.initializer(`${name}.bias`, f.bias, [outF]);
  return ctx.b.node("Gemm", name, [x, w, bias], { alpha: { float: 1 }, beta: { float: 1 }, transB: 1 }, {
    doc: bn ? `${param} with ${bn} folded in` : param,
  });
}

async function basicBlock(ctx: Ctx, prefix: string, x: string, stride: number): Promise<string> {
  const h = await convBn(
    ctx,
    `${prefix}.conv1`,
    x,
    `${prefix}.conv1`,
    `${prefix}.bn1`,
    stride,
    1,
    `${prefix}.relu1`,
  );
  const out = await convBn(ctx, `${prefix}.conv2`, h, `${prefix}.conv2`, `${prefix}.bn2`, 1, 1, null);
  const identity = ctx.net.params.has(`${prefix}.downsample.0.weight`)
    ? await convBn(
      ctx,
      `${prefix}.downsample`,
      x,
      `${prefix}.downsample.0`,
      `${prefix}.downsample.1`,
      stride,
      0,
      null,
    )
    : x;
  const sum = ctx.b.node("Add", `${prefix}.add`, [out, identity]);
  return ctx.b.node("Relu", `${prefix}.relu2`, [sum]);
}

async function sspcabNodes(ctx: Ctx, x: string, hw: readonly [number, number]): Promise<string> {
  const { b, read } = ctx;
  const cfg = ctx.net.config.sspcab!;
  const c = cfg.channels;
  const k = cfg.kernelDim;
  const p = k + cfg.dilation;
  const border = k + 2 * cfg.dilation + 1;
  const pads = b.int64s("SSPCAB.pad.pads", [0, 0, p, p, 0, 0, p, p]);
  const padded = b.node("Pad", "SSPCAB.pad", [x, pads], {
    mode: cfg.padding === "reflect" ? "reflect" : "constant",
  }, { doc: `${cfg.padding} padding by ${p} on both spatial sides` });
  // Each view is the padded input cropped to (H + 2p − border) × (W + 2p − border) at a corner offset.
  const ph = hw[0] + 2 * p - border;
  const pw = hw[1] + 2 * p - border;
  const axes = b.int64s("SSPCAB.views.axes", [2, 3]);
  const views = sspcabOffsets(cfg).map(([r, col], i) => {
    const name = `SSPCAB.view${i + 1}`;
    const starts = b.int64s(`${name}.starts`, [r, col]);
    const ends = b.int64s(`${name}.ends`, [r + ph, col + pw]);
    return b.node("Slice", name, [padded, starts, ends, axes], {}, {
      doc: `the input seen by sub-kernel conv${i + 1}`,
    });
  });
  const concat = b.node("Concat", "SSPCAB.concat", views, { axis: 1 });
  // Σᵢ conv(viewᵢ, Wᵢ) + bᵢ = conv(concat(views), [W₁ W₂ W₃ W₄] along input channels) + Σᵢ bᵢ.
  const stacked = new Float32Array(c * 4 * c * k * k);
  const bias = new Float32Array(c);
  for (let i = 0; i < 4; i++) {
    const w = await read(`SSPCAB.conv${i + 1}.weight`); // HWIO [k, k, c, c]
    const bi = await read(`SSPCAB.conv${i + 1}.bias`);
    for (let o = 0; o < c; o++) bias[o] += bi[o];
    for (let h = 0; h < k; h++) {
      for (let x2 = 0; x2 < k; x2++) {
        for (let ci = 0; ci < c; ci++) {
          const src = ((h * k + x2) * c + ci) * c;
          for (let o = 0; o < c; o++) {
            stacked[((o * 4 * c + i * c + ci) * k + h) * k + x2] = w[src + o];
          }
        }
      }
    }
  }
  const wName = b.initializer("SSPCAB.conv.weight", stacked, [c, 4 * c, k, k]);
  const bName = b.initializer("SSPCAB.conv.bias", bias, [c]);
  const conv = b.node("Conv", "SSPCAB.conv", [concat, wName, bName], {
    kernel_shape: [k, k],
    strides: [1, 1],
    pads: [0, 0, 0, 0],
    dilations: [1, 1],
    group: 1,
  }, { doc: "SSPCAB.conv1 … conv4 summed, as one convolution over the concatenated views" });
  const features = b.node("Relu", "SSPCAB.relu", [conv]);
  // Squeeze and excitation.
  const pooled = b.node("GlobalAveragePool", "SSPCAB.se.pool", [features]);
  const flat = b.node("Flatten", "SSPCAB.se.flatten", [pooled], { axis: 1 });
  const h = b.node("Relu", "SSPCAB.se.relu", [await gemm(ctx, "SSPCAB.se.fc1", flat, "SSPCAB.se.fc1", null)]);
  const gate = b.node("Sigmoid", "SSPCAB.se.sigmoid", [
    await gemm(ctx, "SSPCAB.se.fc2", h, "SSPCAB.se.fc2", null),
  ]);
  const gate4 = b.node("Unsqueeze", "SSPCAB.se.unsqueeze", [
    gate,
    b.int64s("SSPCAB.se.unsqueeze.axes", [2, 3]),
  ]);
  return b.node("Mul", "SSPCAB.scale", [features, gate4]);
}

/**
 * SSPCAB's reconstruction error `mean_c (s − f)²` (`f` = layer3, `s` = SSPCAB's output, NCHW) resized
 * bilinearly with half-pixel centres to `height × width`: the `anomaly_map` value, `[batch, height, width]`.
 */
function anomalyMapNodes(
  b: OnnxGraphBuilder,
  f: string,
  s: string,
  height: number,
  width: number,
  sigma: number,
): string {
  const diff = b.node("Sub", "anomaly_map.diff", [s, f]);
  const sq = b.node("Mul", "anomaly_map.square", [diff, diff]);
  if (sigma > 0) {
    const grid = b.node("ReduceMean", "anomaly_map.channel_mean", [sq], { axes: [1], keepdims: 0 });
    const hw: [number, number] = [layer3Size(height), layer3Size(width)];
    return matrixUpsample(b, "anomaly_map.upsample", grid, hw, [height, width], sigma);
  }
  const grid = b.node("ReduceMean", "anomaly_map.channel_mean", [sq], { axes: [1], keepdims: 1 }, {
    doc: "[batch, 1, h, w] squared reconstruction error averaged over the channels",
  });
  // Resize by target sizes [batch, 1, H, W] (the batch read from the tensor), so the scale is exactly H/h.
  const shape = b.node("Shape", "anomaly_map.grid_shape", [grid]);
  const lead = b.node("Slice", "anomaly_map.grid_lead", [
    shape,
    b.int64s("anomaly_map.lead.starts", [0]),
    b.int64s("anomaly_map.lead.ends", [2]),
  ]);
  const sizes = b.node("Concat", "anomaly_map.sizes", [lead, b.int64s("anomaly_map.hw", [height, width])], {
    axis: 0,
  });
  const up = b.node("Resize", "anomaly_map.resize", [grid, "", "", sizes], {
    mode: "linear",
    coordinate_transformation_mode: "half_pixel",
  }, { doc: "bilinear, half-pixel centres (PyTorch align_corners=False)" });
  return b.node("Squeeze", "anomaly_map.squeeze", [up, b.int64s("anomaly_map.squeeze.axes", [1])], {}, {
    output: "anomaly_map",
  });
}

/**
 * A `[batch, h, w]` grid upsampled (and smoothed) to `[batch, H, W]` by `M_h · grid · M_wᵀ` (two broadcasting
 * `MatMul`s with constant matrices, see `map_spec.ts`); the result is the `anomaly_map` value.
 */
function matrixUpsample(
  b: OnnxGraphBuilder,
  prefix: string,
  grid: string,
  [h, w]: readonly [number, number],
  [height, width]: readonly [number, number],
  sigma: number,
): string {
  const mh = b.initializer(`${prefix}.mh`, Float32Array.from(upsampleMatrix(h, height, sigma)), [height, h]);
  const mw = upsampleMatrix(w, width, sigma);
  const mwT = new Float32Array(w * width);
  for (let o = 0; o < width; o++) for (let i = 0; i < w; i++) mwT[i * width + o] = mw[o * w + i];
  const mwName = b.initializer(`${prefix}.mw_t`, mwT, [w, width]);
  const rows = b.node("MatMul", `${prefix}.rows`, [mh, grid], {}, { doc: "M_h · grid: [batch, H, w]" });
  return b.node("MatMul", `${prefix}.cols`, [rows, mwName], {}, {
    output: "anomaly_map",
    doc: `· M_wᵀ: [batch, H, W] (bilinear half-pixel${sigma > 0 ? `, Gaussian σ ${sigma}` : ""})`,
  });
}

/**
 * GradCAM of the score w.r.t. layer4 `a` (`[batch, C, h, w]`) with the analytic gradient, reusing the score's
 * nodes: `z` (`score.l2.normalize`), `n` (`score.l2.clamp`), `d W` (`score.whiten`) and `W`.
 */
function gradcamNodes(
  b: OnnxGraphBuilder,
  a: string,
  l2Normalize: boolean,
  [h, w]: readonly [number, number],
  [height, width]: readonly [number, number],
  sigma: number,
): string {
  const p = "anomaly_map.gradcam";
  const s = b.node(
    "Max",
    `${p}.score`,
    [
      b.node("ReduceL2", `${p}.norm`, ["score.whiten"], { axes: [1], keepdims: 1 }),
      b.scalar(`${p}.min_score`, 1e-6),
    ],
    {},
    { doc: "s = sqrt(max(dᵀPd, 1e-12)), [batch, 1]" },
  );
  const pd = b.node("Gemm", `${p}.p_d`, ["score.whiten", "score.whitening"], { transB: 1 }, {
    doc: "P d = (d W) Wᵀ",
  });
  let grad = b.node("Div", `${p}.d_score_d_z`, [pd, s]);
  if (l2Normalize) {
    const z = "score.l2.normalize";
    const axes = b.int64s(`${p}.axes1`, [1]);
    const zg = b.node("ReduceSum", `${p}.z_dot_grad`, [b.node("Mul", `${p}.z_grad`, [z, grad]), axes], {
      keepdims: 1,
    });
    const tangent = b.node("Sub", `${p}.tangent`, [grad, b.node("Mul", `${p}.z_zg`, [z, zg])]);
    grad = b.node("Div", `${p}.d_score_d_e`, [tangent, "score.l2.clamp"]);
  }
  const alpha = b.node("Mul", `${p}.alpha`, [grad, b.scalar(`${p}.per_position`, 1 / (h * w))]);
  const alpha4 = b.node("Unsqueeze", `${p}.alpha4`, [alpha, b.int64s(`${p}.alpha4.axes`, [2, 3])]);
  const weighted = b.node("ReduceSum", `${p}.weighted_sum`, [
    b.node("Mul", `${p}.weighted`, [a, alpha4]),
    b.int64s(`${p}.channel_axis`, [1]),
  ], { keepdims: 0 });
  const cam = b.node("Relu", `${p}.relu`, [weighted], {}, { doc: "ReLU(Σ_c α_c A_c), [batch, h, w]" });
  return matrixUpsample(b, `${p}.upsample`, cam, [h, w], [height, width], sigma);
}

function imageHw(size: OnnxExportOptions["imageSize"]): [number, number] {
  const hw: [number, number] = typeof size === "number"
    ? [size, size]
    : [size?.[0], size?.[1]] as [number, number];
  if (!hw.every((v) => Number.isInteger(v) && v >= 32)) {
    throw new Error(
      `buildOnnxModel: imageSize must be an integer ≥ 32 or [height, width] of such, got ${size}`,
    );
  }
  return hw;
}

function densityMatrix(density: OnnxDensity, dim: number): Matrix {
  if (density.mean.length !== dim) {
    throw new Error(
      `buildOnnxModel: density mean has ${density.mean.length} values, the embedding has ${dim}`,
    );
  }
  if (density.precision.length !== dim * dim) {
    throw new Error(
      `buildOnnxModel: density precision has ${density.precision.length} values, expected ${dim}×${dim}`,
    );
  }
  const p = Float64Array.from(density.precision);
  if (!p.every(Number.isFinite) || !Array.from(density.mean).every(Number.isFinite)) {
    throw new Error("buildOnnxModel: density mean or precision is not finite");
  }
  return createMatrix(dim, dim, p);
}

const metaValue = (v: unknown): string => typeof v === "string" ? v : JSON.stringify(v);

/**
 * Build the ONNX model of a ProjectionNet in eval mode (see the module doc for the graph, its inputs and
 * outputs). Reads the variables asynchronously, so it works on every backend; the net is not modified.
 */
export async function buildOnnxModel(
  net: ProjectionNet,
  options: OnnxExportOptions,
): Promise<OnnxModelArtifacts> {
  const [height, width] = imageHw(options.imageSize);
  const norm = options.normalization ?? { mean: IMAGENET_MEAN, std: IMAGENET_STD };
  if (norm.mean.length !== 3 || norm.std.length !== 3 || norm.std.some((s) => !(s > 0))) {
    throw new Error("buildOnnxModel: normalization needs 3 means and 3 positive standard deviations");
  }
  if (options.threshold !== undefined && !options.density) {
    throw new Error("buildOnnxModel: a threshold needs a density (pred_label compares the score with it)");
  }
  if (options.threshold !== undefined && !Number.isFinite(options.threshold)) {
    throw new Error(`buildOnnxModel: threshold must be a finite number, got ${options.threshold}`);
  }
  const dim = RESNET18_EMBED_DIM;
  const precision = options.density ? densityMatrix(options.density, dim) : null;
  const inputType = options.inputType ?? "float32";
  const mapSpec = options.anomalyMap === false || (options.anomalyMap === undefined && !net.config.sspcab)
    ? null
    : options.anomalyMap === true || options.anomalyMap === undefined
    ? graphMapSpec("sspcab")
    : options.anomalyMap;
  if (mapSpec?.method === "sspcab" && !net.config.sspcab) {
    throw new Error("buildOnnxModel: anomalyMap needs a model with the SSPCAB block; this one has none");
  }
  if (mapSpec?.method === "gradcam" && !options.density) {
    throw new Error(
      "buildOnnxModel: the gradcam anomalyMap needs a Gaussian density (it is the score's gradient)",
    );
  }
  if (options.pixelThreshold !== undefined && !Number.isFinite(options.pixelThreshold)) {
    throw new Error(`buildOnnxModel: pixelThreshold must be a finite number, got ${options.pixelThreshold}`);
  }
  const b = new OnnxGraphBuilder();
  const ctx: Ctx = { b, net, read: paramReader(net) };

  // Preprocessing: [batch, H, W, 3] raw RGB → NCHW, (x/255 − mean)/std = x·1/(255·std) + (−mean/std).
  const image = b.input("image");
  const asFloat = inputType === "uint8"
    ? b.node("Cast", "preprocess.cast", [image], { to: DataType.FLOAT }, { doc: "uint8 → float32" })
    : image;
  const nchw = b.node("Transpose", "preprocess.to_nchw", [asFloat], { perm: [0, 3, 1, 2] });
  const scale = b.initializer(
    "preprocess.scale",
    Float32Array.from(norm.std, (s) => 1 / (255 * s)),
    [1, 3, 1, 1],
    "1 / (255·std) per RGB channel",
  );
  const shift = b.initializer(
    "preprocess.shift",
    Float32Array.from(norm.mean, (m, c) => -m / norm.std[c]),
    [1, 3, 1, 1],
    "−mean/std per RGB channel",
  );
  const scaled = b.node("Mul", "preprocess.scale_mul", [nchw, scale]);
  const x = b.node("Add", "preprocess.normalize", [scaled, shift]);

  // ResNet18 stem: conv1 7×7/2 pad 3 + bn1 + ReLU, max pool 3/2 pad 1 (ONNX pads MaxPool with −∞).
  let y = await convBn(ctx, "resnet18.conv1", x, "resnet18.conv1", "resnet18.bn1", 2, 3, "resnet18.relu");
  y = b.node("MaxPool", "resnet18.maxpool", [y], {
    kernel_shape: [3, 3],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  });
  let withMapOutput = false;
  for (let layer = 1; layer <= RESNET18_WIDTHS.length; layer++) {
    if (layer === 4 && net.config.sspcab) {
      const f = y;
      y = await sspcabNodes(ctx, f, [layer3Size(height), layer3Size(width)]);
      if (mapSpec?.method === "sspcab") {
        anomalyMapNodes(b, f, y, height, width, mapSpec.sigma);
        withMapOutput = true;
      }
    }
    for (let blk = 0; blk < 2; blk++) {
      y = await basicBlock(ctx, `resnet18.layer${layer}.${blk}`, y, layer > 1 && blk === 0 ? 2 : 1);
    }
  }
  const pooled = b.node("GlobalAveragePool", "resnet18.avgpool", [y]);
  const embedding = b.node("Flatten", "resnet18.flatten", [pooled], { axis: 1 }, { output: "embedding" });
  const outputs: ValueInfoJson[] = [
    tensorValueInfo("embedding", DataType.FLOAT, [BATCH_DIM, dim], "global-average-pooled layer4 features"),
  ];

  let whitening: "cholesky" | "eigen" | undefined;
  const l2Normalize = options.density?.l2Normalize ?? true;
  if (options.density && precision) {
    let e = embedding;
    if (l2Normalize) {
      const n = b.node("ReduceL2", "score.l2.norm", [e], { axes: [1], keepdims: 1 });
      const safe = b.node("Max", "score.l2.clamp", [n, b.scalar("score.l2.min_norm", MIN_NORM)]);
      e = b.node("Div", "score.l2.normalize", [e, safe]);
    }
    const mean = b.initializer(
      "score.mean",
      Float32Array.from(options.density.mean),
      [dim],
      "density mean μ",
    );
    const centred = b.node("Sub", "score.center", [e, mean]);
    const w = whiteningMatrix(precision);
    whitening = w.method;
    const wName = b.initializer(
      "score.whitening",
      Float32Array.from(w.matrix.data),
      [dim, dim],
      `W with W·Wᵀ = precision (${w.method}, computed in float64)`,
    );
    const whitened = b.node("MatMul", "score.whiten", [centred, wName]);
    b.node("ReduceL2", "score.norm", [whitened], { axes: [1], keepdims: 0 }, { output: "score" });
    outputs.push(tensorValueInfo("score", DataType.FLOAT, [BATCH_DIM], "Mahalanobis distance"));
    if (options.threshold !== undefined) {
      const t = b.scalar("pred_label.threshold", options.threshold);
      b.node("GreaterOrEqual", "pred_label.compare", ["score", t], {}, { output: "pred_label" });
      outputs.push(tensorValueInfo("pred_label", DataType.BOOL, [BATCH_DIM], "score ≥ threshold: anomalous"));
    }
  }

  if (mapSpec?.method === "gradcam") {
    gradcamNodes(b, y, l2Normalize, [layer4Size(height), layer4Size(width)], [height, width], mapSpec.sigma);
    withMapOutput = true;
  }

  if (options.includeLogits) {
    let h = embedding;
    for (let i = 0; i < net.config.headLayers.length; i++) {
      const lin = await gemm(ctx, `head.${3 * i}`, h, `head.${3 * i}`, `head.${3 * i + 1}`);
      h = b.node("Relu", `head.${3 * i + 2}`, [lin]);
    }
    const out = await gemm(ctx, "out", h, "out", null);
    b.node("Identity", "logits.identity", [out], {}, { output: "logits" });
    outputs.push(
      tensorValueInfo("logits", DataType.FLOAT, [BATCH_DIM, net.config.numClasses], "classifier logits"),
    );
  }

  if (withMapOutput) {
    outputs.push(
      tensorValueInfo(
        "anomaly_map",
        DataType.FLOAT,
        [BATCH_DIM, height, width],
        mapSpec?.method === "gradcam"
          ? "GradCAM of the score w.r.t. layer4 per pixel (bilinear upsampling, Gaussian smoothing)"
          : "SSPCAB reconstruction error per pixel (mean over channels, bilinear upsampling)",
      ),
    );
  }

  const inputs = [
    tensorValueInfo(
      "image",
      inputType === "uint8" ? DataType.UINT8 : DataType.FLOAT,
      [BATCH_DIM, height, width, 3],
      `raw RGB, NHWC, ${
        inputType === "uint8" ? "uint8" : "float32 in 0..255"
      }, resized to ${height}x${width}`,
    ),
  ];
  const outputNames = outputs.map((o) => o.name);
  const meta: Record<string, unknown> = {
    format: ONNX_MODEL_FORMAT,
    exporter: "sspcab-deno",
    exporter_version: LIBRARY_VERSION,
    onnx_export_version: String(ONNX_EXPORT_VERSION),
    ...(options.category !== undefined ? { category: options.category } : {}),
    image_size: `${height}x${width}`,
    image_height: String(height),
    image_width: String(width),
    input: `image: ${inputType} [batch, ${height}, ${width}, 3], RGB, ${
      inputType === "uint8" ? "0..255" : "0..255 as float"
    }; resize (bicubic) before; the graph normalises`,
    normalization: { mean: [...norm.mean], std: [...norm.std] },
    outputs: outputNames,
    ...(options.density
      ? {
        score: `mahalanobis: || (e${
          l2Normalize ? " / max(||e||, 1e-12)" : ""
        } - mean) W ||_2 with W W^T = precision`,
      }
      : {}),
    ...(options.threshold !== undefined
      ? { threshold: String(options.threshold), pred_label: "score >= threshold (true = anomalous)" }
      : {}),
    ...(options.threshold !== undefined || options.thresholds
      ? {
        thresholds: {
          ...(options.threshold !== undefined ? { decision: options.threshold } : {}),
          ...options.thresholds,
        },
      }
      : {}),
    ...(withMapOutput && mapSpec
      ? {
        anomaly_map: (mapSpec.method === "gradcam"
          ? "GradCAM: ReLU(sum_c alpha_c A_c), A = layer4, alpha = d score / d mean_hw(A) / (h*w), "
          : "mean over channels of (SSPCAB(layer3) - layer3)^2, ") +
          `bilinear (half_pixel) to ${height}x${width}` +
          (mapSpec.sigma > 0 ? `, Gaussian sigma ${mapSpec.sigma} px (reflect)` : "") +
          "; higher = more anomalous",
        anomaly_map_method: mapSpec.method,
        anomaly_map_sigma: String(mapSpec.sigma),
      }
      : {}),
    ...(options.pixelThreshold !== undefined ? { pixel_threshold: String(options.pixelThreshold) } : {}),
    network: net.config,
    ...(options.training !== undefined ? { training: options.training } : {}),
    ...options.metadata,
  };
  const model: ModelJson = {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: "", version: ONNX_OPSET }],
    producer_name: "sspcab-deno",
    producer_version: LIBRARY_VERSION,
    domain: "sspcab",
    model_version: ONNX_EXPORT_VERSION,
    doc_string: "CutPaste + SSPCAB anomaly detector (ResNet18 + SSPCAB, eval mode, BatchNorm folded) " +
      "with its Gaussian density score" + (options.category ? ` for ${options.category}` : ""),
    graph: b.graph(
      "sspcab_projection_net",
      inputs,
      outputs,
      "raw RGB image → embedding → Mahalanobis score → label",
    ),
    metadata_props: Object.entries(meta).map(([key, value]) => ({ key, value: metaValue(value) })),
  };
  return { bytes: encodeModel(model), model, outputs: outputNames, whitening };
}
