/**
 * What every wasm training kernel shares: the settings of the registration it belongs to (our GEMM engine,
 * Winograd, block sizes), a way to call the *stock* wasm kernel it replaced, and a small arena for the
 * intermediate tensors of one kernel call. There is no module-level state: each registration
 * (`kernels/register.ts`) makes its own {@link KernelContext}.
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { GemmEngine } from "../../wasm_gemm.ts";

/** tfjs' tensor handle inside a kernel. */
export type TensorInfo = tf.TensorInfo;
/** A kernel's attributes as tfjs passes them. */
export type Attrs = tf.NamedAttrMap;

/**
 * A filter-gradient routine for `Conv2DBackpropFilter` on NHWC x and dy: returns dW [kh, kw, ci, co], tracked
 * by (or kept out of) `arena` as it likes — the kernel keeps the returned tensor.
 */
export type FilterGradFn = (
  backend: BackendWasm,
  arena: Arena,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
) => TensorInfo;

/** The tuning and routing of one registration of the wasm training kernels (mutable; read per call). */
export interface WasmKernelSettings {
  /**
   * Our own GEMM (`wasm_gemm.ts`) on the backend's memory, used by the convolutions, their filter gradients
   * and the max-pool gradient where it takes the shapes; null: XNNPACK and JS only.
   */
  engine: GemmEngine | null;
  /** Whether 3×3 stride-1 convolutions on our GEMM use Winograd. */
  winograd: boolean;
  /** Output tile of the forward Winograd: 4 (F(4×4, 3×3), the default) or 2 (F(2×2, 3×3)). */
  winogradTile: 2 | 4;
  /** Whether convolutions on our GEMM take the im2col product where `im2colPreferred` says it is cheaper. */
  im2col: boolean;
  /** Our GEMM (filter gradients and stride-1 convolutions): grid pixels per block of images (≥ 1 image). */
  gemmGridPixels: number;
  /**
   * XNNPACK's shifted-view filter gradient (the fallback of our GEMM): grid pixels — the GEMMs' inner
   * dimension — per block of images (at least one image). Smaller blocks mean more, smaller GEMMs.
   */
  gridBlockPixels: number;
  /**
   * How `Conv2DBackpropFilter` is computed: `"gemm"` (our GEMM where {@link engine} takes the shapes, else
   * `"shifted"`), `"shifted"` (XNNPACK GEMMs over shifted views of x), or another routine (the variants kept
   * for comparison live with the benchmarks).
   */
  filterGrad: "gemm" | "shifted" | FilterGradFn;
}

/** The defaults: no engine (XNNPACK), Winograd on 4×4 tiles, 65536 / 16384 grid pixels, `"gemm"`. */
export function defaultKernelSettings(): WasmKernelSettings {
  return {
    engine: null,
    winograd: true,
    winogradTile: 4,
    im2col: true,
    gemmGridPixels: 1 << 16,
    gridBlockPixels: 1 << 14,
    filterGrad: "gemm",
  };
}

/** What a kernel receives besides tfjs' arguments. */
export interface KernelContext {
  /** The registration's settings. */
  readonly settings: WasmKernelSettings;
  /** The stock wasm kernel registered under `kernelName` before ours (throws when tfjs has none). */
  stock(kernelName: string): tf.KernelConfig;
}

/** A kernel's named inputs with every one present (tfjs types them as possibly undefined). */
export type Present<T> = { [K in keyof T]-?: NonNullable<T[K]> };

/** tfjs' arguments of a wasm kernel, with the inputs and attributes typed. */
export interface WasmKernelArgs<I, A> {
  inputs: I;
  backend: BackendWasm;
  attrs: A;
}

/** One of our wasm kernels: the tfjs kernel name it registers and its function. */
export interface WasmKernel<I, A> {
  kernelName: string;
  kernelFunc: (args: WasmKernelArgs<I, A>, ctx: KernelContext) => TensorInfo;
}

/** Call the stock wasm kernel `kernelName` (off the autograd tape, at the `TensorInfo` level). */
export function runStock(
  ctx: KernelContext,
  backend: BackendWasm,
  kernelName: string,
  args: { inputs: object; attrs?: object },
): TensorInfo {
  return ctx.stock(kernelName).kernelFunc({
    inputs: args.inputs as tf.NamedTensorInfoMap,
    backend,
    attrs: (args.attrs ?? {}) as Attrs,
  }) as TensorInfo;
}

/**
 * A small arena for intermediate tensors inside a kernel: `run` calls a *stock* wasm kernel and remembers its
 * output, `track` remembers a tensor made with `makeOutput`, `release` frees one early, `keep` hands a result
 * to the caller, `dispose` frees everything else.
 */
export interface Arena {
  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs?: Attrs): TensorInfo;
  track(t: TensorInfo): TensorInfo;
  release(t: TensorInfo): void;
  keep(t: TensorInfo): TensorInfo;
  dispose(): void;
}

/** A fresh {@link Arena} for one kernel call. */
export function createArena(ctx: KernelContext, backend: BackendWasm): Arena {
  const temps: TensorInfo[] = [];
  const forget = (t: TensorInfo): boolean => {
    const i = temps.lastIndexOf(t);
    if (i >= 0) temps.splice(i, 1);
    return i >= 0;
  };
  const track = (t: TensorInfo): TensorInfo => {
    temps.push(t);
    return t;
  };
  return {
    run: (kernelName, inputs, attrs = {}) => track(runStock(ctx, backend, kernelName, { inputs, attrs })),
    track,
    release(t) {
      if (forget(t)) backend.disposeData(t.dataId);
    },
    keep(t) {
      forget(t);
      return t;
    },
    dispose() {
      for (const t of temps) backend.disposeData(t.dataId);
      temps.length = 0;
    },
  };
}
