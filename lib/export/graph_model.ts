/**
 * Export of a trained {@link ProjectionNet} as a TensorFlow.js **graph model** (`model.json` +
 * `group1-shard1of1.bin`), the format `tf.loadGraphModel` (tfjs-converter) runs in a browser, Deno or Node
 * without any of this project's code.
 *
 * The graph is the eval-mode network with every BatchNorm folded into the convolution or linear layer before
 * it (`W·γ/√(σ²+ε)`, `β + (b − μ)·γ/√(σ²+ε)`, computed in float64), so it consists of `_FusedConv2D`
 * (conv + bias [+ ReLU], PyTorch's symmetric padding as `EXPLICIT` padding) or `Conv2D` + `BiasAdd` [+ `Relu`]
 * when fusing is off, `Pad` + `MaxPool`, `AddV2`, `Relu`, `Mean`, `_FusedMatMul` / `MatMul`, and for SSPCAB
 * `Pad` (or `MirrorPad`) + four `Slice`s + `ConcatV2` + one convolution (the four masked sub-kernel convolutions
 * summed equal one convolution over the channel-concatenated views) + squeeze-and-excitation (`Mean`,
 * `_FusedMatMul`, `Sigmoid`, `Reshape`, `Mul`).
 *
 * Signature:
 * - input `image`: float32 `[-1, H, W, 3]`, raw RGB in 0…255; the graph applies the ImageNet normalisation
 *   (`x·1/(255·std) − mean/std`, constants inside the graph);
 * - output `embedding`: `[-1, 512]`, the global-average-pooled layer4 features;
 * - output `score` (when a Gaussian density is given): `[-1]`, the Mahalanobis distance
 *   `sqrt((e/‖e‖ − μ)ᵀ P (e/‖e‖ − μ))` of the L2-normalised embedding (no normalisation when the density says
 *   so);
 * - output `logits` (optional): `[-1, numClasses]`, the classifier head;
 * - output `anomaly_map` (default when the model has SSPCAB): `[-1, H, W]`, either SSPCAB's reconstruction
 *   error `mean_c (SSPCAB(F) − F)²` at every layer3 position (`Sub`, `Mul`, `Mean` over the channels),
 *   upsampled to the input size by `ResizeBilinear` with half-pixel centres (PyTorch `align_corners=False`) —
 *   the map of `lib/localize/sspcab_map.ts` — or GradCAM of the score w.r.t. layer4
 *   (`lib/localize/gradcam.ts`) by forward ops only: with `A` = layer4 `[N, h, w, C]`, `e = mean_hw A`,
 *   `n = max(‖e‖, 1e-12)`, `z = e/n`, `d = z − μ`, `s = sqrt(max(dᵀPd, 1e-12))`, the gradient is
 *   `∂s/∂z = P d / s`, `∂s/∂e = (∂s/∂z − z (zᵀ ∂s/∂z)) / n` (just `∂s/∂z` without L2 normalisation) and
 *   `∂s/∂A = ∂s/∂e / (h·w)` at every position, so `α = ∂s/∂e / (h·w)` and `cam = ReLU(Σ_c α_c A_c)`. A smoothed
 *   map (σ > 0, GradCAM's default 4) is upsampled and blurred by two constant `MatMul`s,
 *   `M_h · cam · M_wᵀ` with `M = Blur · Resize` (see `map_spec.ts`).
 *
 * Run it with `model.execute({ image }, ["embedding", "score"])` (or `executeAsync`).
 * @module
 */
import { BN_EPS } from "../model/layers.ts";
import type { ProjectionNet } from "../model/projection_net.ts";
import { RESNET18_EMBED_DIM, RESNET18_WIDTHS } from "../model/resnet18.ts";
import { sspcabOffsets } from "../model/sspcab.ts";
import {
  type GraphMapSpec,
  graphMapSpec,
  symmetricPart,
  transposeToFloat32,
  upsampleMatrix,
} from "./map_spec.ts";

/** Format tag of a TensorFlow.js graph model's `model.json`. */
export const GRAPH_MODEL_FORMAT = "graph-model";
/** File name of the single weight shard written next to `model.json`. */
export const GRAPH_MODEL_WEIGHTS_FILE = "group1-shard1of1.bin";
/** Name of the per-pixel anomaly map output (graph model and ONNX model alike). */
export const ANOMALY_MAP_OUTPUT = "anomaly_map";
/** Version of this exporter, recorded in `userDefinedMetadata`. */
export const GRAPH_MODEL_EXPORT_VERSION = 1;

/** ImageNet channel means (RGB) baked into the graph by default (same values as `lib/data/images.ts`). */
const DEFAULT_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB) baked into the graph by default. */
const DEFAULT_STD: readonly number[] = [0.229, 0.224, 0.225];
/** Smallest norm used when L2-normalising an embedding in the graph (a zero row stays zero, as in sklearn). */
const MIN_NORM = 1e-12;

/** A Gaussian density over embeddings, as needed to compute the anomaly score inside the graph. */
export interface GraphDensity {
  /** The mean μ of the (normalised) training embeddings, length = embedding size (512). */
  mean: ArrayLike<number>;
  /** The precision matrix P (inverse covariance), row-major, `dim × dim`. */
  precision: ArrayLike<number>;
  /** Whether embeddings are L2-normalised before scoring (default true, as in the reference evaluation). */
  l2Normalize?: boolean;
}

