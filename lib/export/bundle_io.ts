/**
 * Writing and reading a TensorFlow.js graph model folder (`model.json` + `group1-shard1of1.bin`) with Deno's
 * file APIs. Files are written atomically (the weights first, `model.json` last), and loading goes through a
 * custom `IOHandler`, so `tf.loadGraphModel` needs no HTTP server and no `file://` fetch. Problems are
 * reported naming the file at fault.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic_write.ts";
import { UserError } from "../util/errors.ts";
import { GRAPH_MODEL_FORMAT, type GraphModelArtifacts, type GraphModelJson } from "./graph_model.ts";
import type {
  GraphModel,
  IOHandler,
  ModelArtifacts,
  ModelJSON,
  WeightsManifestConfig,
} from "../util/tensor_types.ts";

/** File name of a graph model's topology and manifest. */
export const MODEL_JSON_FILE = "model.json";

/** Paths written by {@link writeGraphModel}. */
export interface WrittenGraphModel {
  /** Path of `model.json`. */
  modelJson: string;
  /** Paths of the weight shards. */
  weights: string[];
  /** Total bytes of the weight shards. */
  weightBytes: number;
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** Bytes the weights of a manifest occupy (throws on a dtype or quantisation we do not size). */
export function manifestByteLength(manifest: WeightsManifestConfig): number {
  let total = 0;
  for (const group of manifest) {
    for (const w of group.weights) {
      const size = w.shape.reduce((a, b) => a * b, 1);
      const bytes = w.quantization
        ? (w.quantization.dtype === "float16" || w.quantization.dtype === "uint16" ? 2 : 1)
        : BYTES_PER_ELEMENT[w.dtype];
      if (!bytes) throw new Error(`weight "${w.name}" has dtype ${w.dtype}, which has no fixed size`);
      total += size * bytes;
    }
  }
  return total;
}

/** Check a shard path from a manifest is a plain file name (no folders, no `..`). */
function checkShardName(name: string, jsonPath: string): void {
  if (!name || name.includes("/") || name.includes("\\") || name === "." || name === "..") {
    throw new UserError(
      `${jsonPath}: weight shard path "${name}" is not a plain file name`,
      "graph model shards must sit next to model.json",
    );
  }
}

/**
 * Write a graph model into `dir` (created when missing): the weight shard first, then `model.json`, each
 * atomically, so a reader never sees a `model.json` whose weights are missing or half written.
 */
export async function writeGraphModel(dir: string, model: GraphModelArtifacts): Promise<WrittenGraphModel> {
  const manifest = model.modelJson.weightsManifest;
  if (manifest.length !== 1 || manifest[0].paths.length !== 1) {
    throw new Error("writeGraphModel: expected one weight group with one shard");
  }
  const expected = manifestByteLength(manifest);
  if (expected !== model.weightData.byteLength) {
    throw new Error(
      `writeGraphModel: the manifest describes ${expected} bytes, the weight data has ${model.weightData.byteLength}`,
    );
  }
  const shard = manifest[0].paths[0];
  checkShardName(shard, MODEL_JSON_FILE);
  const weightPath = join(dir, shard);
  const jsonPath = join(dir, MODEL_JSON_FILE);
  await writeFileAtomic(weightPath, new Uint8Array(model.weightData));
  await writeJsonAtomic(jsonPath, model.modelJson);
  return { modelJson: jsonPath, weights: [weightPath], weightBytes: model.weightData.byteLength };
}

async function readFileNamed(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${what} ${path} not found`,
        "export the model again (model.json and its .bin shard)",
      );
    }
    throw new UserError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/**
 * Read and validate `dir/model.json` (or `dir/file`; pure JSON, `format: "graph-model"`, a topology and a
 * manifest).
 */
export async function readGraphModelJson(dir: string, file = MODEL_JSON_FILE): Promise<GraphModelJson> {
  const jsonPath = join(dir, file);
  const text = new TextDecoder().decode(await readFileNamed(jsonPath, "graph model file"));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(
      `${jsonPath} is not valid JSON (${(err as Error).message})`,
      "export the model again",
    );
  }
  const m = json as Partial<GraphModelJson>;
  if (typeof json !== "object" || json === null || m.format !== GRAPH_MODEL_FORMAT) {
    throw new UserError(
      `${jsonPath} is not a TensorFlow.js graph model (format ${
        JSON.stringify(m?.format)
      }, expected "graph-model")`,
    );
  }
  if (!m.modelTopology || !Array.isArray(m.modelTopology.node) || !Array.isArray(m.weightsManifest)) {
    throw new UserError(`${jsonPath} lacks modelTopology.node or weightsManifest`, "export the model again");
  }
  return m as GraphModelJson;
}

/**
 * Load the graph model artifacts of `dir` (topology, weight specs and data, signature, metadata; from
 * `model.json` or `file`), checking that every shard exists and that their total size matches the manifest.
 */
export async function readGraphModelArtifacts(dir: string, file = MODEL_JSON_FILE): Promise<ModelArtifacts> {
  const jsonPath = join(dir, file);
  const json = await readGraphModelJson(dir, file);
  const modelJson = json as unknown as ModelJSON;
  return await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const buffers: Uint8Array[] = [];
    for (const group of manifest) {
      for (const shard of group.paths) {
        checkShardName(shard, jsonPath);
        buffers.push(await readFileNamed(join(dir, shard), "weight shard"));
      }
    }
    const total = buffers.reduce((n, b) => n + b.byteLength, 0);
    const expected = manifestByteLength(manifest);
    if (total !== expected) {
      const files = manifest.flatMap((g) => g.paths).map((p) => join(dir, p)).join(", ");
      throw new UserError(
        `weight shard ${files} holds ${total} bytes, but ${jsonPath} describes ${expected}`,
        "the files are truncated or from different exports — export the model again",
      );
    }
    const data = new Uint8Array(total);
    let offset = 0;
    for (const b of buffers) {
      data.set(b, offset);
      offset += b.byteLength;
    }
    return [manifest.flatMap((g) => g.weights), data.buffer];
  });
}

/** A `IOHandler` that loads the graph model in `dir` with Deno's file APIs. */
export function graphModelDirHandler(dir: string): IOHandler {
  return { load: () => readGraphModelArtifacts(dir) };
}

/** Load the graph model in `dir` (`model.json`, or `file`) with `tf.loadGraphModel`. */
export async function loadGraphModelFromDir(dir: string, file = MODEL_JSON_FILE): Promise<GraphModel> {
  return await tf.loadGraphModel({ load: () => readGraphModelArtifacts(dir, file) });
}

/** Load an in-memory graph model (e.g. straight from `buildGraphModel`) with `tf.loadGraphModel`. */
export async function loadGraphModelFromArtifacts(model: GraphModelArtifacts): Promise<GraphModel> {
  const json = model.modelJson as unknown as ModelJSON;
  const artifacts = await tf.io.getModelArtifactsForJSON(
    json,
    () => Promise.resolve([json.weightsManifest.flatMap((g) => g.weights), model.weightData]),
  );
  return await tf.loadGraphModel({ load: () => Promise.resolve(artifacts) });
}
