/**
 * The space-to-depth stem (`lib/model/stem.ts`) against `tf.conv2d` with stride 2 and padding 3 — forward,
 * kernel gradient and input gradient at 1e-4 relative on random data, odd and even sizes, on cpu and wasm —
 * plus a direct check of the re-arrangement against its defining formula, and the model: same outputs and
 * gradients with either stem, and an unchanged state dict (the trainable variable stays the 7×7 kernel).
 */
import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals } from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  conv2dSpaceToDepth,
  conv2dSpaceToDepthFilterGrad,
  spaceToDepthFilter,
  spaceToDepthInput,
  stemConv2d,
} from "../lib/model/stem.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  projectionNetForward,
  projectionNetSpecs,
  trainableNames,
} from "../lib/model/projection_net.ts";
import { disposeParams } from "../lib/model/params.ts";
import { loadStateDict, saveStateDict, stateDictTensors } from "../lib/model/state_dict.ts";
import { lossAndGradients } from "../lib/train/gradients.ts";
import { createRng } from "../lib/util/rng.ts";
import { availableBackends } from "./helpers/backends.ts";

function random(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = createRng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(new Float32Array(size).map(() => rng.normal() * scale), shape);
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
async function relErr(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  assertEquals(a.shape, b.shape);
  const [av, bv] = [await a.data(), await b.data()];
  let num = 0, den = 0;
  for (let i = 0; i < bv.length; i++) {
    num = Math.max(num, Math.abs(av[i] - bv[i]));
    den = Math.max(den, Math.abs(bv[i]));
  }
  return num / Math.max(den, 1e-30);
}

const SIZES: [number, number, number][] = [[1, 7, 7], [2, 8, 8], [2, 13, 10], [3, 16, 21], [1, 32, 32]];
const backends = await availableBackends();

for (const backend of backends.filter((b) => b !== "webgpu")) {
  Deno.test(`stem ${backend}: space-to-depth equals conv2d 7×7/2 pad 3 (forward, dW, dx)`, async () => {
    await initBackend(backend as "cpu");
    for (const [i, [n, h, w]] of SIZES.entries()) {
      const x = random([n, h, w, 3], 10 + i) as tf.Tensor4D;
      const k = random([7, 7, 3, 64], 20 + i, 0.1) as tf.Tensor4D;
      const oh = Math.ceil(h / 2), ow = Math.ceil(w / 2);
      const dy = random([n, oh, ow, 64], 30 + i) as tf.Tensor4D;
      const loss = (f: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D) => (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), dy));
      const direct = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, 2, 3);
      const want = direct(x, k);
      assertEquals(want.shape, [n, oh, ow, 64]);
      const [wantDx, wantDw] = tf.grads(loss(direct))([x, k]);
      for (const multiple of [1, 4]) {
        const s2d = (a: tf.Tensor4D, b: tf.Tensor4D) =>
          conv2dSpaceToDepth(a, b, 2, 3, { channelMultiple: multiple });
        const got = s2d(x, k);
        const [dx, dw] = tf.grads(loss(s2d))([x, k]);
        const tag = `${n}×${h}×${w}, channels to a multiple of ${multiple}`;
        for (const [what, a, b] of [["y", got, want], ["dx", dx, wantDx], ["dW", dw, wantDw]] as const) {
          const err = await relErr(a, b);
          assert(err < 1e-4, `${tag}: ${what} relative error ${err}`);
        }
        tf.dispose([got, dx, dw]);
      }
      // The model's stem: the forward as written, dW by space-to-depth over 16 channels, no input gradient.
      const got = stemConv2d(x, k, 2, 3, "space_to_depth");
      const dw = tf.grad((b: tf.Tensor) => loss((p, q) => conv2dSpaceToDepthFilterGrad(p, q, 2, 3))(x, b))(k);
      assert((await relErr(got, want)) < 1e-4, `${n}×${h}×${w}: stem forward`);
      assert((await relErr(dw, wantDw)) < 1e-4, `${n}×${h}×${w}: stem dW`);
      tf.dispose([x, k, dy, want, wantDx, wantDw, got, dw]);
    }
  });
}

