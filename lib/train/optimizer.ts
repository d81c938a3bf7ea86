/**
 * Optimisers with PyTorch semantics, whose state can be saved in a checkpoint and restored:
 * - SGD with momentum (dampening 0) and L2 weight decay: `d = g + wd·p; buf = μ·buf + d; p -= lr·buf`
 *   (the first step sets `buf = d`).
 * - Adam with L2 weight decay added to the gradient (`torch.optim.Adam`): bias-corrected moments, eps 1e-8.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ParamStore } from "../model/params.ts";
import type { TensorToWrite } from "../io/safetensors.ts";
import type { Tensor, Variable } from "../util/tensor_types.ts";

/** Optimiser names accepted by `--optim`. */
export const OPTIMIZERS = ["sgd", "adam"] as const;
/** An optimiser name. */
export type OptimizerName = typeof OPTIMIZERS[number];

/** Optimiser hyper-parameters. */
export interface OptimizerConfig {
  /** Which optimiser. */
  name: OptimizerName;
  /** SGD momentum (ignored by Adam). */
  momentum: number;
  /** L2 weight decay. */
  weightDecay: number;
  /** Adam betas. */
  betas?: [number, number];
  /** Adam epsilon. */
  eps?: number;
}

/** An optimiser holding per-parameter state as tfjs variables. */
export interface Optimizer {
  /** Hyper-parameters. */
  config: OptimizerConfig;
  /** Apply one update to the parameters that have gradients, with learning rate `lr`. */
  step(params: ParamStore, grads: Map<string, Tensor>, lr: number): void;
  /** The state as named tensors (`<slot>.<param name>`), plus the step counter. */
  exportState(): Promise<{ tensors: Map<string, TensorToWrite>; steps: number }>;
  /** Restore state written by {@link Optimizer.exportState}. */
  importState(
    tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>,
    steps: number,
  ): void;
  /** Free the state. */
  dispose(): void;
}

/** Create an optimiser. */
export function createOptimizer(config: OptimizerConfig): Optimizer {
  const slots = config.name === "sgd" ? ["momentum"] : ["exp_avg", "exp_avg_sq"];
  const state = new Map<string, Variable>(); // key: `${slot}.${name}`
  let steps = 0;
  const [beta1, beta2] = config.betas ?? [0.9, 0.999];
  const eps = config.eps ?? 1e-8;

  const slot = (key: string, like: Tensor): Variable => {
    let v = state.get(key);
    if (!v) {
      v = tf.variable(tf.zerosLike(like), false);
      state.set(key, v);
    }
    return v;
  };

  return {
    config,
    step(params, grads, lr) {
      steps++;
      // One tidy per parameter: its temporaries are freed before the next parameter's are made.
      for (const [name, grad] of grads) {
        const p = params.get(name);
        if (!p) throw new Error(`optimizer: no parameter "${name}"`);
        tf.tidy(() => {
          const d = config.weightDecay ? tf.add(grad, tf.mul(p, config.weightDecay)) : grad;
          if (config.name === "sgd") {
            const key = `momentum.${name}`;
            const fresh = !state.has(key);
            const buf = slot(key, p);
            const next = fresh || config.momentum === 0 ? d : tf.add(tf.mul(buf, config.momentum), d);
            buf.assign(next);
            p.assign(tf.sub(p, tf.mul(next, lr)));
          } else {
            const m = slot(`exp_avg.${name}`, p);
            const v = slot(`exp_avg_sq.${name}`, p);
            m.assign(tf.add(tf.mul(m, beta1), tf.mul(d, 1 - beta1)));
            v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(d), 1 - beta2)));
            const c1 = 1 - beta1 ** steps;
            const c2 = 1 - beta2 ** steps;
            const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(c2)), eps);
            p.assign(tf.sub(p, tf.mul(tf.div(m, denom), lr / c1)));
          }
        });
      }
    },
    async exportState() {
      const tensors = new Map<string, TensorToWrite>();
      for (const [key, v] of state) {
        tensors.set(key, { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
      }
      return { tensors, steps };
    },
    importState(tensors, savedSteps) {
      for (const v of state.values()) v.dispose();
      state.clear();
      for (const [key, t] of tensors) {
        if (!slots.some((s) => key.startsWith(`${s}.`))) {
          throw new Error(`optimizer state "${key}" does not belong to ${config.name}`);
        }
        const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
        state.set(key, tf.variable(tf.tensor(data, t.shape, "float32"), false));
      }
      steps = savedSteps;
    },
    dispose() {
      for (const v of state.values()) v.dispose();
      state.clear();
    },
  };
}