/** Options of {@link buildGraphModel}. */
export interface GraphModelOptions {
  /**
   * Input size the network was trained at: a side length, or `[height, width]`. The input is
   * `[-1, height, width, 3]` (SSPCAB's crops are static slices, and the density is calibrated at this size).
   */
  imageSize: number | readonly [number, number];
  /** A Gaussian density: adds the `score` output. */
  density?: GraphDensity;
  /** Add the classifier's `logits` output (default false). */
  includeLogits?: boolean;
  /**
   * The `anomaly_map` output: `true` or a spec with method `sspcab` (SSPCAB's reconstruction error upsampled
   * to the input size; needs the SSPCAB block) or `gradcam` (GradCAM of the score w.r.t. layer4; needs
   * `density`), `false` for none. Default: the sspcab map when the model has SSPCAB, else none.
   */
  anomalyMap?: boolean | GraphMapSpec;
  /**
   * Use fused `_FusedConv2D` / `_FusedMatMul` nodes (conv + bias + ReLU in one kernel; default true). Set false
   * for plain `Conv2D` + `BiasAdd` + `Relu`, e.g. for runtimes other than TensorFlow.js.
   */
  fuse?: boolean;
  /** Per-channel normalisation applied to the 0…255 input (default ImageNet mean/std on the 0…1 scale). */
  normalization?: { mean: readonly number[]; std: readonly number[] };
  /** Extra JSON-serialisable facts stored under `userDefinedMetadata.sspcab` (category, run id, …). */
  metadata?: Record<string, unknown>;
}

/** A GraphDef attribute value in the JSON form of the TensorFlow protobuf (as tfjs-converter writes it). */
export type AttrValue =
  | { type: string }
  | { s: string }
  | { i: string }
  | { f: number }
  | { b: boolean }
  | { shape: TensorShapeJson }
  | { tensor: { dtype: string; tensorShape: TensorShapeJson } }
  | { list: { i?: string[]; s?: string[]; f?: number[]; type?: string[] } };

/** A TensorShapeProto in JSON form (`dim` absent for a scalar). */
export interface TensorShapeJson {
  /** Dimensions; int64 sizes are strings, `-1` is unknown. */
  dim?: Array<{ size: string }>;
}

/** A NodeDef in JSON form. */
export interface GraphNodeJson {
  /** Unique node name; other nodes refer to its first output as `name` (or `name:0`). */
  name: string;
  /** TensorFlow op name (`Conv2D`, `_FusedConv2D`, `Const`, …). */
  op: string;
  /** Input tensor names. */
  input: string[];
  /** Attributes by name. */
  attr: Record<string, AttrValue>;
}

/** A signature entry (TensorInfo in JSON form). */
export interface SignatureEntry {
  /** Tensor name in the graph, `node:0`. */
  name: string;
  /** Element type, `DT_FLOAT`. */
  dtype: string;
  /** Static shape, `-1` where unknown. */
  tensorShape: TensorShapeJson;
}

/** A weight entry of the manifest. */
export interface WeightEntry {
  /** Name of the `Const` node it feeds. */
  name: string;
  /** Shape. */
  shape: number[];
  /** Element type. */
  dtype: "float32" | "int32";
}

/** The content of `model.json`: a TensorFlow.js graph model (`ModelJSON` with `format: "graph-model"`). */
export interface GraphModelJson {
  /** Always {@link GRAPH_MODEL_FORMAT}. */
  format: typeof GRAPH_MODEL_FORMAT;
  /** What produced the graph. */
  generatedBy: string;
  /** What wrote this file. */
  convertedBy: string;
  /** The GraphDef in JSON form. */
  modelTopology: {
    node: GraphNodeJson[];
    library: Record<string, never>;
    versions: { producer: number; minConsumer: number };
  };
  /** Weight groups: one shard holding every `Const` node's values in order. */
  weightsManifest: Array<{ paths: string[]; weights: WeightEntry[] }>;
  /** Named inputs and outputs. */
  signature: { inputs: Record<string, SignatureEntry>; outputs: Record<string, SignatureEntry> };
  /** Facts about the export (`sspcab` key): input convention, outputs, network configuration. */
  userDefinedMetadata: { sspcab: Record<string, unknown> };
}

/** A graph model in memory: `model.json`'s content and the weight shard's bytes. */
export interface GraphModelArtifacts {
  /** The `model.json` object (pure JSON). */
  modelJson: GraphModelJson;
  /** The bytes of {@link GRAPH_MODEL_WEIGHTS_FILE} (little-endian float32/int32, manifest order). */
  weightData: ArrayBuffer;
}

// ---------------------------------------------------------------------------------------------------------
// GraphDef building blocks.

interface ConstValue {
  entry: WeightEntry;
  values: Float32Array | Int32Array;
}

interface GraphState {
  nodes: GraphNodeJson[];
  consts: ConstValue[];
  names: Set<string>;
  fuse: boolean;
}

const b64 = (s: string): string => btoa(s);
const attrType = (dtype: string): AttrValue => ({ type: dtype });
const attrInts = (xs: readonly number[]): AttrValue => ({ list: { i: xs.map((x) => String(x)) } });
const attrStr = (s: string): AttrValue => ({ s: b64(s) });
const attrStrs = (ss: readonly string[]): AttrValue => ({ list: { s: ss.map(b64) } });
const attrBool = (b: boolean): AttrValue => ({ b });
const attrInt = (n: number): AttrValue => ({ i: String(n) });
const attrFloat = (f: number): AttrValue => ({ f });
const shapeJson = (shape: readonly number[]): TensorShapeJson =>
  shape.length ? { dim: shape.map((d) => ({ size: String(d) })) } : {};
