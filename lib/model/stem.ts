/**
 * A strided convolution rewritten as a stride-1 one by space-to-depth, for ResNet's stem (conv1: 7×7, stride 2,
 * padding 3, over the 3 channels of an RGB image).
 *
 * With stride s, output (oh, ow) reads the zero-padded input at rows s·oh + kh and columns s·ow + kw. Writing
 * kh = s·a + p and kw = s·b + q (0 ≤ p, q < s), that is pixel (oh + a, ow + b), sub-pixel (p, q) of the padded
 * input cut into s×s blocks. So with
 *
 *   X'[n, i, j, (p·s + q)·C + c] = xpad[n, s·i + p, s·j + q, c]                 (space-to-depth by s)
 *   W'[a, b, (p·s + q)·C + c, o] = W[s·a + p, s·b + q, c, o]   (zero where s·a + p ≥ k or s·b + q ≥ k)
 *
 * the strided convolution equals the stride-1 "valid" convolution of X' with the ⌈k/s⌉×⌈k/s⌉ kernel W': the same
 * products, summed in another order (the extra taps multiply zeros). For the stem that is a 4×4 convolution over
 * 12 channels — or 16, with the RGB channels zero-padded to 4 first, which puts both the convolution and its
 * filter gradient on the stride-1 GEMM of the `wasm` backend (it takes 16 or more input channels).
 *
 * Both re-arrangements are a `pad`, a `reshape`, a 4-D `transpose` and a `reshape` — ops every backend has with
 * gradients — and the filter's runs inside the forward pass: the trainable variable stays the PyTorch-layout
 * k×k kernel (state dicts, checkpoints and exports do not change) and autodiff returns its k×k gradient.
 *
 * What the model uses (`"space_to_depth"`, measured on `wasm` by `tests/bench/stem_bench.ts`): the forward
 * pass is no faster as a space-to-depth convolution (over 12 channels it runs on XNNPACK like the strided one;
 * over 16 on our GEMM it is slower), but the filter gradient — which the strided form leaves to XNNPACK GEMMs
 * over 3 channels — is faster over 16 on our GEMM; so the stem keeps its forward convolution and computes
 * only its filter gradient in the space-to-depth form ({@link conv2dSpaceToDepthFilterGrad}).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor4D } from "../util/tensor_types.ts";

/** How the stem's strided convolution is computed. */
export type StemConv =
  /** `tf.conv2d` with stride 2 and padding 3, as written. */
  | "direct"
  /**
   * The forward convolution as written; its filter gradient by space-to-depth, a 4×4 stride-1 convolution over
   * 16 channels ({@link conv2dSpaceToDepthFilterGrad}).
   */
  | "space_to_depth";

/** The stem convolution used when none is asked for. */
export const DEFAULT_STEM_CONV: StemConv = "space_to_depth";

/** Options of {@link conv2dSpaceToDepth}. */
export interface SpaceToDepthOptions {
  /**
   * Zero-pad the input channels up to a multiple of this before the space-to-depth (default 4: the stem's 3
   * RGB channels become 4, so the stride-1 convolution has 4·4 = 16 input channels). 1 leaves them as they are.
   */
  channelMultiple?: number;
}

function checkGeometry(k: number, stride: number, pad: number): void {
  if (!Number.isInteger(stride) || stride < 1) {
    throw new Error(`space-to-depth convolution: stride must be a positive integer, got ${stride}`);
  }
  if (!Number.isInteger(pad) || pad < 0 || !Number.isInteger(k) || k < 1) {
    throw new Error(`space-to-depth convolution: bad kernel ${k} or padding ${pad}`);
  }
}

