/**
 * A hand-made bundle whose graph also outputs an anomaly map, for the app's map paths (no exported bundle
 * has one yet). The graph is tiny and its outputs are known in closed form: `embedding` = the per-channel
 * mean of the raw input (0..255), `anomaly_map` = the per-pixel mean over the channels; the density is a
 * Gaussian fitted on random 3-vectors.
 * @module
 */
import { join } from "node:path";
import { writeGraphModel } from "../../lib/export/bundle_io.ts";
import {
  GRAPH_MODEL_FORMAT,
  GRAPH_MODEL_WEIGHTS_FILE,
  type GraphModelJson,
} from "../../lib/export/graph_model.ts";
import { BUNDLE_FILES, BUNDLE_FORMAT, type BundleMetadata } from "../../lib/export/bundle_metadata.ts";
import { saveFittedModel } from "../../lib/eval/fitted_model.ts";
import { fitGaussianDensity, type GaussianDensity } from "../../lib/eval/density.ts";
import { createMatrix } from "../../lib/eval/linalg.ts";
import { writeJsonAtomic } from "../../lib/io/atomic_write.ts";

/** Write the map bundle into `dir` (side `size`); returns its density and threshold. */
export async function writeMapBundle(
  dir: string,
  size = 16,
): Promise<{ density: GaussianDensity; threshold: number }> {
  const floatT = { T: { type: "DT_FLOAT" } };
  const meanAttr = { ...floatT, Tidx: { type: "DT_INT32" }, keep_dims: { b: false } };
  const constNode = (name: string, n: number) => ({
    name,
    op: "Const",
    input: [],
    attr: {
      dtype: { type: "DT_INT32" },
      value: { tensor: { dtype: "DT_INT32", tensorShape: { dim: [{ size: String(n) }] } } },
    },
  });
  const modelJson: GraphModelJson = {
    format: GRAPH_MODEL_FORMAT,
    generatedBy: "app test: channel means",
    convertedBy: "tests/helpers/app_map_bundle.ts",
    modelTopology: {
      node: [
        {
          name: "image",
          op: "Placeholder",
          input: [],
          attr: {
            dtype: { type: "DT_FLOAT" },
            shape: { shape: { dim: [-1, size, size, 3].map((d) => ({ size: String(d) })) } },
          },
        },
        constNode("spatial_axes", 2),
        constNode("channel_axis", 1),
        { name: "embedding", op: "Mean", input: ["image", "spatial_axes"], attr: meanAttr },
        { name: "anomaly_map", op: "Mean", input: ["image", "channel_axis"], attr: meanAttr },
      ],
      library: {},
      versions: { producer: 1482, minConsumer: 12 },
    },
    weightsManifest: [{
      paths: [GRAPH_MODEL_WEIGHTS_FILE],
      weights: [
        { name: "spatial_axes", shape: [2], dtype: "int32" },
        { name: "channel_axis", shape: [1], dtype: "int32" },
      ],
    }],
    signature: {
      inputs: {
        image: {
          name: "image:0",
          dtype: "DT_FLOAT",
          tensorShape: { dim: [-1, size, size, 3].map((d) => ({ size: String(d) })) },
        },
      },
      outputs: {
        embedding: {
          name: "embedding:0",
          dtype: "DT_FLOAT",
          tensorShape: { dim: [{ size: "-1" }, { size: "3" }] },
        },
        anomaly_map: {
          name: "anomaly_map:0",
          dtype: "DT_FLOAT",
          tensorShape: { dim: [-1, size, size].map((d) => ({ size: String(d) })) },
        },
      },
    },
    userDefinedMetadata: { sspcab: { test: "map bundle" } },
  };
  await writeGraphModel(dir, { modelJson, weightData: Int32Array.of(1, 2, 3).buffer });
  // Training rows spread around mid-grey, so real images score a few units to tens of units.
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rows = createMatrix(40, 3, Float64Array.from({ length: 120 }, () => 100 + 60 * rand()));
  const density = fitGaussianDensity(rows);
  const threshold = 5;
  await saveFittedModel(join(dir, BUNDLE_FILES.density), {
    category: "map_test",
    imageSize: size,
    density,
    threshold,
    auroc: NaN,
  });
  const metadata: BundleMetadata = {
    format: BUNDLE_FORMAT,
    category: "map_test",
    imageSize: size,
    preprocessing: { resize: `bicubic to ${size}x${size}, RGB`, input: "float32 0..255", mean: [], std: [] },
    threshold,
    density: "gaussian",
    outputs: ["embedding", "anomaly_map"],
    metrics: { auroc: NaN, step: 0 },
    training: null,
    libraryVersion: "test",
    exportedAt: new Date(0).toISOString(),
  };
  await writeJsonAtomic(join(dir, BUNDLE_FILES.metadata), metadata);
  return { density, threshold };
}