const T_FLOAT = { T: attrType("DT_FLOAT") };

function addNode(
  g: GraphState,
  name: string,
  op: string,
  input: string[],
  attr: Record<string, AttrValue> = {},
): string {
  if (g.names.has(name)) throw new Error(`graph export: duplicate node name "${name}"`);
  g.names.add(name);
  g.nodes.push({ name, op, input, attr });
  return name;
}

function addConst(
  g: GraphState,
  name: string,
  values: Float32Array | Int32Array,
  shape: readonly number[],
): string {
  const size = shape.reduce((a, b) => a * b, 1);
  if (values.length !== size) {
    throw new Error(`graph export: constant "${name}" has ${values.length} values for shape [${shape}]`);
  }
  const dtype = values instanceof Int32Array ? "int32" : "float32";
  const tfType = dtype === "int32" ? "DT_INT32" : "DT_FLOAT";
  addNode(g, name, "Const", [], {
    dtype: attrType(tfType),
    value: { tensor: { dtype: tfType, tensorShape: shapeJson(shape) } },
  });
  g.consts.push({ entry: { name, shape: [...shape], dtype }, values });
  return name;
}

const ints = (g: GraphState, name: string, xs: readonly number[], shape: readonly number[] = [xs.length]) =>
  addConst(g, name, Int32Array.from(xs), shape);

/** Convolution (HWIO filter) + bias [+ ReLU], PyTorch symmetric zero padding `pad`, as one or three nodes. */
function convNode(
  g: GraphState,
  name: string,
  x: string,
  w: { values: Float32Array; shape: number[] },
  bias: Float32Array,
  stride: number,
  pad: number,
  relu: boolean,
): string {
  const filter = addConst(g, `${name}/weight`, w.values, w.shape);
  const b = addConst(g, `${name}/bias`, bias, [bias.length]);
  const convAttr: Record<string, AttrValue> = {
    ...T_FLOAT,
    strides: attrInts([1, stride, stride, 1]),
    padding: attrStr(pad > 0 ? "EXPLICIT" : "VALID"),
    data_format: attrStr("NHWC"),
    dilations: attrInts([1, 1, 1, 1]),
    use_cudnn_on_gpu: attrBool(true),
  };
  if (pad > 0) convAttr.explicit_paddings = attrInts([0, 0, pad, pad, pad, pad, 0, 0]);
  if (g.fuse) {
    return addNode(g, name, "_FusedConv2D", [x, filter, b], {
      ...convAttr,
      fused_ops: attrStrs(relu ? ["BiasAdd", "Relu"] : ["BiasAdd"]),
      num_args: attrInt(1),
      epsilon: attrFloat(0),
      leakyrelu_alpha: attrFloat(0.2),
    });
  }
  const conv = addNode(g, `${name}/conv`, "Conv2D", [x, filter], convAttr);
  const added = addNode(g, relu ? `${name}/bias_add` : name, "BiasAdd", [conv, b], {
    ...T_FLOAT,
    data_format: attrStr("NHWC"),
  });
  return relu ? addNode(g, name, "Relu", [added], T_FLOAT) : added;
}

/** `x @ W + b` [+ ReLU] with W stored [in, out]. */
function denseNode(
  g: GraphState,
  name: string,
  x: string,
  w: { values: Float32Array; shape: number[] },
  bias: Float32Array,
  relu: boolean,
): string {
  const weight = addConst(g, `${name}/weight`, w.values, w.shape);
  const b = addConst(g, `${name}/bias`, bias, [bias.length]);
  const mmAttr = { ...T_FLOAT, transpose_a: attrBool(false), transpose_b: attrBool(false) };
  if (g.fuse) {
    return addNode(g, name, "_FusedMatMul", [x, weight, b], {
      ...mmAttr,
      fused_ops: attrStrs(relu ? ["BiasAdd", "Relu"] : ["BiasAdd"]),
      num_args: attrInt(1),
      epsilon: attrFloat(0),
      leakyrelu_alpha: attrFloat(0.2),
    });
  }
  const mm = addNode(g, `${name}/matmul`, "MatMul", [x, weight], mmAttr);
  const added = addNode(g, relu ? `${name}/bias_add` : name, "BiasAdd", [mm, b], {
    ...T_FLOAT,
    data_format: attrStr("NHWC"),
  });
  return relu ? addNode(g, name, "Relu", [added], T_FLOAT) : added;
}

function binary(g: GraphState, name: string, op: string, a: string, b: string): string {
  return addNode(g, name, op, [a, b], T_FLOAT);
}

function reduce(g: GraphState, name: string, op: "Mean" | "Sum", x: string, axes: number[], keep: boolean) {
  const axis = ints(g, `${name}/axes`, axes);
  return addNode(g, name, op, [x, axis], {
    ...T_FLOAT,
    Tidx: attrType("DT_INT32"),
    keep_dims: attrBool(keep),
  });
}

function padNode(g: GraphState, name: string, x: string, p: number, mode: "zeros" | "reflect"): string {
  const paddings = ints(g, `${name}/paddings`, [0, 0, p, p, p, p, 0, 0], [4, 2]);
  const attr = { ...T_FLOAT, Tpaddings: attrType("DT_INT32") };
  if (mode === "reflect") {
    return addNode(g, name, "MirrorPad", [x, paddings], { ...attr, mode: attrStr("REFLECT") });
  }
  return addNode(g, name, "Pad", [x, paddings], attr);
}