Deno.test("stem: the re-arrangements follow their definitions", async () => {
  await initBackend("cpu");
  const [n, h, w, c, k, s, pad] = [2, 9, 6, 3, 7, 2, 3];
  const x = random([n, h, w, c], 1) as tf.Tensor4D;
  const xs = spaceToDepthInput(x, k, s, pad, 4);
  const oh = Math.floor((h + 2 * pad - k) / s) + 1, ow = Math.floor((w + 2 * pad - k) / s) + 1;
  const kq = Math.ceil(k / s);
  assertEquals(xs.shape, [n, oh + kq - 1, ow + kq - 1, s * s * 4]);
  const xv = await x.data(), xsv = await xs.data();
  const at = (b: number, r: number, q: number, ch: number) =>
    r >= 0 && r < h && q >= 0 && q < w && ch < c ? xv[((b * h + r) * w + q) * c + ch] : 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < xs.shape[1]; i++) {
      for (let j = 0; j < xs.shape[2]; j++) {
        for (let z = 0; z < xs.shape[3]; z++) {
          const p = Math.floor(z / (s * 4)), q = Math.floor(z / 4) % s, ch = z % 4;
          const want = at(b, s * i + p - pad, s * j + q - pad, ch);
          assertEquals(xsv[((b * xs.shape[1] + i) * xs.shape[2] + j) * xs.shape[3] + z], want);
        }
      }
    }
  }
  const f = random([k, k, c, 5], 2) as tf.Tensor4D;
  const fs = spaceToDepthFilter(f, s, 4);
  assertEquals(fs.shape, [kq, kq, s * s * 4, 5]);
  const fv = await f.data(), fsv = await fs.data();
  for (let a = 0; a < kq; a++) {
    for (let b = 0; b < kq; b++) {
      for (let z = 0; z < s * s * 4; z++) {
        for (let o = 0; o < 5; o++) {
          const p = Math.floor(z / (s * 4)), q = Math.floor(z / 4) % s, ch = z % 4;
          const [r, t] = [s * a + p, s * b + q];
          const want = r < k && t < k && ch < c ? fv[((r * k + t) * c + ch) * 5 + o] : 0;
          assertEquals(fsv[((a * kq + b) * s * s * 4 + z) * 5 + o], want);
        }
      }
    }
  }
  tf.dispose([x, xs, f, fs]);
});

for (const backend of backends.filter((b) => b !== "webgpu")) {
  Deno.test({
    name: `stem ${backend}: the model gives the same outputs and gradients with either stem, same state dict`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      await initBackend(backend as "cpu");
      const a = createProjectionNet(defaultProjectionNetConfig({ stemConv: "direct" }), 4);
      const b = createProjectionNet(defaultProjectionNetConfig({ stemConv: "space_to_depth" }), 5);
      // Same parameter declarations: the trainable variable is the PyTorch-layout 7×7 kernel either way.
      assertEquals(a.specs, b.specs);
      assertEquals(projectionNetSpecs(a.config), projectionNetSpecs(defaultProjectionNetConfig()));
      assertEquals(b.params.get("resnet18.conv1.weight")!.shape, [7, 7, 3, 64]);
      // A state dict saved from the space-to-depth model loads into the direct one unchanged.
      const path = await Deno.makeTempFile({ suffix: ".safetensors" });
      await saveStateDict(b.specs, b.params, path);
      await loadStateDict(a.specs, a.params, path);
      await Deno.remove(path);
      const sa = await stateDictTensors(a.specs, a.params);
      const sb = await stateDictTensors(b.specs, b.params);
      assertEquals([...sa.keys()], [...sb.keys()]);
      for (const [name, t] of sb) {
        assertEquals(sa.get(name)!.shape, t.shape, name);
        assertEquals(sa.get(name)!.data, t.data, name);
      }
      const x = random([3, 33, 30, 3], 7) as tf.Tensor4D;
      const ea = tf.tidy(() => projectionNetForward(a, x, { training: false }).embeds);
      const eb = tf.tidy(() => projectionNetForward(b, x, { training: false }).embeds);
      assert((await relErr(eb, ea)) < 1e-4, "eval embeddings differ");
      const labels = tf.tensor1d([0, 1, 2], "int32");
      const names = ["resnet18.conv1.weight", "resnet18.bn1.weight", "resnet18.layer1.0.conv1.weight"];
      assert(trainableNames(b, false).includes(names[0]));
      const ga = await lossAndGradients(a, x, labels, names, { updateRunningStats: false });
      const gb = await lossAndGradients(b, x, labels, names, { updateRunningStats: false });
      assert(Math.abs(ga.loss - gb.loss) <= 1e-5 * Math.abs(ga.loss), `loss ${ga.loss} vs ${gb.loss}`);
      for (const name of names) {
        const err = await relErr(gb.grads.get(name)!, ga.grads.get(name)!);
        assert(err < 1e-4, `${name}: gradient relative error ${err}`);
      }
      tf.dispose([x, labels, ea, eb, ga.logits, gb.logits, ...ga.grads.values(), ...gb.grads.values()]);
      disposeParams(a.params);
      disposeParams(b.params);
    },
  });
}
