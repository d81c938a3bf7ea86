/**
 * Loss and gradients of a ProjectionNet training step, by PyTorch parameter name.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "../backend/gradients.ts";
import { type ProjectionNet, projectionNetLoss } from "../model/projection_net.ts";
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor4D } from "../util/tensor_types.ts";

/** Loss values and gradients from {@link lossAndGradients}; the caller disposes `grads` and `logits`. */
export interface LossAndGradients {
  /** Total loss. */
  loss: number;
  /** Cross-entropy part. */
  ce: number;
  /** SSPCAB MSE part. */
  mse: number;
  /** Logits of the batch (kept for accuracy). */
  logits: Tensor2D;
  /** Gradient of the loss for each requested parameter. */
  grads: Map<string, Tensor>;
}

/**
 * One forward + backward pass in training mode: gradients of `CE + λ·MSE` with respect to the named
 * parameters. BatchNorm running statistics are updated unless `updateRunningStats` is false.
 */
export async function lossAndGradients(
  net: ProjectionNet,
  x: Tensor4D,
  labels: Tensor1D,
  names: readonly string[],
  options: { updateRunningStats?: boolean } = {},
): Promise<LossAndGradients> {
  const vars = names.map((n) => {
    const v = net.params.get(n);
    if (!v) throw new Error(`no parameter named "${n}"`);
    return v;
  });
  let ce: Scalar | undefined;
  let mse: Scalar | undefined;
  let logits: Tensor2D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const parts = projectionNetLoss(net, x, labels, options);
    ce = tf.keep(parts.ce);
    mse = tf.keep(parts.mse);
    logits = tf.keep(parts.logits);
    return parts.loss;
  }, vars);
  const byName = new Map<string, Tensor>();
  vars.forEach((v, i) => byName.set(names[i], grads[v.name]));
  const [loss, ceV, mseV] = await Promise.all([value.data(), ce!.data(), mse!.data()]);
  value.dispose();
  ce!.dispose();
  mse!.dispose();
  return { loss: loss[0], ce: ceV[0], mse: mseV[0], logits: logits!, grads: byName };
}