// ---------------------------------------------------------------------------------------------------------
// Reading and folding parameters.

type ParamReader = (name: string) => Promise<Float32Array>;

function paramReader(net: ProjectionNet): ParamReader {
  return async (name) => {
    const v = net.params.get(name);
    if (!v) throw new Error(`graph export: model parameter "${name}" is missing`);
    // Asynchronous read: GPU backends (webgpu under Deno) cannot read synchronously.
    return Float32Array.from(await v.data() as Float32Array);
  };
}

function shapeOf(net: ProjectionNet, name: string): number[] {
  const v = net.params.get(name);
  if (!v) throw new Error(`graph export: model parameter "${name}" is missing`);
  return v.shape.slice();
}

/**
 * Fold an eval-mode BatchNorm (`bn.weight`, `bn.bias`, `bn.running_mean`, `bn.running_var`) into the weight
 * before it, whose last axis is the output channel (conv HWIO or linear [in, out]): returns the new weight and
 * bias, computed in float64.
 */
export function foldBatchNorm(
  weight: Float32Array,
  bias: Float32Array | null,
  bn: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array },
  eps = BN_EPS,
): { weight: Float32Array; bias: Float32Array } {
  const out = bn.gamma.length;
  if (weight.length % out !== 0) {
    throw new Error(`foldBatchNorm: weight of ${weight.length} values does not end in ${out} channels`);
  }
  const scale = new Float64Array(out);
  const newBias = new Float32Array(out);
  for (let c = 0; c < out; c++) {
    scale[c] = bn.gamma[c] / Math.sqrt(bn.variance[c] + eps);
    newBias[c] = bn.beta[c] + ((bias ? bias[c] : 0) - bn.mean[c]) * scale[c];
  }
  const newWeight = new Float32Array(weight.length);
  for (let i = 0; i < weight.length; i++) newWeight[i] = weight[i] * scale[i % out];
  return { weight: newWeight, bias: newBias };
}

async function foldedLayer(
  net: ProjectionNet,
  read: ParamReader,
  layer: string,
  bn: string | null,
  hasBias: boolean,
): Promise<{ w: { values: Float32Array; shape: number[] }; b: Float32Array }> {
  const shape = shapeOf(net, `${layer}.weight`);
  const weight = await read(`${layer}.weight`);
  const bias = hasBias ? await read(`${layer}.bias`) : null;
  if (!bn) return { w: { values: weight, shape }, b: bias ?? new Float32Array(shape[shape.length - 1]) };
  const folded = foldBatchNorm(weight, bias, {
    gamma: await read(`${bn}.weight`),
    beta: await read(`${bn}.bias`),
    mean: await read(`${bn}.running_mean`),
    variance: await read(`${bn}.running_var`),
  });
  return { w: { values: folded.weight, shape }, b: folded.bias };
}

// ---------------------------------------------------------------------------------------------------------
// The network.

async function convBn(
  g: GraphState,
  net: ProjectionNet,
  read: ParamReader,
  name: string,
  conv: string,
  bn: string,
  x: string,
  stride: number,
  pad: number,
  relu: boolean,
): Promise<string> {
  const { w, b } = await foldedLayer(net, read, conv, bn, false);
  return convNode(g, name, x, w, b, stride, pad, relu);
}

async function basicBlock(
  g: GraphState,
  net: ProjectionNet,
  read: ParamReader,
  prefix: string,
  x: string,
  stride: number,
): Promise<string> {
  const node = prefix.replaceAll(".", "/");
  const h = await convBn(
    g,
    net,
    read,
    `${node}/conv1`,
    `${prefix}.conv1`,
    `${prefix}.bn1`,
    x,
    stride,
    1,
    true,
  );
  const out = await convBn(g, net, read, `${node}/conv2`, `${prefix}.conv2`, `${prefix}.bn2`, h, 1, 1, false);
  const identity = net.params.has(`${prefix}.downsample.0.weight`)
    ? await convBn(
      g,
      net,
      read,
      `${node}/downsample`,
      `${prefix}.downsample.0`,
      `${prefix}.downsample.1`,
      x,
      stride,
      0,
      false,
    )
    : x;
  const sum = binary(g, `${node}/add`, "AddV2", out, identity);
  return addNode(g, `${node}/relu`, "Relu", [sum], T_FLOAT);
}