/** Output size of a convolution of `size` pixels with kernel `k`, `stride` and symmetric padding `pad`. */
function outSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/**
 * The space-to-depth input X' of a `stride`-`s` convolution with kernel `k` and symmetric zero padding `pad`:
 * the input zero-padded by `pad` at the top/left and as much as the stride-1 convolution needs at the
 * bottom/right (rows it never reads are cropped), its channels zero-padded to a multiple of `channelMultiple`,
 * then cut into s×s blocks stacked along channels, sub-pixel (p, q) and channel c at (p·s + q)·C + c.
 * Shape [n, OH + ⌈k/s⌉ − 1, OW + ⌈k/s⌉ − 1, s²·C].
 */
export function spaceToDepthInput(
  x: Tensor4D,
  k: number,
  stride: number,
  pad: number,
  channelMultiple = 4,
): Tensor4D {
  checkGeometry(k, stride, pad);
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const kq = Math.ceil(k / stride);
    const oh = outSize(h, k, stride, pad);
    const ow = outSize(w, k, stride, pad);
    if (oh < 1 || ow < 1) {
      throw new Error(`space-to-depth convolution: a ${h}×${w} input is smaller than the ${k}×${k} kernel`);
    }
    // The padded extent the stride-1 convolution reads: s·(O + kq − 1) rows and columns.
    const hp = stride * (oh + kq - 1);
    const wp = stride * (ow + kq - 1);
    const cp = Math.ceil(c / channelMultiple) * channelMultiple;
    let input: Tensor4D = x;
    // Rows/columns past the padded extent are never read (a negative bottom/right padding): crop them.
    if (hp - pad < h || wp - pad < w) {
      input = tf.slice(input, [0, 0, 0, 0], [n, Math.min(h, hp - pad), Math.min(w, wp - pad), c]);
    }
    const [, hc, wc] = input.shape;
    const padded = tf.pad(input, [[0, 0], [pad, hp - pad - hc], [pad, wp - pad - wc], [0, cp - c]]);
    const blocks = tf.reshape(padded, [n * (hp / stride), stride, wp / stride, stride * cp]);
    const moved = tf.transpose(blocks, [0, 2, 1, 3]);
    return tf.reshape(moved, [n, hp / stride, wp / stride, stride * stride * cp]) as Tensor4D;
  });
}

/**
 * The stride-1 kernel W' [⌈k/s⌉, ⌈k/s⌉, s²·C', O] of a `stride`-s convolution with kernel `w` [k, k, C, O]:
 * w zero-padded to s·⌈k/s⌉ taps and C' = C rounded up to `channelMultiple` channels, tap (s·a + p, s·b + q)
 * moved to tap (a, b), channel (p·s + q)·C' + c. Differentiable: its gradient is dW' re-arranged back.
 */
export function spaceToDepthFilter(w: Tensor4D, stride: number, channelMultiple = 4): Tensor4D {
  const [kh, kw, c, o] = w.shape;
  if (kh !== kw) throw new Error(`space-to-depth convolution: the kernel must be square, got ${kh}×${kw}`);
  checkGeometry(kh, stride, 0);
  return tf.tidy(() => {
    const kq = Math.ceil(kh / stride);
    const cp = Math.ceil(c / channelMultiple) * channelMultiple;
    const padded = tf.pad(w, [[0, stride * kq - kh], [0, stride * kq - kw], [0, cp - c], [0, 0]]);
    const blocks = tf.reshape(padded, [kq, stride, kq, stride * cp * o]);
    const moved = tf.transpose(blocks, [0, 2, 1, 3]);
    return tf.reshape(moved, [kq, kq, stride * stride * cp, o]) as Tensor4D;
  });
}

/**
 * `tf.conv2d(x, w, stride, pad)` (NHWC, square kernel, symmetric zero padding `pad`, PyTorch's convention) as
 * a stride-1 "valid" convolution of {@link spaceToDepthInput} with {@link spaceToDepthFilter}. Equal to the
 * strided convolution up to float32 rounding, with gradients for `x` and `w` through the same ops.
 */
