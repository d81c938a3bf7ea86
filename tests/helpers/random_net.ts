/**
 * A ProjectionNet with random BatchNorm statistics, for export tests: folding BatchNorm into the convolutions
 * (and every path that reads the running statistics) is only tested when they are not the identity.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ProjectionNet } from "../../lib/model/projection_net.ts";
import type { Rng } from "../../lib/util/rng.ts";

/** Random BatchNorm affine parameters and running statistics. */
export function randomizeBatchNorm(net: ProjectionNet, rng: Rng): void {
  for (const spec of net.specs) {
    if (!spec.name.endsWith(".running_mean")) continue;
    const bn = spec.name.slice(0, -".running_mean".length);
    const n = spec.shape[0];
    const gens: Array<[string, () => number]> = [
      ["weight", () => rng.uniform(0.5, 1.5)],
      ["bias", () => 0.2 * rng.normal()],
      ["running_mean", () => 0.2 * rng.normal()],
      ["running_var", () => rng.uniform(0.5, 2)],
    ];
    for (const [suffix, f] of gens) {
      const t = tf.tensor1d(Float32Array.from({ length: n }, f));
      net.params.get(`${bn}.${suffix}`)!.assign(t);
      t.dispose();
    }
  }
}