async function sspcabNodes(
  g: GraphState,
  net: ProjectionNet,
  read: ParamReader,
  x: string,
  hw: readonly [number, number],
): Promise<string> {
  const cfg = net.config.sspcab!;
  const c = cfg.channels;
  const k = cfg.kernelDim;
  const p = k + cfg.dilation;
  const border = k + 2 * cfg.dilation + 1;
  const padded = padNode(g, "SSPCAB/pad", x, p, cfg.padding);
  // Each view is the padded input cropped to (H + 2p − border) × (W + 2p − border) at a corner offset.
  const views = sspcabOffsets(cfg).map(([r, col], i) => {
    const begin = ints(g, `SSPCAB/view${i + 1}/begin`, [0, r, col, 0]);
    const size = ints(g, `SSPCAB/view${i + 1}/size`, [
      -1,
      hw[0] + 2 * p - border,
      hw[1] + 2 * p - border,
      -1,
    ]);
    return addNode(g, `SSPCAB/view${i + 1}`, "Slice", [padded, begin, size], {
      ...T_FLOAT,
      Index: attrType("DT_INT32"),
    });
  });
  const axis = ints(g, "SSPCAB/concat/axis", [3], []);
  const concat = addNode(g, "SSPCAB/concat", "ConcatV2", [...views, axis], {
    ...T_FLOAT,
    N: attrInt(views.length),
    Tidx: attrType("DT_INT32"),
  });
  // Σᵢ conv(viewᵢ, Wᵢ) + bᵢ = conv(concat(views), [W₁; W₂; W₃; W₄]) + Σᵢ bᵢ.
  const stacked = new Float32Array(k * k * 4 * c * c);
  const bias = new Float32Array(c);
  for (let i = 0; i < 4; i++) {
    const w = await read(`SSPCAB.conv${i + 1}.weight`);
    const b = await read(`SSPCAB.conv${i + 1}.bias`);
    for (let o = 0; o < c; o++) bias[o] += b[o];
    for (let pos = 0; pos < k * k; pos++) {
      for (let ci = 0; ci < c; ci++) {
        const src = (pos * c + ci) * c;
        const dst = (pos * 4 * c + i * c + ci) * c;
        stacked.set(w.subarray(src, src + c), dst);
      }
    }
  }
  const features = convNode(
    g,
    "SSPCAB/conv",
    concat,
    { values: stacked, shape: [k, k, 4 * c, c] },
    bias,
    1,
    0,
    true,
  );
  // Squeeze and excitation.
  const squeezed = reduce(g, "SSPCAB/se/mean", "Mean", features, [1, 2], false);
  const fc1 = await foldedLayer(net, read, "SSPCAB.se.fc1", null, true);
  const h = denseNode(g, "SSPCAB/se/fc1", squeezed, fc1.w, fc1.b, true);
  const fc2 = await foldedLayer(net, read, "SSPCAB.se.fc2", null, true);
  const logits = denseNode(g, "SSPCAB/se/fc2", h, fc2.w, fc2.b, false);
  const gate = addNode(g, "SSPCAB/se/sigmoid", "Sigmoid", [logits], T_FLOAT);
  const shape = ints(g, "SSPCAB/se/reshape/shape", [-1, 1, 1, c]);
  const gate4 = addNode(g, "SSPCAB/se/reshape", "Reshape", [gate, shape], {
    ...T_FLOAT,
    Tshape: attrType("DT_INT32"),
  });
  return binary(g, "SSPCAB/scale", "Mul", features, gate4);
}

// ---------------------------------------------------------------------------------------------------------
// Sizes.

const convOut = (size: number, k: number, stride: number, pad: number) =>
  Math.floor((size + 2 * pad - k) / stride) + 1;

/** Spatial size of ResNet18's layer3 output (the SSPCAB input) for an input side of `size`. */
export function layer3Size(size: number): number {
  let s = convOut(size, 7, 2, 3); // conv1
  s = convOut(s, 3, 2, 1); // maxpool
  s = convOut(s, 3, 2, 1); // layer2
  return convOut(s, 3, 2, 1); // layer3
}

function imageHw(size: GraphModelOptions["imageSize"]): [number, number] {
  const hw: [number, number] = typeof size === "number"
    ? [size, size]
    : [size?.[0], size?.[1]] as [number, number];
  if (!hw.every((v) => Number.isInteger(v) && v >= 32)) {
    throw new Error(
      `buildGraphModel: imageSize must be an integer ≥ 32 or [height, width] of such, got ${size}`,
    );
  }
  return hw;
}

function checkDensity(density: GraphDensity, dim: number): void {
  if (density.mean.length !== dim) {
    throw new Error(
      `buildGraphModel: density mean has ${density.mean.length} values, the embedding has ${dim}`,
    );
  }
  if (density.precision.length !== dim * dim) {
    throw new Error(
      `buildGraphModel: density precision has ${density.precision.length} values, expected ${dim}×${dim}`,
    );
  }
  for (let i = 0; i < density.precision.length; i++) {
    if (!Number.isFinite(density.precision[i])) {
      throw new Error("buildGraphModel: density precision is not finite");
    }
  }
}

function signatureEntry(node: string, shape: readonly number[]): SignatureEntry {
  return { name: `${node}:0`, dtype: "DT_FLOAT", tensorShape: shapeJson(shape) };
}

function packWeights(consts: readonly ConstValue[]): ArrayBuffer {
  const total = consts.reduce((n, c) => n + c.values.byteLength, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const c of consts) {
    // Typed arrays are in platform byte order; every platform Deno and browsers run on is little-endian, the
    // byte order tfjs expects.
    bytes.set(new Uint8Array(c.values.buffer, c.values.byteOffset, c.values.byteLength), offset);
    offset += c.values.byteLength;
  }
  return bytes.buffer;
}

/**
 * Build the TensorFlow.js graph model of a ProjectionNet in eval mode (see the module doc for the graph and its
 * signature). Reads the variables asynchronously, so it works on every backend; the net is not modified.
 */
