/**
 * ONNX export: the model builder, its protobuf schema subset and the `model.onnx` file helpers. The engine
 * that runs the file is `../onnx_engine.ts`.
 * @module
 */
export * from "./schema.ts";
export * from "./graph_builder.ts";
export * from "./whiten.ts";
export * from "./export.ts";
export * from "./model_file.ts";
