/**
 * Loading and saving network parameters as safetensors with PyTorch names and layouts (conv OIHW, linear
 * [out, in]). Loads a full ProjectionNet checkpoint, or torchvision/timm ImageNet ResNet18 weights (names
 * without the `resnet18.` prefix; `fc.*` ignored). Any missing, unexpected or mis-shaped tensor is reported by
 * name in one error.
 * @module
 */
import { fromTorchLayout, type ParamSpec, type ParamStore, torchShape, toTorchLayout } from "./params.ts";
import {
  type NamedTensor,
  readSafetensors,
  type TensorToWrite,
  writeSafetensors,
} from "../io/safetensors.ts";
import { UserError } from "../util/errors.ts";

/** What a file holds, as detected from its tensor names. */
export type StateDictKind = "projection_net" | "imagenet_resnet18";

/** Result of {@link loadStateDict}. */
export interface LoadReport {
  /** Detected kind of file. */
  kind: StateDictKind;
  /** Names loaded. */
  loaded: string[];
  /** Tensors in the file that were ignored on purpose (e.g. `fc.*`, `num_batches_tracked`). */
  ignored: string[];
}

const IGNORABLE = /(^|\.)num_batches_tracked$/;

/** Detect whether tensor names are a ProjectionNet checkpoint or bare ImageNet ResNet18 weights. */
export function detectStateDictKind(names: Iterable<string>): StateDictKind {
  for (const n of names) if (n.startsWith("resnet18.")) return "projection_net";
  return "imagenet_resnet18";
}

/**
 * Copy tensors (PyTorch names/layouts) into a parameter store. For a ProjectionNet checkpoint every declared
 * parameter must be present with the right shape; for ImageNet ResNet18 weights only the trunk is loaded.
 */
export function applyStateDict(
  specs: readonly ParamSpec[],
  store: ParamStore,
  tensors: Map<string, NamedTensor>,
  source: string,
): LoadReport {
  const kind = detectStateDictKind(tensors.keys());
  const fileName = (
    spec: ParamSpec,
  ) => (kind === "imagenet_resnet18" ? spec.name.replace(/^resnet18\./, "") : spec.name);
  const wanted = kind === "imagenet_resnet18" ? specs.filter((s) => s.name.startsWith("resnet18.")) : specs;
  const missing: string[] = [];
  const mismatched: string[] = [];
  for (const spec of wanted) {
    const t = tensors.get(fileName(spec));
    if (!t) missing.push(fileName(spec));
    else if (t.shape.join(",") !== torchShape(spec).join(",")) {
      mismatched.push(`${fileName(spec)}: file [${t.shape}] vs model [${torchShape(spec)}]`);
    }
  }
  const known = new Set(wanted.map(fileName));
  const ignored: string[] = [];
  const unexpected: string[] = [];
  for (const name of tensors.keys()) {
    if (known.has(name)) continue;
    if (IGNORABLE.test(name) || (kind === "imagenet_resnet18" && name.startsWith("fc."))) ignored.push(name);
    else unexpected.push(name);
  }
  if (missing.length || mismatched.length || unexpected.length) {
    const list = (title: string, items: string[]) =>
      items.length
        ? `\n  ${title} (${items.length}): ${items.slice(0, 12).join(", ")}${items.length > 12 ? ", …" : ""}`
        : "";
    throw new UserError(
      `${source} does not fit this model (read as ${kind.replace("_", " ")})` +
        list("missing", missing) + list("unexpected", unexpected) + list("wrong shape", mismatched),
      "check --head_layer, the number of classes and the SSPCAB settings match the run that wrote the file, " +
        "or pass the right weights file",
    );
  }
  const loaded: string[] = [];
  for (const spec of wanted) {
    const t = tensors.get(fileName(spec))!;
    const value = fromTorchLayout(spec, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
    store.get(spec.name)!.assign(value);
    value.dispose();
    loaded.push(spec.name);
  }
  return { kind, loaded, ignored };
}

/** Read a safetensors file and load it into the store (see {@link applyStateDict}). */
export async function loadStateDict(
  specs: readonly ParamSpec[],
  store: ParamStore,
  path: string,
): Promise<LoadReport> {
  const file = await readSafetensors(path);
  return applyStateDict(specs, store, file.tensors, path);
}

/** The parameters as PyTorch-named, PyTorch-layout tensors. */
export async function stateDictTensors(
  specs: readonly ParamSpec[],
  store: ParamStore,
): Promise<Map<string, TensorToWrite>> {
  const out = new Map<string, TensorToWrite>();
  for (const spec of specs) {
    out.set(spec.name, { shape: torchShape(spec), data: await toTorchLayout(spec, store.get(spec.name)!) });
  }
  return out;
}

/** Save the parameters as a safetensors file (atomically), with optional string metadata. */
export async function saveStateDict(
  specs: readonly ParamSpec[],
  store: ParamStore,
  path: string,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeSafetensors(path, await stateDictTensors(specs, store), metadata);
}