export async function buildGraphModel(
  net: ProjectionNet,
  options: GraphModelOptions,
): Promise<GraphModelArtifacts> {
  const [height, width] = imageHw(options.imageSize);
  const norm = options.normalization ?? { mean: DEFAULT_MEAN, std: DEFAULT_STD };
  if (norm.mean.length !== 3 || norm.std.length !== 3 || norm.std.some((s) => !(s > 0))) {
    throw new Error("buildGraphModel: normalization needs 3 means and 3 positive standard deviations");
  }
  const dim = RESNET18_EMBED_DIM;
  if (options.density) checkDensity(options.density, dim);
  const mapSpec = resolveMapSpec(options.anomalyMap, Boolean(net.config.sspcab), Boolean(options.density));
  const g: GraphState = { nodes: [], consts: [], names: new Set(), fuse: options.fuse ?? true };
  const read = paramReader(net);

  // Input and normalisation: (x / 255 − mean) / std = x · 1/(255·std) + (−mean/std).
  const image = addNode(g, "image", "Placeholder", [], {
    dtype: attrType("DT_FLOAT"),
    shape: { shape: shapeJson([-1, height, width, 3]) },
  });
  const scale = addConst(g, "normalize/scale", Float32Array.from(norm.std, (s) => 1 / (255 * s)), [3]);
  const shift = addConst(g, "normalize/shift", Float32Array.from(norm.mean, (m, c) => -m / norm.std[c]), [3]);
  const x = binary(g, "normalize/add", "AddV2", binary(g, "normalize/mul", "Mul", image, scale), shift);

  // Stem: conv1 7×7/2 pad 3 + bn1 + ReLU, then max pool 3/2 pad 1 (zero padding ≡ −inf after ReLU).
  let y = await convBn(g, net, read, "resnet18/conv1", "resnet18.conv1", "resnet18.bn1", x, 2, 3, true);
  y = padNode(g, "resnet18/maxpool/pad", y, 1, "zeros");
  y = addNode(g, "resnet18/maxpool", "MaxPool", [y], {
    ...T_FLOAT,
    ksize: attrInts([1, 3, 3, 1]),
    strides: attrInts([1, 2, 2, 1]),
    padding: attrStr("VALID"),
    data_format: attrStr("NHWC"),
  });
  let mapNode: string | undefined;
  for (let layer = 1; layer <= RESNET18_WIDTHS.length; layer++) {
    if (layer === 4 && net.config.sspcab) {
      const f = y;
      y = await sspcabNodes(g, net, read, f, [layer3Size(height), layer3Size(width)]);
      if (mapSpec?.method === "sspcab") {
        mapNode = anomalyMapNodes(g, f, y, [layer3Size(height), layer3Size(width)], [height, width], mapSpec);
      }
    }
    for (let b = 0; b < 2; b++) {
      y = await basicBlock(g, net, read, `resnet18.layer${layer}.${b}`, y, layer > 1 && b === 0 ? 2 : 1);
    }
  }
  const pooled = reduce(g, "resnet18/avgpool", "Mean", y, [1, 2], false);
  const outputs: Record<string, SignatureEntry> = {
    embedding: signatureEntry(addNode(g, "embedding", "Identity", [pooled], T_FLOAT), [-1, dim]),
  };

  if (options.density) outputs.score = signatureEntry(scoreNodes(g, pooled, options.density, dim), [-1]);
  if (mapSpec?.method === "gradcam") {
    const hw4: [number, number] = [layer4Size(height), layer4Size(width)];
    mapNode = gradcamNodes(g, y, pooled, options.density!, dim, hw4, [height, width], mapSpec.sigma);
  }

  if (options.includeLogits) {
    let h = pooled;
    for (let i = 0; i < net.config.headLayers.length; i++) {
      const layer = await foldedLayer(net, read, `head.${3 * i}`, `head.${3 * i + 1}`, true);
      h = denseNode(g, `head/${i}`, h, layer.w, layer.b, true);
    }
    const out = await foldedLayer(net, read, "out", null, true);
    const logits = denseNode(g, "head/out", h, out.w, out.b, false);
    outputs.logits = signatureEntry(addNode(g, "logits", "Identity", [logits], T_FLOAT), [
      -1,
      net.config.numClasses,
    ]);
  }

  if (mapNode) outputs[ANOMALY_MAP_OUTPUT] = signatureEntry(mapNode, [-1, height, width]);

  const modelJson: GraphModelJson = {
    format: GRAPH_MODEL_FORMAT,
    generatedBy: "sspcab-deno ProjectionNet (ResNet18 + SSPCAB), eval mode, BatchNorm folded",
    convertedBy:
      `sspcab-deno lib/export/graph_model.ts v${GRAPH_MODEL_EXPORT_VERSION} (tfjs-converter 4.x ops)`,
    modelTopology: { node: g.nodes, library: {}, versions: { producer: 1482, minConsumer: 12 } },
    weightsManifest: [{ paths: [GRAPH_MODEL_WEIGHTS_FILE], weights: g.consts.map((c) => c.entry) }],
    signature: { inputs: { image: signatureEntry(image, [-1, height, width, 3]) }, outputs },
    userDefinedMetadata: {
      sspcab: {
        exportVersion: GRAPH_MODEL_EXPORT_VERSION,
        input: { name: "image", layout: "NHWC", range: [0, 255], height, width, channels: "RGB" },
        normalization: { mean: [...norm.mean], std: [...norm.std] },
        outputs: Object.keys(outputs),
        embeddingDim: dim,
        score: options.density
          ? {
            kind: "mahalanobis",
            l2Normalize: options.density.l2Normalize ?? true,
            formula: "sqrt(max(0, (e' - mean)^T precision (e' - mean))), e' = e / max(|e|, 1e-12)",
          }
          : null,
        anomalyMap: mapSpec ? mapMetadata(mapSpec) : null,
        config: JSON.parse(JSON.stringify(net.config)),
        fused: g.fuse,
        ...(options.metadata ? { user: JSON.parse(JSON.stringify(options.metadata)) } : {}),
      },
    },
  };
  return { modelJson, weightData: packWeights(g.consts) };
}

