/**
 * sspcab-deno — CutPaste (3-way) + SSPCAB image anomaly detection on MVTec AD, in TypeScript on Deno with
 * TensorFlow.js. This module is the library's public face; each concept lives in its own file.
 *
 * ```ts
 * import { initBackend, trainCategory, TRAIN_DEFAULTS } from "./lib/mod.ts";
 * await initBackend("auto");
 * await trainCategory({ ...TRAIN_DEFAULTS, category: "bottle", dataDir: "data/mvtec", pretrained: null });
 * ```
 * @module
 */
export * from "./backend.ts";
export * from "./version.ts";
export * from "./util/errors.ts";
export * from "./util/progress.ts";
export * from "./util/rng.ts";
export * from "./image/rgb_image.ts";
export * from "./io/safetensors.ts";
export * from "./io/atomic_write.ts";
export * from "./data/mvtec.ts";
export * from "./data/normalize.ts";
export {
  createImageCache,
  DEFAULT_MAX_PIXELS,
  loadMany,
  loadMask,
  loadRgb,
  saveRgbPng,
} from "./data/images.ts";
export * from "./data/extract.ts";
export * from "./data/synthetic.ts";
export * from "./data/category_images.ts";
export * from "./data/image_paths.ts";
export * from "./augment/mod.ts";
export * from "./model/params.ts";
export * from "./model/layers.ts";
export * from "./model/resnet18.ts";
export * from "./model/sspcab.ts";
export * from "./model/projection_net.ts";
export * from "./model/state_dict.ts";
export * from "./model/pretrained.ts";
export * from "./train/config.ts";
export * from "./train/schedule.ts";
export * from "./train/optimizer.ts";
export * from "./train/gradients.ts";
export * from "./train/batch_plan.ts";
export * from "./train/batches.ts";
export * from "./train/checkpoint.ts";
export * from "./train/trainer.ts";
export * from "./train/model_file.ts";
export * from "./eval/mod.ts";
export * from "./eval/embed.ts";
export * from "./eval/evaluate.ts";
export * from "./eval/fitted_model.ts";
export * from "./eval/run_eval.ts";
export * from "./eval/published_results.ts";
export * from "./predict/predict.ts";
export * from "./export/graph_model.ts";
export * from "./export/bundle_io.ts";
export * from "./export/bundle.ts";
export * from "./export/infer.ts";
export * from "./export/onnx/mod.ts";
export * from "./export/onnx_engine.ts";
export * as plot from "./plot/mod.ts";
