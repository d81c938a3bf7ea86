/**
 * The memory-lean backward pass (`lib/backend/lean_backprop.ts`) must give bit-identical gradients to tfjs'
 * own, free what it promises (saved tensors and intermediate gradients, during the walk), leak nothing, and
 * keep working for the cases tfjs supports: a caller-supplied `dy`, `customGrad`, gradients that pass `dy`
 * through unchanged, tensors used twice, and nested (higher-order) gradients.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "../lib/backend/gradients.ts";
import { assert, assertEquals, assertLess } from "./assert.ts";
import {
  installLeanBackprop,
  leanBackpropInstalled,
  uninstallLeanBackprop,
} from "../lib/backend/lean_backprop.ts";

tf.env().set("PROD", true); // no "install tfjs-node" banner
await tf.setBackend("cpu");

function values(seed: number, shape: number[]): tf.Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  return tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3)), shape);
}

/** A small conv net with batch-norm as a customGrad node, a residual add and a reused tensor. */
const bn = tf.customGrad(
  ((x: tf.Tensor, g: tf.Tensor, save: tf.GradSaveFunc) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const inv = tf.rsqrt(tf.add(variance, 1e-5));
    const xh = tf.mul(tf.sub(x, mean), inv);
    save([xh, inv, g]);
    return {
      value: tf.mul(xh, g),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor;
        const [h, i, gam] = saved;
        const count = d.size / d.shape[3]!;
        const db = tf.sum(d, [0, 1, 2]);
        const dg = tf.sum(tf.mul(d, h), [0, 1, 2]);
        const dx = tf.mul(tf.mul(gam, i), tf.sub(tf.sub(d, tf.div(db, count)), tf.mul(h, tf.div(dg, count))));
        return [dx, dg];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
) as unknown as (x: tf.Tensor, g: tf.Tensor) => tf.Tensor;

/** A straight-through node whose gradient is its `dy` itself (the same tensor object). */
const passThrough = tf.customGrad(
  ((x: tf.Tensor) => ({
    value: tf.round(x),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor],
  })) as unknown as Parameters<typeof tf.customGrad>[0],
) as unknown as (x: tf.Tensor) => tf.Tensor;

function net(x: tf.Tensor, w1: tf.Tensor, g1: tf.Tensor, w2: tf.Tensor): tf.Scalar {
  const h = tf.relu(bn(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 1), g1));
  const y = tf.conv2d(h as tf.Tensor4D, w2 as tf.Tensor4D, 1, 1);
  const r = tf.add(tf.add(y, h), passThrough(tf.mul(h, 4))); // h used three times
  return tf.sum(tf.mul(r, tf.sigmoid(r)));
}

const SHAPES = [[2, 6, 6, 3], [3, 3, 3, 4], [4], [3, 3, 4, 4]];

function grads(dyScale?: number): Float32Array[] {
  return tf.tidy(() => {
    const xs = SHAPES.map((s, i) => values(i + 1, s));
    const dy = dyScale === undefined ? undefined : tf.scalar(dyScale);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => net(a, b, c, d))(xs, dy);
    if (dy) assert(!dy.isDisposed, "the caller's dy must survive");
    return g.map((t) => t.dataSync() as Float32Array);
  });
}

Deno.test("lean backprop: gradients are bit-identical to tfjs' own and nothing leaks", () => {
  uninstallLeanBackprop();
  const reference = grads();
  const referenceDy = grads(0.5);
  installLeanBackprop();
  try {
    assert(leanBackpropInstalled());
    const before = tf.memory().numTensors;
    const lean = grads();
    const leanDy = grads(0.5);
    assertEquals(tf.memory().numTensors, before, "tensors leaked");
    lean.forEach((g, i) => assertEquals(Array.from(g), Array.from(reference[i]), `gradient ${i}`));
    leanDy.forEach((g, i) => assertEquals(Array.from(g), Array.from(referenceDy[i]), `gradient ${i} (dy)`));
  } finally {
    uninstallLeanBackprop();
  }
});

Deno.test("lean backprop: variableGrads frees saved tensors and gradients during the walk", async () => {
  const vars = SHAPES.slice(1).map((s, i) => tf.variable(values(i + 2, s)));
  const x = values(1, SHAPES[0]);
  const peak = async () => {
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => net(x, vars[0], vars[1], vars[2]));
      tf.dispose([value, ...Object.values(grads)]);
    });
    return info.peakBytes;
  };
  try {
    uninstallLeanBackprop();
    const stock = await peak();
    installLeanBackprop();
    const lean = await peak();
    assertLess(lean, stock, `peak tensor bytes: lean ${lean} B vs stock ${stock} B`);
  } finally {
    uninstallLeanBackprop();
    tf.dispose([x, ...vars]);
  }
});

Deno.test("lean backprop: nested (higher-order) gradients still work", () => {
  installLeanBackprop();
  try {
    const before = tf.memory().numTensors;
    const d2 = tf.tidy(() => {
      const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.pow(x, 3), tf.sin(x)));
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.grad(f)(x)));
      return g(tf.tensor1d([0.3, -1.2, 2]));
    });
    const x = [0.3, -1.2, 2];
    // d²/dx² (x³ sin x) = 6x sin x + 6x² cos x − x³ sin x
    const expected = x.map((v) => 6 * v * Math.sin(v) + 6 * v * v * Math.cos(v) - v ** 3 * Math.sin(v));
    const got = d2.dataSync();
    expected.forEach((e, i) => assertLess(Math.abs(got[i] - e), 1e-4 * Math.max(1, Math.abs(e))));
    d2.dispose();
    assertEquals(tf.memory().numTensors, before);
  } finally {
    uninstallLeanBackprop();
  }
});