/** The map a graph gets from the `anomalyMap` option (see {@link GraphModelOptions}), checked. */
function resolveMapSpec(
  option: GraphModelOptions["anomalyMap"],
  hasSspcab: boolean,
  hasDensity: boolean,
): GraphMapSpec | null {
  if (option === false || (option === undefined && !hasSspcab)) return null;
  const spec = option === true || option === undefined ? graphMapSpec("sspcab") : option;
  if (spec.method === "sspcab" && !hasSspcab) {
    throw new Error("buildGraphModel: anomalyMap needs a model with the SSPCAB block; this one has none");
  }
  if (spec.method === "gradcam" && !hasDensity) {
    throw new Error(
      "buildGraphModel: the gradcam anomalyMap needs a Gaussian density (it is the score's gradient)",
    );
  }
  if (!(spec.sigma >= 0)) throw new Error(`buildGraphModel: anomalyMap sigma must be ≥ 0, got ${spec.sigma}`);
  return spec;
}

/** What `userDefinedMetadata.sspcab.anomalyMap` says about the map. */
function mapMetadata(spec: GraphMapSpec): Record<string, unknown> {
  const smoothing = spec.sigma > 0 ? `, Gaussian sigma ${spec.sigma} px (reflect border)` : "";
  return spec.method === "sspcab"
    ? {
      kind: "sspcab-reconstruction-error",
      method: "sspcab",
      sigma: spec.sigma,
      formula: "mean_c (SSPCAB(layer3) - layer3)^2, bilinear (half-pixel centres) to the input size" +
        smoothing,
    }
    : {
      kind: "gradcam",
      method: "gradcam",
      layer: "layer4",
      sigma: spec.sigma,
      formula: "ReLU(sum_c alpha_c A_c), A = layer4, alpha = d score / d mean_hw(A) / (h*w) (analytic), " +
        "bilinear (half-pixel centres) to the input size" + smoothing,
    };
}

/** Spatial size of ResNet18's layer4 output for an input side of `size`. */
export function layer4Size(size: number): number {
  return convOut(layer3Size(size), 3, 2, 1);
}

function matMul(g: GraphState, name: string, a: string, b: string): string {
  return addNode(g, name, "MatMul", [a, b], {
    ...T_FLOAT,
    transpose_a: attrBool(false),
    transpose_b: attrBool(false),
  });
}

function reshape(g: GraphState, name: string, x: string, shape: readonly number[]): string {
  return addNode(g, name, "Reshape", [x, ints(g, `${name}/shape`, shape)], {
    ...T_FLOAT,
    Tshape: attrType("DT_INT32"),
  });
}

function transpose(g: GraphState, name: string, x: string, perm: readonly number[]): string {
  return addNode(g, name, "Transpose", [x, ints(g, `${name}/perm`, perm)], {
    ...T_FLOAT,
    Tperm: attrType("DT_INT32"),
  });
}

/**
 * A `[-1, h, w]` grid upsampled (and smoothed with `sigma`) to `[-1, H, W]` by two constant `MatMul`s:
 * `M_h · grid · M_wᵀ` (see `map_spec.ts`), as reshapes and transposes around plain 2-D `MatMul`s. The last
 * node is named `out`.
 */
function matrixUpsampleNodes(
  g: GraphState,
  prefix: string,
  grid: string,
  [h, w]: readonly [number, number],
  [height, width]: readonly [number, number],
  sigma: number,
  out: string,
): string {
  const mwT = addConst(g, `${prefix}/mw_t`, transposeToFloat32(upsampleMatrix(w, width, sigma), width, w), [
    w,
    width,
  ]);
  const mhT = addConst(
    g,
    `${prefix}/mh_t`,
    transposeToFloat32(upsampleMatrix(h, height, sigma), height, h),
    [h, height],
  );
  const rows = matMul(g, `${prefix}/cols`, reshape(g, `${prefix}/flat_rows`, grid, [-1, w]), mwT); // [N·h, W]
  const byCol = transpose(g, `${prefix}/swap1`, reshape(g, `${prefix}/unflat1`, rows, [-1, h, width]), [
    0,
    2,
    1,
  ]);
  const full = matMul(g, `${prefix}/rows`, reshape(g, `${prefix}/flat_cols`, byCol, [-1, h]), mhT); // [N·W, H]
  return transpose(g, out, reshape(g, `${prefix}/unflat2`, full, [-1, width, height]), [0, 2, 1]);
}

/**
 * SSPCAB's reconstruction error `mean_c (s − f)²` (`f` = layer3, `s` = SSPCAB's output, NHWC) upsampled
 * bilinearly (half-pixel centres) to `[height, width]` — by `ResizeBilinear`, or with smoothing by the
 * constant matrices: the `anomaly_map` node, `[-1, height, width]`.
 */
function anomalyMapNodes(
  g: GraphState,
  f: string,
  s: string,
  hw: readonly [number, number],
  [height, width]: readonly [number, number],
  spec: GraphMapSpec,
): string {
  const diff = binary(g, "anomaly_map/diff", "Sub", s, f);
  const sq = binary(g, "anomaly_map/square", "Mul", diff, diff);
  if (spec.sigma > 0) {
    const grid = reduce(g, "anomaly_map/channel_mean", "Mean", sq, [3], false);
    return matrixUpsampleNodes(
      g,
      "anomaly_map/upsample",
      grid,
      hw,
      [height, width],
      spec.sigma,
      ANOMALY_MAP_OUTPUT,
    );
  }
  const grid = reduce(g, "anomaly_map/channel_mean", "Mean", sq, [3], true);
  const size = ints(g, "anomaly_map/resize/size", [height, width]);
  const up = addNode(g, "anomaly_map/resize", "ResizeBilinear", [grid, size], {
    ...T_FLOAT,
    align_corners: attrBool(false),
    half_pixel_centers: attrBool(true),
  });
  const shape = ints(g, "anomaly_map/shape", [-1, height, width]);
  return addNode(g, ANOMALY_MAP_OUTPUT, "Reshape", [up, shape], { ...T_FLOAT, Tshape: attrType("DT_INT32") });
}

