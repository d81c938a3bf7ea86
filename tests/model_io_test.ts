/**
 * safetensors round trips and error messages, state-dict loading (full checkpoint, ImageNet ResNet18 names
 * with `fc.*` ignored, missing / unexpected / mis-shaped tensors reported by name), BatchNorm running-stat
 * updates with PyTorch's momentum and unbiased variance, and trunk freezing.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import { initBackend } from "../lib/backend/mod.ts";
import {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from "../lib/io/safetensors.ts";
import {
  createProjectionNet,
  defaultProjectionNetConfig,
  trainableNames,
} from "../lib/model/projection_net.ts";
import { applyStateDict, loadStateDict, saveStateDict, stateDictTensors } from "../lib/model/state_dict.ts";
import { disposeParams } from "../lib/model/params.ts";
import { batchNorm, batchNormSpecs, BN_MOMENTUM } from "../lib/model/layers.ts";
import { createParams } from "../lib/model/params.ts";
import { createRng } from "../lib/util/rng.ts";
import { UserError } from "../lib/util/errors.ts";

await initBackend("cpu");

Deno.test("safetensors: F32/I64 round trip, metadata, sorted names, 8-byte aligned header", () => {
  const bytes = serializeSafetensors(
    {
      b: { shape: [2, 2], data: Float32Array.of(1, -2, 3.5, 4) },
      a: { shape: [3], data: Int32Array.of(7, -1, 0) },
    },
    { note: "hi" },
  );
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(headerLen % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  assertEquals(Object.keys(header).filter((k) => k !== "__metadata__"), ["a", "b"]);
  const file = parseSafetensors(bytes);
  assertEquals(Array.from(file.tensors.get("b")!.data), [1, -2, 3.5, 4]);
  assertEquals(file.tensors.get("a")!.dtype, "I64");
  assertEquals(Array.from(file.tensors.get("a")!.data), [7, -1, 0]);
  assertEquals(file.metadata.note, "hi");
});

Deno.test("safetensors: truncated or foreign files give a UserError naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = serializeSafetensors({ w: { shape: [4], data: new Float32Array(4) } });
    const truncated = join(dir, "truncated.safetensors");
    await Deno.writeFile(truncated, good.subarray(0, good.length - 3));
    const e1 = await assertRejects(() => readSafetensors(truncated), UserError);
    assertStringIncludes(e1.message, "truncated.safetensors");
    const pickle = join(dir, "model.pth");
    await Deno.writeFile(pickle, new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0, 0, 0, 0, 0, 0, 0]));
    await assertRejects(() => readSafetensors(pickle), UserError, "not a valid safetensors file");
    await assertRejects(() => readSafetensors(join(dir, "missing.safetensors")), UserError, "not found");
    await writeSafetensors(join(dir, "ok.safetensors"), {
      w: { shape: [4], data: Float32Array.of(1, 2, 3, 4) },
    });
    assertEquals(Array.from((await readSafetensors(join(dir, "ok.safetensors"))).tensors.get("w")!.data), [
      1,
      2,
      3,
      4,
    ]);
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")).length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("state dict: save → load round trip reproduces every tensor (PyTorch layouts)", async () => {
  const dir = await Deno.makeTempDir();
  const a = createProjectionNet(defaultProjectionNetConfig(), 1);
  const b = createProjectionNet(defaultProjectionNetConfig(), 2);
  try {
    const path = join(dir, "m.safetensors");
    await saveStateDict(a.specs, a.params, path);
    const file = await readSafetensors(path);
    assertEquals(file.tensors.get("resnet18.conv1.weight")!.shape, [64, 3, 7, 7]);
    assertEquals(file.tensors.get("head.0.weight")!.shape, [512, 512]);
    assertEquals(file.tensors.get("out.weight")!.shape, [3, 128]);
    const report = await loadStateDict(b.specs, b.params, path);
    assertEquals(report.kind, "projection_net");
    const ta = await stateDictTensors(a.specs, a.params);
    const tb = await stateDictTensors(b.specs, b.params);
    for (const [name, t] of ta) assertEquals(Array.from(tb.get(name)!.data), Array.from(t.data), name);
  } finally {
    disposeParams(a.params);
    disposeParams(b.params);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("state dict: ImageNet ResNet18 names load the trunk only, fc.* ignored; problems listed by name", async () => {
  const net = createProjectionNet(defaultProjectionNetConfig(), 1);
  try {
    const full = await stateDictTensors(net.specs, net.params);
    const imagenet = new Map<string, { shape: number[]; dtype: "F32"; data: Float32Array }>();
    for (const [name, t] of full) {
      if (name.startsWith("resnet18.")) {
        imagenet.set(name.slice(9), { shape: t.shape, dtype: "F32", data: t.data as Float32Array });
      }
    }
    imagenet.set("fc.weight", { shape: [1000, 512], dtype: "F32", data: new Float32Array(512000) });
    imagenet.set("bn1.num_batches_tracked", { shape: [], dtype: "F32", data: new Float32Array(1) });
    const report = applyStateDict(net.specs, net.params, imagenet, "imagenet.safetensors");
    assertEquals(report.kind, "imagenet_resnet18");
    assert(report.ignored.includes("fc.weight"));
    assert(report.loaded.every((n) => n.startsWith("resnet18.")));

    imagenet.delete("layer2.0.conv1.weight");
    imagenet.set("layer1.0.conv1.weight", {
      shape: [64, 64, 1, 1],
      dtype: "F32",
      data: new Float32Array(4096),
    });
    imagenet.set("extra.tensor", { shape: [1], dtype: "F32", data: new Float32Array(1) });
    const err = assertThrows(
      () => applyStateDict(net.specs, net.params, imagenet, "bad.safetensors"),
      UserError,
    );
    for (
      const fragment of [
        "bad.safetensors",
        "missing (1): layer2.0.conv1.weight",
        "unexpected (1): extra.tensor",
        "layer1.0.conv1.weight: file [64,64,1,1] vs model [64,64,3,3]",
      ]
    ) {
      assertStringIncludes(err.message, fragment);
    }
  } finally {
    disposeParams(net.params);
  }
});

Deno.test("BatchNorm (training): batch statistics, PyTorch running-stat update, gradients of the custom node", () => {
  const rng = createRng(3);
  const store = createParams(batchNormSpecs("bn", 4), rng);
  const ctx = { params: store, training: true };
  const values = Array.from({ length: 2 * 3 * 3 * 4 }, () => rng.normal() * 2 + 1);
  const x = tf.tensor4d(values, [2, 3, 3, 4]);
  const y = batchNorm(ctx, "bn", x);
  const yv = y.dataSync();
  // per channel: mean 0, biased variance 1 (γ = 1, β = 0)
  for (let c = 0; c < 4; c++) {
    const col = Array.from(yv).filter((_, i) => i % 4 === c);
    const m = col.reduce((s, v) => s + v, 0) / col.length;
    const v = col.reduce((s, u) => s + (u - m) ** 2, 0) / col.length;
    assertAlmostEquals(m, 0, 1e-5);
    assertAlmostEquals(v, 1, 1e-3);
  }
  const col0 = values.filter((_, i) => i % 4 === 0);
  const mean0 = col0.reduce((s, v) => s + v, 0) / col0.length;
  const unbiased0 = col0.reduce((s, v) => s + (v - mean0) ** 2, 0) / (col0.length - 1);
  assertAlmostEquals(store.get("bn.running_mean")!.dataSync()[0], BN_MOMENTUM * mean0, 1e-5);
  assertAlmostEquals(
    store.get("bn.running_var")!.dataSync()[0],
    (1 - BN_MOMENTUM) + BN_MOMENTUM * unbiased0,
    1e-4,
  );

  // The custom gradient equals the gradient of the plain-op formula.
  const w = tf.randomNormal([2, 3, 3, 4], 0, 1, "float32", 5);
  const gamma = store.get("bn.weight")!;
  const beta = store.get("bn.bias")!;
  const plain = (input: tf.Tensor) => {
    const { mean, variance } = tf.moments(input, [0, 1, 2]);
    return tf.sum(
      tf.mul(tf.add(tf.mul(tf.div(tf.sub(input, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma), beta), w),
    );
  };
  const custom = (input: tf.Tensor) =>
    tf.sum(tf.mul(batchNorm({ params: store, training: true, updateRunningStats: false }, "bn", input), w));
  const gPlain = tf.grad(plain)(x).dataSync();
  const gCustom = tf.grad(custom)(x).dataSync();
  gPlain.forEach((v, i) => assertAlmostEquals(gCustom[i], v, 1e-4));
  tf.dispose([x, y, w]);
  disposeParams(store);
});

Deno.test("freezing: a frozen trunk leaves only SSPCAB, head and classifier trainable", () => {
  const net = createProjectionNet(defaultProjectionNetConfig(), 0);
  try {
    const frozen = trainableNames(net, true);
    const all = trainableNames(net, false);
    assert(frozen.every((n) => !n.startsWith("resnet18.")));
    assert(frozen.some((n) => n.startsWith("SSPCAB.")) && frozen.includes("out.weight"));
    assert(all.some((n) => n.startsWith("resnet18.layer4.")));
    assert(all.every((n) => !n.includes("running_")));
  } finally {
    disposeParams(net.params);
  }
});
