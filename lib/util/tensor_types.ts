/**
 * The TensorFlow.js types that appear in our public API, under our own documented names, so the API's
 * documentation is complete without reaching into tfjs' internals (and a reader sees at a glance which
 * engine types a signature uses).
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type * as tfjs from "@tensorflow/tfjs";

/** A tensor of any rank (tfjs `Tensor`). */
export type Tensor = tf.Tensor;
/** A rank-0 tensor (tfjs `Scalar`), e.g. a loss. */
export type Scalar = tf.Scalar;
/** A rank-1 tensor (tfjs `Tensor1D`), e.g. labels. */
export type Tensor1D = tf.Tensor1D;
/** A rank-2 tensor (tfjs `Tensor2D`), e.g. embeddings `[N, 512]` or logits. */
export type Tensor2D = tf.Tensor2D;
/** A rank-3 tensor (tfjs `Tensor3D`), e.g. a batch of single-channel maps `[N, H, W]`. */
export type Tensor3D = tf.Tensor3D;
/** A rank-4 tensor (tfjs `Tensor4D`): an NHWC image batch or feature map. */
export type Tensor4D = tf.Tensor4D;
/** A trainable tensor (tfjs `Variable`). */
export type Variable = tf.Variable;
/** Tensors by name (tfjs `NamedTensorMap`). */
export type NamedTensorMap = tf.NamedTensorMap;
/** A loaded TensorFlow.js graph model (tfjs `GraphModel`). */
export type GraphModel = tfjs.GraphModel;
/** A graph model's files in memory: topology, weights manifest and weight bytes (tfjs `io.ModelArtifacts`). */
export type ModelArtifacts = tf.io.ModelArtifacts;
/** Loads or saves model artifacts (tfjs `io.IOHandler`). */
export type IOHandler = tf.io.IOHandler;
/** The weights manifest of a graph model's `model.json` (tfjs `io.WeightsManifestConfig`). */
export type WeightsManifestConfig = tf.io.WeightsManifestConfig;
/** A graph model's `model.json` (tfjs `io.ModelJSON`). */
export type ModelJSON = tf.io.ModelJSON;