/**
 * GradCAM of the score w.r.t. layer4 `a` (`[-1, h, w, C]`) with the analytic gradient (see the module doc),
 * upsampled and smoothed to `[-1, height, width]`: the `anomaly_map` node. `pooled` is `mean_hw a`.
 */
function gradcamNodes(
  g: GraphState,
  a: string,
  pooled: string,
  density: GraphDensity,
  dim: number,
  [h, w]: readonly [number, number],
  [height, width]: readonly [number, number],
  sigma: number,
): string {
  const p = "anomaly_map/gradcam";
  let z = pooled;
  let norm: string | undefined;
  const l2 = density.l2Normalize ?? true;
  if (l2) {
    const ss = reduce(g, `${p}/l2/sum`, "Sum", binary(g, `${p}/l2/square`, "Mul", pooled, pooled), [1], true);
    const eps = addConst(g, `${p}/l2/min_norm`, Float32Array.of(MIN_NORM), []);
    norm = binary(g, `${p}/l2/max`, "Maximum", addNode(g, `${p}/l2/norm`, "Sqrt", [ss], T_FLOAT), eps);
    z = binary(g, `${p}/l2/normalize`, "RealDiv", pooled, norm);
  }
  const d = binary(g, `${p}/centered`, "Sub", z, "score/mean");
  // ∂(dᵀPd)/∂d = (P + Pᵀ) d: the score's own precision constant when P is symmetric, else its symmetric part.
  const sym = symmetricPart(density.precision, dim);
  const precision = sym.symmetric
    ? "score/precision"
    : addConst(g, `${p}/precision_sym`, sym.values, [dim, dim]);
  const pd = matMul(g, `${p}/p_d`, d, precision);
  const q = reduce(g, `${p}/quadratic`, "Sum", binary(g, `${p}/p_d_d`, "Mul", pd, d), [1], true);
  const floor = addConst(g, `${p}/min_quadratic`, Float32Array.of(1e-12), []);
  const s = addNode(g, `${p}/score`, "Sqrt", [binary(g, `${p}/clamp`, "Maximum", q, floor)], T_FLOAT);
  let grad = binary(g, `${p}/d_score_d_z`, "RealDiv", pd, s);
  if (norm) {
    const zg = reduce(g, `${p}/z_dot_grad`, "Sum", binary(g, `${p}/z_grad`, "Mul", z, grad), [1], true);
    const tangent = binary(g, `${p}/tangent`, "Sub", grad, binary(g, `${p}/z_zg`, "Mul", z, zg));
    grad = binary(g, `${p}/d_score_d_e`, "RealDiv", tangent, norm);
  }
  const perPosition = addConst(g, `${p}/per_position`, Float32Array.of(1 / (h * w)), []);
  const alpha = reshape(g, `${p}/alpha4`, binary(g, `${p}/alpha`, "Mul", grad, perPosition), [-1, 1, 1, dim]);
  const weighted = reduce(
    g,
    `${p}/weighted_sum`,
    "Sum",
    binary(g, `${p}/weighted`, "Mul", a, alpha),
    [3],
    false,
  );
  const cam = addNode(g, `${p}/relu`, "Relu", [weighted], T_FLOAT);
  return matrixUpsampleNodes(g, `${p}/upsample`, cam, [h, w], [height, width], sigma, ANOMALY_MAP_OUTPUT);
}

/** The Mahalanobis score of the (L2-normalised) embedding, `[-1]`. */
function scoreNodes(g: GraphState, embedding: string, density: GraphDensity, dim: number): string {
  let e = embedding;
  if (density.l2Normalize ?? true) {
    const sq = binary(g, "score/l2/square", "Mul", e, e);
    const ss = reduce(g, "score/l2/sum", "Sum", sq, [1], true);
    const norm = addNode(g, "score/l2/norm", "Sqrt", [ss], T_FLOAT);
    const eps = addConst(g, "score/l2/min_norm", Float32Array.of(MIN_NORM), []);
    const safe = binary(g, "score/l2/max", "Maximum", norm, eps);
    e = binary(g, "score/l2/normalize", "RealDiv", e, safe);
  }
  const mean = addConst(g, "score/mean", Float32Array.from(density.mean), [dim]);
  const d = binary(g, "score/centered", "Sub", e, mean);
  const precision = addConst(g, "score/precision", Float32Array.from(density.precision), [dim, dim]);
  const dp = addNode(g, "score/d_p", "MatMul", [d, precision], {
    ...T_FLOAT,
    transpose_a: attrBool(false),
    transpose_b: attrBool(false),
  });
  const q = reduce(g, "score/quadratic", "Sum", binary(g, "score/d_p_d", "Mul", dp, d), [1], false);
  // A PSD quadratic form can round to a tiny negative number: clamp at 0 so the root is defined.
  const zero = addConst(g, "score/zero", Float32Array.of(0), []);
  const clamped = binary(g, "score/clamp", "Maximum", q, zero);
  return addNode(g, "score", "Sqrt", [clamped], T_FLOAT);
}
