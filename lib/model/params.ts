/**
 * Parameters of a network, held as TensorFlow.js variables under their PyTorch names (`resnet18.layer1.0.
 * conv1.weight`, `head.0.weight`, …) in TensorFlow layouts (conv HWIO, linear [in, out]). Trainable weights and
 * BatchNorm running statistics (buffers) live in the same store.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../util/rng.ts";
import type { Tensor, Variable } from "../util/tensor_types.ts";

/** How a parameter is laid out and initialised. */
export type ParamKind =
  | "conv" // weight, TF layout [kh, kw, in, out]; PyTorch [out, in, kh, kw]
  | "linear" // weight, TF layout [in, out]; PyTorch [out, in]
  | "vector" // bias / BatchNorm affine, 1-D
  | "buffer"; // BatchNorm running statistic, 1-D, not trained

/** PyTorch default initialisation rules used for a parameter. */
export type ParamInit =
  | { type: "const"; value: number }
  | { type: "kaiming_normal_fan_out" } // torchvision ResNet convs
  | { type: "uniform_fan_in"; fanIn: number }; // nn.Linear / nn.Conv2d defaults: U(±1/sqrt(fan_in))

/** Declaration of one parameter. */
export interface ParamSpec {
  /** PyTorch state-dict name. */
  name: string;
  /** Layout kind. */
  kind: ParamKind;
  /** Shape in TensorFlow layout. */
  shape: number[];
  /** Initialisation when not loaded from a file. */
  init: ParamInit;
}

/** The variables of a network by PyTorch name. */
export type ParamStore = Map<string, Variable>;

/** The PyTorch shape of a parameter given in TF layout. */
export function torchShape(spec: ParamSpec): number[] {
  const s = spec.shape;
  if (spec.kind === "conv") return [s[3], s[2], s[0], s[1]];
  if (spec.kind === "linear") return [s[1], s[0]];
  return s.slice();
}

/** Convert values in PyTorch layout to a tensor in TF layout. */
export function fromTorchLayout(spec: ParamSpec, data: Float32Array): Tensor {
  return tf.tidy(() => {
    const t = tf.tensor(data, torchShape(spec), "float32");
    if (spec.kind === "conv") return tf.transpose(t, [2, 3, 1, 0]);
    if (spec.kind === "linear") return tf.transpose(t, [1, 0]);
    return t;
  });
}

/** Convert a tensor in TF layout to PyTorch-layout values (asynchronous: GPU backends cannot read synchronously). */
export async function toTorchLayout(spec: ParamSpec, value: Tensor): Promise<Float32Array> {
  const t = tf.tidy(() => {
    if (spec.kind === "conv") return tf.transpose(value, [3, 2, 0, 1]);
    if (spec.kind === "linear") return tf.transpose(value, [1, 0]);
    return value.clone();
  });
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

function initValues(spec: ParamSpec, rng: Rng): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const init = spec.init;
  if (init.type === "const") {
    out.fill(init.value);
  } else if (init.type === "kaiming_normal_fan_out") {
    const [kh, kw, , cout] = spec.shape;
    const std = Math.sqrt(2 / (cout * kh * kw));
    for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  } else {
    const bound = 1 / Math.sqrt(init.fanIn);
    for (let i = 0; i < n; i++) out[i] = rng.uniform(-bound, bound);
  }
  return out;
}

/** Create the variables for `specs`, initialised like PyTorch's defaults from a seeded generator. */
export function createParams(specs: readonly ParamSpec[], rng: Rng): ParamStore {
  const store: ParamStore = new Map();
  for (const spec of specs) {
    const values = initValues(spec, rng);
    const value = tf.tensor(values, spec.shape, "float32");
    store.set(spec.name, tf.variable(value, spec.kind !== "buffer", `${spec.name}_${tfVarCounter++}`));
    value.dispose();
  }
  return store;
}
let tfVarCounter = 0;

/** Dispose every variable of a store. */
export function disposeParams(store: ParamStore): void {
  for (const v of store.values()) v.dispose();
  store.clear();
}

/** Number of scalar values of the given specs (optionally only those matching `filter`). */
export function countParams(
  specs: readonly ParamSpec[],
  filter: (s: ParamSpec) => boolean = () => true,
): number {
  return specs.filter(filter).reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
}
