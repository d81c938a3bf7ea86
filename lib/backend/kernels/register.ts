/**
 * Registering the wasm training kernels (one per file in this folder) in tfjs' kernel registry, for the
 * `wasm` backend only. No gradient (`tf.registerGradient`) is changed, so `cpu` and `webgpu` compute exactly
 * what they did before. The replacements re-arrange the same sums, so results agree with `cpu` to float32
 * rounding (`tests/wasm_training_kernels_test.ts`). They call the stock wasm kernels at the `TensorInfo` level
 * (as tfjs' own wasm kernels call `transpose`/`reshape`), which keeps them off the autograd tape, and free
 * every intermediate before returning.
 *
 * A registration is an object, {@link WasmTrainingKernels}: its `settings` (our GEMM engine, Winograd, block
 * sizes) are what its kernels read on every call, and it remembers the stock kernels it replaced so that
 * {@link WasmTrainingKernels.unregister} can put them back. The registry itself is tfjs' (one per process),
 * so there is at most one registration at a time; {@link wasmTrainingKernels} finds it.
 *
 * Gradients must be registered for any backend to train: `@tensorflow/tfjs-core` alone registers none;
 * import `lib/backend/gradients.ts` (the `@tensorflow/tfjs` bundle) too.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import {
  defaultKernelSettings,
  type KernelContext,
  type WasmKernel,
  type WasmKernelSettings,
} from "./shared/context.ts";
import { conv2DBackpropFilterKernel } from "./Conv2DBackpropFilter.ts";
import { conv2DKernel } from "./Conv2D.ts";
import { conv2DBackpropInputKernel } from "./Conv2DBackpropInput.ts";
import { maxPoolGradKernel } from "./MaxPoolGrad.ts";
import { sumKernel } from "./Sum.ts";
import { meanKernel } from "./Mean.ts";
import { batchMatMulKernel } from "./BatchMatMul.ts";
import { sliceKernel } from "./Slice.ts";
import { fusedBatchNormKernel } from "./FusedBatchNorm.ts";
import { unsortedSegmentSumKernel } from "./UnsortedSegmentSum.ts";
import { identityKernel } from "./Identity.ts";
import { castKernel } from "./Cast.ts";
import { squaredDifferenceKernel } from "./SquaredDifference.ts";

const BACKEND = "wasm";

/** Our kernels, in registration order. */
const KERNELS: readonly WasmKernel<never, never>[] = [
  conv2DBackpropFilterKernel,
  conv2DKernel,
  conv2DBackpropInputKernel,
  maxPoolGradKernel,
  sumKernel,
  meanKernel,
  batchMatMulKernel,
  sliceKernel,
  fusedBatchNormKernel,
  unsortedSegmentSumKernel,
  identityKernel,
  castKernel,
  squaredDifferenceKernel,
];

/** The names of the kernels {@link registerWasmTrainingKernels} registers on `wasm`. */
export const WASM_TRAINING_KERNEL_NAMES: readonly string[] = KERNELS.map((k) => k.kernelName);

/** Marks our kernel configurations in tfjs' registry with the registration they belong to. */
const OWNER = Symbol("wasm training kernels");

type OwnedConfig = tf.KernelConfig & { [OWNER]?: WasmTrainingKernels };

/** Settings whose values are counts: at least 1, whole. */
function sanitise(settings: Partial<WasmKernelSettings>): Partial<WasmKernelSettings> {
  const out = { ...settings };
  if (out.gemmGridPixels !== undefined) out.gemmGridPixels = Math.max(1, Math.floor(out.gemmGridPixels));
  if (out.gridBlockPixels !== undefined) out.gridBlockPixels = Math.max(1, Math.floor(out.gridBlockPixels));
  return out;
}

/** One registration of the wasm training kernels (see the module doc). */
export class WasmTrainingKernels {
  /** What the kernels read on every call; change it with {@link configure} (or directly). */
  readonly settings: WasmKernelSettings;
  readonly #replaced = new Map<string, tf.KernelConfig | null>();
  #active = false;

  private constructor(settings: Partial<WasmKernelSettings>) {
    this.settings = { ...defaultKernelSettings(), ...sanitise(settings) };
  }

  /** Register the kernels (replacing the stock ones) and return the registration. */
  static register(settings: Partial<WasmKernelSettings> = {}): WasmTrainingKernels {
    const registration = new WasmTrainingKernels(settings);
    const ctx: KernelContext = {
      settings: registration.settings,
      stock: (name) => registration.#stock(name),
    };
    for (const kernel of KERNELS) {
      const existing = tf.getKernel(kernel.kernelName, BACKEND);
      registration.#replaced.set(kernel.kernelName, existing ?? null);
      if (existing) tf.unregisterKernel(kernel.kernelName, BACKEND);
      // Keep the stock kernel's setup (its cwrap) running: we delegate to it for the cases we do not handle.
      const config: OwnedConfig = {
        kernelName: kernel.kernelName,
        backendName: BACKEND,
        kernelFunc: ((args: unknown) => kernel.kernelFunc(args as never, ctx)) as unknown as tf.KernelFunc,
        setupFunc: existing?.setupFunc,
        disposeFunc: existing?.disposeFunc,
      };
      config[OWNER] = registration;
      tf.registerKernel(config);
    }
    registration.#active = true;
    return registration;
  }

  /** Whether this registration is in effect (not yet {@link unregister}ed). */
  get active(): boolean {
    return this.#active;
  }

  /** Change settings (counts are made whole and at least 1); returns a copy of the previous settings. */
  configure(settings: Partial<WasmKernelSettings>): WasmKernelSettings {
    const previous = { ...this.settings };
    Object.assign(this.settings, sanitise(settings));
    return previous;
  }

  /**
   * Restore the stock wasm kernels (and remove the ones tfjs does not have). Meant for benchmarks and tests
   * that compare against the stock backend; the settings' engine is not disposed (its owner does that).
   */
  unregister(): void {
    if (!this.#active) return;
    for (const [name, original] of this.#replaced) {
      tf.unregisterKernel(name, BACKEND);
      if (original) tf.registerKernel(original);
    }
    this.#replaced.clear();
    this.#active = false;
  }

  #stock(kernelName: string): tf.KernelConfig {
    const original = this.#replaced.get(kernelName);
    if (original) return original;
    const config = this.#replaced.has(kernelName) ? undefined : tf.getKernel(kernelName, BACKEND);
    if (!config) {
      throw new Error(
        `wasm kernel '${kernelName}' is not registered (is @tensorflow/tfjs-backend-wasm loaded?)`,
      );
    }
    return config;
  }
}

/** The registration of the wasm training kernels in effect, or null. */
export function wasmTrainingKernels(): WasmTrainingKernels | null {
  const config = tf.getKernel(KERNELS[0].kernelName, BACKEND) as OwnedConfig | undefined;
  const owner = config?.[OWNER];
  return owner?.active ? owner : null;
}

/**
 * Register the fast training kernels on the `wasm` backend — the missing `Conv2DBackpropFilter` and
 * `UnsortedSegmentSum`, and faster replacements for the stock naive ones — and return the registration.
 * Where one is already in effect it is returned, with `settings` applied. Call it before or after
 * `tf.setBackend("wasm")`; other backends are not affected.
 */
export function registerWasmTrainingKernels(settings: Partial<WasmKernelSettings> = {}): WasmTrainingKernels {
  const current = wasmTrainingKernels();
  if (current) {
    current.configure(settings);
    return current;
  }
  return WasmTrainingKernels.register(settings);
}