export function conv2dSpaceToDepth(
  x: Tensor4D,
  w: Tensor4D,
  stride: number,
  pad: number,
  options: SpaceToDepthOptions = {},
): Tensor4D {
  const multiple = options.channelMultiple ?? 4;
  if (!Number.isInteger(multiple) || multiple < 1) {
    throw new Error(
      `space-to-depth convolution: channelMultiple must be a positive integer, got ${multiple}`,
    );
  }
  if (x.shape[3] !== w.shape[2]) {
    throw new Error(
      `space-to-depth convolution: the input has ${x.shape[3]} channels, the kernel expects ${w.shape[2]}`,
    );
  }
  return tf.tidy(() => {
    const xs = spaceToDepthInput(x, w.shape[0], stride, pad, multiple);
    const ws = spaceToDepthFilter(w, stride, multiple);
    return tf.conv2d(xs, ws, 1, "valid");
  });
}

/**
 * The stem's convolution: `x` [n, h, w, C] with kernel `w` [k, k, C, O], `stride` and padding `pad`, computed
 * as `method` says (default {@link DEFAULT_STEM_CONV}); the same values either way. `"space_to_depth"` is
 * {@link conv2dSpaceToDepthFilterGrad}: `x` is treated as data (a batch of images) and gets no gradient.
 */
export function stemConv2d(
  x: Tensor4D,
  w: Tensor4D,
  stride: number,
  pad: number,
  method: StemConv = DEFAULT_STEM_CONV,
): Tensor4D {
  if (method === "direct" || stride === 1) return tf.conv2d(x, w, stride, pad === 0 ? "valid" : pad);
  return conv2dSpaceToDepthFilterGrad(x, w, stride, pad);
}

/**
 * `tf.conv2d(x, w, stride, pad)` for an input that needs no gradient (a batch of images), differentiable with
 * respect to `w` only, as one node of the gradient tape: the forward pass is the strided convolution as it is
 * (on `wasm`, XNNPACK's, which a space-to-depth forward does not beat), the filter gradient that of the
 * space-to-depth form — a stride-1 ⌈k/s⌉×⌈k/s⌉ convolution over the input with its channels zero-padded to a
 * multiple of 4 (16 channels for RGB: our GEMM on `wasm`, which takes 16 or more; XNNPACK's 3-channel path
 * is slower) — re-arranged back to the k×k kernel. No input gradient is computed (`tf.customGrad` would
 * compute every input's); asking for one fails with tfjs' "Cannot compute gradient" error (use
 * {@link conv2dSpaceToDepth} then). Nothing is saved for the backward pass but `x`, which the caller holds.
 */
export function conv2dSpaceToDepthFilterGrad(
  x: Tensor4D,
  w: Tensor4D,
  stride: number,
  pad: number,
): Tensor4D {
  const [k, , c, o] = w.shape;
  checkGeometry(k, stride, pad);
  const node = tf.customGrad(
    ((filter: Tensor4D) => ({
      value: tf.conv2d(x, filter, stride, pad === 0 ? "valid" : pad),
      gradFunc: (dy: Tensor | Tensor[]) => {
        const x16 = spaceToDepthInput(x, k, stride, pad, 4);
        const kq = Math.ceil(k / stride);
        const c16 = x16.shape[3];
        const dWs = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: x16, dy: dy as Tensor4D }, {
          strides: [1, 1],
          pad: "valid",
          dataFormat: "NHWC",
          dimRoundingMode: undefined,
          filterShape: [kq, kq, c16, o],
        } as unknown as tf.NamedAttrMap) as Tensor4D;
        // The inverse of spaceToDepthFilter: tap (a, b), channel (p·s + q)·C' + c → tap (s·a + p, s·b + q).
        const cp = c16 / (stride * stride);
        const back = tf.reshape(
          tf.transpose(tf.reshape(dWs, [kq, kq, stride, stride * cp * o]), [0, 2, 1, 3]),
          [stride * kq, stride * kq, cp, o],
        );
        return tf.slice(back, [0, 0, 0, 0], [k, k, c, o]);
      },
    })) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return (node as unknown as (f: Tensor4D) => Tensor4D)(w);
}
