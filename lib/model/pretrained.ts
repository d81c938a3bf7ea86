/**
 * ImageNet-pretrained ResNet18 weights: torchvision's weights as published by timm (`timm/resnet18.tv_in1k`,
 * `model.safetensors`). Downloading is an explicit command (`deno task weights`), never done at import time.
 * @module
 */
import { join } from "node:path";
import { readSafetensors } from "../io/safetensors.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { UserError } from "../util/errors.ts";
import { createProgress } from "../util/progress.ts";
import { resnet18Specs } from "./resnet18.ts";
import { torchShape } from "./params.ts";

/** Where the weights are published. */
export const PRETRAINED_SOURCE = {
  repo: "timm/resnet18.tv_in1k",
  file: "model.safetensors",
  url: "https://huggingface.co/timm/resnet18.tv_in1k/resolve/main/model.safetensors",
} as const;

/** The default location of the pretrained weights inside a data folder. */
export function defaultPretrainedPath(dataDir = "data"): string {
  return join(dataDir, "weights", "resnet18.tv_in1k.safetensors");
}

/** SHA-256 of bytes as lowercase hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Check that a file holds ImageNet ResNet18 weights (every trunk tensor present with its shape). */
export async function verifyResnet18Weights(path: string): Promise<void> {
  const { tensors } = await readSafetensors(path);
  const problems: string[] = [];
  for (const spec of resnet18Specs("")) {
    const t = tensors.get(spec.name);
    if (!t) problems.push(`missing ${spec.name}`);
    else if (t.shape.join(",") !== torchShape(spec).join(",")) {
      problems.push(`${spec.name} has shape [${t.shape}]`);
    }
  }
  if (problems.length) {
    throw new UserError(
      `${path} is not ResNet18 ImageNet weights: ${problems.slice(0, 6).join("; ")}${
        problems.length > 6 ? "; …" : ""
      }`,
      `delete it and run \`deno task weights\`, or download ${PRETRAINED_SOURCE.file} of ${PRETRAINED_SOURCE.repo} by hand`,
    );
  }
}

/** What to tell a user who has no network: where to get the file and where to put it. */
export function manualDownloadHint(dest: string): string {
  return `download ${PRETRAINED_SOURCE.url} (the ${PRETRAINED_SOURCE.file} of ${PRETRAINED_SOURCE.repo}) ` +
    `and save it as ${dest}; then run \`deno task weights\` again to verify it`;
}

/**
 * Download the weights to `dest` (streamed, with a progress bar), check the SHA-256 against the one the server
 * publishes for the file (its `x-linked-etag`/`etag`) and the tensor shapes, then move the file into place.
 * An existing valid file is kept. Offline, the error says where to put the file by hand.
 */
export async function downloadPretrained(
  dest: string,
  options: { url?: string; fetchFn?: typeof fetch; force?: boolean } = {},
): Promise<{ path: string; sha256: string; downloaded: boolean }> {
  const url = options.url ?? PRETRAINED_SOURCE.url;
  if (!options.force) {
    const present = await Deno.stat(dest).then(() => true, () => false);
    if (present) {
      await verifyResnet18Weights(dest);
      return { path: dest, sha256: await sha256Hex(await Deno.readFile(dest)), downloaded: false };
    }
  }
  let response: Response;
  try {
    response = await (options.fetchFn ?? fetch)(url);
  } catch (err) {
    throw new UserError(`cannot reach ${url} (${(err as Error).message})`, manualDownloadHint(dest));
  }
  if (!response.ok || !response.body) {
    throw new UserError(`download of ${url} failed: HTTP ${response.status}`, manualDownloadHint(dest));
  }
  const etag = (response.headers.get("x-linked-etag") ?? response.headers.get("etag") ?? "").replace(
    /^W\//,
    "",
  )
    .replace(/"/g, "");
  const expected = /^[0-9a-f]{64}$/.test(etag) ? etag : undefined;
  const total = Number(response.headers.get("content-length") ?? 0);
  const progress = createProgress({ label: "weights", total: total / 1e6, unit: "MB" });
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    chunks.push(chunk);
    size += chunk.length;
    progress.update(Math.round(size / 1e5) / 10);
  }
  progress.done();
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  const sha256 = await sha256Hex(bytes);
  if (expected && expected !== sha256) {
    throw new UserError(
      `checksum mismatch for ${url}: got ${sha256}, the server publishes ${expected}`,
      "retry the download",
    );
  }
  const tmp = `${dest}.part`;
  await writeFileAtomic(tmp, bytes);
  try {
    await verifyResnet18Weights(tmp);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await Deno.rename(tmp, dest);
  return { path: dest, sha256, downloaded: true };
}
