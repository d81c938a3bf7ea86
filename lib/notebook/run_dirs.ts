/**
 * Where the training, evaluation and export notebooks read and write, and how they hand paths to the
 * library.
 *
 * Notebook parameters are relative to the project root, but the kernel runs in `notebooks/` and the library
 * opens paths as given — and records some of them in the files it writes (the training configuration in the
 * model's metadata and `metadata.json` of a bundle, image paths in the scores file). Handing it absolute
 * paths would put this machine's folders into those files, so {@link kernelPath} turns a parameter into a
 * path relative to the kernel's working directory instead (e.g. `../outputs/models`), and
 * {@link shownPath} turns such a path back into the project-relative form for display.
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { runPaths } from "../train/config.ts";
import { fittedModelPath } from "../eval/fitted_model.ts";
import { UserError } from "../util/errors.ts";
import { displayPath, PROJECT_ROOT, projectPath } from "./params.ts";

/**
 * A parameter path (relative to the project root, or absolute) as a path this process can open that is
 * relative to its working directory; an absolute parameter stays as it is.
 */
export function kernelPath(path: string): string {
  if (isAbsolute(path)) return path;
  return relative(Deno.cwd(), projectPath(path)).replaceAll("\\", "/") || ".";
}

/**
 * A path as the library received or returned it (relative to the working directory, or absolute) in the
 * project-relative form the notebooks display (see {@link displayPath}).
 */
export function shownPath(path: string): string {
  if (isAbsolute(path)) return displayPath(path);
  return displayPath(relative(PROJECT_ROOT, resolve(path)).replaceAll("\\", "/") || ".");
}

/**
 * A path recorded in a results file, as a path this process can open: as written when it exists relative
 * to the working directory (files written by the notebooks), else relative to the project root (files
 * written by the `deno task` commands, which run there).
 */
export async function recordedPath(path: string): Promise<string> {
  if (isAbsolute(path)) return path;
  const here = await Deno.stat(path).then(() => true, () => false);
  return here ? path : kernelPath(path);
}

/** The folders of a notebook run, as {@link kernelPath} paths (the layout of `deno task pipeline`). */
export interface RunDirs {
  /** `<output>/models`: trained models, checkpoints, fitted densities, scores, plots, `models_perf.csv`. */
  modelDir: string;
  /** `<output>/logdirs`: `model-<category>/train.log`. */
  logDir: string;
  /** `<output>/inference/<category>`: the exported inference bundle. */
  bundleDir: string;
}

/** The folders of a run under the notebooks' output folder `outputDir` (a project-relative parameter). */
export function runDirs(outputDir: string, category: string): RunDirs {
  return {
    modelDir: kernelPath(join(outputDir, "models")),
    logDir: kernelPath(join(outputDir, "logdirs")),
    bundleDir: kernelPath(join(outputDir, "inference", category)),
  };
}

/**
 * The trained model of `category` in `modelDir` (its path), or a {@link UserError} that says to run the
 * training notebook first.
 */
export async function requireTrainedModel(modelDir: string, category: string): Promise<string> {
  const best = runPaths({ category, modelDir, logDir: "" }).best;
  const present = await Deno.stat(best).then((s) => s.isFile, () => false);
  if (!present) {
    throw new UserError(
      `no trained model for ${category}: ${shownPath(best)} is missing`,
      "run notebook 03 first with the same SSPCAB_OUTPUT_DIR, SSPCAB_CATEGORY and SSPCAB_DATA_DIR " +
        `(or \`deno task train --type ${category} --model_dir ${shownPath(modelDir)}\`)`,
    );
  }
  return best;
}

/**
 * The fitted density evaluation wrote for `category` in `modelDir` (its path), or a {@link UserError} that
 * says to run the evaluation notebook first.
 */
export async function requireFittedDensity(modelDir: string, category: string): Promise<string> {
  const path = fittedModelPath(modelDir, category);
  const present = await Deno.stat(path).then((s) => s.isFile, () => false);
  if (!present) {
    throw new UserError(
      `no fitted density for ${category}: ${shownPath(path)} is missing`,
      "run notebook 04 first with the same SSPCAB_OUTPUT_DIR, SSPCAB_CATEGORY and SSPCAB_DATA_DIR " +
        `(or \`deno task eval --type ${category} --model_dir ${shownPath(modelDir)}\`)`,
    );
  }
  return path;
}
