/**
 * The anomaly maps of one localisation method with given options — the one place that dispatches on the
 * method, for eval (options it chooses), predict (options eval stored) and the notebook: `sspcab` and
 * `gradcam` take `sigma` (and `layer` for GradCAM), `patch` `patch_size`, `stride`, `sigma` and the Gaussian
 * of the training images' patch embeddings. A missing option takes the map function's default.
 * @module
 */
import type { Density } from "../eval/density.ts";
import type { LocalizationMethod } from "../io/localization_file.ts";
import type { RgbImage } from "../data/rgb_image.ts";
import type { ProjectionNet } from "../model/projection_net.ts";
import { gradcamMaps } from "../localize/gradcam.ts";
import { patchMaps } from "../localize/patch.ts";
import { sspcabMaps } from "../localize/sspcab_map.ts";
import { TRUNK_LAYERS, type TrunkLayer } from "../localize/trunk.ts";
import { createProgress, type Progress, textSink } from "../util/progress.ts";

/** How {@link methodMaps} runs. */
export interface MethodMapsRun {
  /** Images per forward pass (default 8). */
  batchSize?: number;
  /** No progress bar (default false: one bar per method). */
  quiet?: boolean;
  /** `patch` only: the patch density the patch scores come from (required for `patch`). */
  patchDensity?: Density;
}

/** A progress bar over `total` images, silent when `quiet`. */
export function imageProgress(quiet: boolean | undefined, label: string, total: number): Progress {
  const bar = { label, total, unit: "img" };
  return createProgress(quiet ? { ...bar, sink: textSink(() => {}) } : bar);
}

function numberOption(options: Record<string, number | string>, key: string): number | undefined {
  const v = options[key];
  return typeof v === "number" ? v : undefined;
}

function layerOption(options: Record<string, number | string>): { layer?: TrunkLayer } {
  const v = options.layer;
  return typeof v === "string" && (TRUNK_LAYERS as readonly string[]).includes(v)
    ? { layer: v as TrunkLayer }
    : {};
}

/**
 * The maps of `images` (one `height × width` `Float32Array` each) by `method` with `options`, the density
 * `density` (GradCAM's Gaussian) and, for `patch`, `run.patchDensity`; a progress bar unless `run.quiet`.
 */
export async function methodMaps(
  method: LocalizationMethod,
  net: ProjectionNet,
  density: Density,
  images: readonly RgbImage[],
  options: Record<string, number | string>,
  run: MethodMapsRun = {},
): Promise<Float32Array[]> {
  const batchSize = Math.max(1, run.batchSize ?? 8);
  const sigma = numberOption(options, "sigma");
  const bar = imageProgress(run.quiet, `${method} maps`, images.length);
  const maps: Float32Array[] = [];
  if (method === "patch") {
    if (!run.patchDensity) throw new RangeError("methodMaps: the patch map needs run.patchDensity");
    maps.push(
      ...await patchMaps(net, run.patchDensity, images, {
        patchSize: numberOption(options, "patch_size"),
        stride: numberOption(options, "stride"),
        sigma,
        onProgress: (done) => bar.update(done),
      }),
    );
  } else {
    for (let start = 0; start < images.length; start += batchSize) {
      const chunk = images.slice(start, start + batchSize);
      maps.push(
        ...(method === "sspcab"
          ? await sspcabMaps(net, chunk, { sigma, batchSize })
          : await gradcamMaps(net, density, chunk, { ...layerOption(options), sigma, batchSize })),
      );
      bar.update(maps.length);
    }
  }
  bar.done();
  return maps;
}
