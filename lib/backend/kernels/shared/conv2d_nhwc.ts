/**
 * An NHWC convolution on our GEMM where it takes the shapes, else on XNNPACK's: the forward `Conv2D` kernel
 * and the polyphase components of `Conv2DBackpropInput` both run through it.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { conv2dByGemm } from "../../wasm_conv_gemm.ts";
import { conv2dByIm2col, im2colPreferred } from "../../wasm_conv_im2col.ts";
import { type Attrs, type KernelContext, runStock, type TensorInfo } from "./context.ts";

/** The attributes of a convolution that {@link conv2DNHWC} reads. */
export type ConvAttrs = Pick<
  tf.Conv2DAttrs,
  "strides" | "pad" | "dataFormat" | "dilations" | "dimRoundingMode"
>;

/**
 * An NHWC convolution: as one im2col product on our GEMM where `im2colPreferred` says so (small maps), else
 * on our GEMM where `conv2dByGemm` takes it, else XNNPACK's.
 */
export function conv2DNHWC(
  ctx: KernelContext,
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  attrs: ConvAttrs,
): TensorInfo {
  const { engine, gemmGridPixels, winograd, winogradTile, im2col } = ctx.settings;
  if (engine != null && attrs.dataFormat !== "NCHW") {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    const [n, , , ci] = x.shape;
    const co = filter.shape[3];
    if (im2col && im2colPreferred(n, ci, co, info, winograd, winogradTile)) {
      const y = conv2dByIm2col(backend, engine, x, filter, info);
      if (y) return y;
    }
    const y = conv2dByGemm(backend, engine, x, filter, info, {
      gridPixels: gemmGridPixels,
      winograd,
      winogradTile,
    });
    if (y) return y;
  }
  return runStock(ctx, backend, tf.Conv2D, { inputs: { x, filter }, attrs: attrs as unknown as Attrs });
}
