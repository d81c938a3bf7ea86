/**
 * Expanding the image arguments of `predict` / `infer`: files, folders (their images, sorted) or a mix,
 * with a clear error for a path that does not exist or a folder without images.
 * @module
 */
import { extname, join } from "node:path";
import { IMAGE_EXTENSIONS } from "./mvtec.ts";
import { UserError } from "../util/errors.ts";

/** Expand files and folders into a sorted list of image files (folders are not searched recursively). */
export async function expandImagePaths(inputs: readonly string[]): Promise<string[]> {
  if (inputs.length === 0) {
    throw new UserError("no image given", "pass --img_file PATH (a file or a folder of images)");
  }
  const out: string[] = [];
  for (const input of inputs) {
    const info = await Deno.stat(input).catch(() => null);
    if (!info) throw new UserError(`image not found: ${input}`, "check the path");
    if (info.isFile) {
      out.push(input);
      continue;
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(input)) {
      if (e.isFile && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) names.push(e.name);
    }
    if (names.length === 0) {
      throw new UserError(`no .png/.jpg images in folder ${input}`, "point at a folder of images");
    }
    names.sort();
    out.push(...names.map((n) => join(input, n)));
  }
  return out;
}
