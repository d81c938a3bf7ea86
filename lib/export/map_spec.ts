/**
 * Which anomaly map an exported model computes as its `anomaly_map` output, and the constant matrices that
 * upsample (and smooth) a map inside a graph.
 *
 * - `sspcab`: SSPCAB's reconstruction error at layer3 (`lib/localize/sspcab_map.ts`), a forward pass;
 * - `gradcam`: GradCAM of the Mahalanobis score w.r.t. layer4 (`lib/localize/gradcam.ts`), computed by
 *   forward ops only with the analytic gradient (the embedding is layer4's spatial mean, so the gradient is
 *   closed-form, see `graph_model.ts`). Only layer4 is supported in a graph: the gradient through layer4's
 *   convolutions from an earlier layer has no such closed form.
 *
 * Upsampling and Gaussian smoothing are linear and separable, so `map = M_h · grid · M_wᵀ` with
 * `M = Blur · Resize` (`[H, h]`), built in float64 by applying the library's own {@link resizeBilinear} and
 * {@link gaussianBlur} to unit vectors: the graph then matches the library's border conventions exactly.
 * @module
 */
import { GRADCAM_SIGMA } from "../localize/gradcam.ts";
import { gaussianBlur, resizeBilinear } from "../localize/resample.ts";
import { UserError } from "../util/errors.ts";

/** Map methods an exported graph can compute itself. */
export const GRAPH_MAP_METHODS = ["sspcab", "gradcam"] as const;

/** A value of {@link GRAPH_MAP_METHODS}. */
export type GraphMapMethod = typeof GRAPH_MAP_METHODS[number];

/** The anomaly map a graph computes. */
export interface GraphMapSpec {
  /** The method. */
  method: GraphMapMethod;
  /** Gaussian smoothing after upsampling, in input pixels; 0 = none. */
  sigma: number;
}

/**
 * The graph map of `method` with the options evaluation stored (`sigma`; for gradcam `layer`, which must be
 * `layer4`). Defaults: sspcab σ = 0, gradcam σ = {@link GRADCAM_SIGMA}. Unsupported options are a
 * {@link UserError} saying what to do.
 */
export function graphMapSpec(
  method: GraphMapMethod,
  options: Readonly<Record<string, number | string>> = {},
): GraphMapSpec {
  const sigma = options.sigma ?? (method === "gradcam" ? GRADCAM_SIGMA : 0);
  if (typeof sigma !== "number" || !Number.isFinite(sigma) || sigma < 0) {
    throw new UserError(
      `the ${method} map's option sigma must be a number ≥ 0, got ${JSON.stringify(sigma)}`,
      "evaluate the model again with `deno task eval --localization " + method + "`",
    );
  }
  if (method === "gradcam" && options.layer !== undefined && options.layer !== "layer4") {
    throw new UserError(
      `an exported model computes the gradcam map at layer4 only; this one was evaluated at ${options.layer}`,
      "evaluate gradcam at layer4 (the default), or export with --map sspcab",
    );
  }
  if (method === "sspcab" && options.layer !== undefined && options.layer !== "layer3") {
    throw new UserError(`the sspcab map is taken at layer3, not ${options.layer}`);
  }
  return { method, sigma };
}

/**
 * The `[outN, inN]` row-major matrix (float64) of bilinear resizing from `inN` to `outN` samples (half-pixel
 * centres) followed by Gaussian smoothing with `sigma` (none when 0), each column the library's own
 * {@link resizeBilinear} and {@link gaussianBlur} of a unit vector.
 */
export function upsampleMatrix(inN: number, outN: number, sigma: number): Float64Array {
  const m = new Float64Array(outN * inN);
  const unit = new Float32Array(inN);
  for (let i = 0; i < inN; i++) {
    unit.fill(0);
    unit[i] = 1;
    const up = resizeBilinear(unit, inN, 1, outN, 1);
    const col = sigma > 0 ? gaussianBlur(up, outN, 1, sigma) : up;
    for (let o = 0; o < outN; o++) m[o * inN + i] = col[o];
  }
  return m;
}

/** The transpose of a row-major `rows × cols` matrix, as float32. */
export function transposeToFloat32(m: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  return out;
}

/** The symmetric part `(P + Pᵀ)/2` of a `dim × dim` matrix as float32, and whether `P` was symmetric. */
export function symmetricPart(
  p: ArrayLike<number>,
  dim: number,
): { values: Float32Array; symmetric: boolean } {
  const out = new Float32Array(dim * dim);
  let symmetric = true;
  for (let r = 0; r < dim; r++) {
    for (let c = 0; c < dim; c++) {
      const a = p[r * dim + c];
      const b = p[c * dim + r];
      if (a !== b) symmetric = false;
      out[r * dim + c] = (a + b) / 2;
    }
  }
  return { values: out, symmetric };
}
