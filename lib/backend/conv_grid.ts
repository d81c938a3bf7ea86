/**
 * The zero-padded grids on which the wasm convolution kernels turn a convolution into products of shifted
 * views. Images (and their rows) are laid out one after another on a grid whose rows are `step` pixels long,
 * with zeros where the padding is; flattened to one index per grid pixel, output pixel r of a stride-1
 * convolution reads input r + i·stepW + j for filter tap (i, j): a constant offset per tap. A stride s is
 * split into s polyphase components, each a stride-1 problem. Neighbouring images share their zero borders
 * (a row's right padding is the next row's left padding), so a grid is only slightly larger than its image
 * (66×66 for a 64×64 image under a 3×3 pad-1 filter).
 * @module
 */

/** How one spatial axis of an input is laid out on a convolution grid (see the module documentation). */
export interface GridAxis {
  /** Grid positions read by the outputs of one image (or row): out + ⌈k/s⌉ − 1. */
  span: number;
  /** Distance between consecutive images (rows), ≤ span: the zero borders of neighbours overlap. */
  step: number;
  /** Per phase p: positions [lo, hi) of the grid that hold x (x index u·s + p − pad), zero elsewhere. */
  lo: number[];
  hi: number[];
}

/**
 * The layout of one axis of a convolution with kernel size `k`, stride `s` and leading padding `pad` over an
 * input of `size` with `out` outputs: images (rows) are placed `step` apart with
 * step ≥ span − min lo (the next image's data starts after this one's reads end) and step ≥ max hi (this
 * image's data ends before the next one's reads begin), so the zero padding between neighbours is shared.
 */
export function gridAxis(size: number, out: number, k: number, s: number, pad: number): GridAxis {
  const span = out + Math.ceil(k / s) - 1;
  const lo: number[] = [];
  const hi: number[] = [];
  for (let p = 0; p < s; p++) {
    const l = Math.max(0, Math.ceil((pad - p) / s));
    lo.push(l);
    hi.push(Math.max(l, Math.min(span, Math.floor((size - 1 + pad - p) / s) + 1)));
  }
  const step = Math.max(out, Math.max(...hi), span - Math.min(...lo));
  return { span, step, lo, hi };
}
