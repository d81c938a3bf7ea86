/**
 * The part of ONNX's protobuf schema (`onnx/onnx.proto`, IR version 8) that a model file of this exporter
 * uses, as `.proto` text with the official message names, field names and field numbers (proto2, the packed
 * options as in the original), and its encoder and decoder through protobufjs. Nothing here writes the
 * wire format by hand.
 *
 * Left out of the subset (never written by the exporter; a decoder skips unknown fields): training info,
 * functions, sparse tensors, sequence/map/optional types, quantisation annotations.
 * @module
 */
import protobuf from "protobufjs";

/** The schema subset, field numbers as in the official `onnx.proto` (IR version 8, opsets up to 17). */
export const ONNX_PROTO_SUBSET = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0;
    FLOAT = 1;
    INT = 2;
    STRING = 3;
    TENSOR = 4;
    GRAPH = 5;
    SPARSE_TENSOR = 11;
    TYPE_PROTO = 13;
    FLOATS = 6;
    INTS = 7;
    STRINGS = 8;
    TENSORS = 9;
    GRAPHS = 10;
    SPARSE_TENSORS = 12;
    TYPE_PROTOS = 14;
  }
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional string doc_string = 13;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  enum DataType {
    UNDEFINED = 0;
    FLOAT = 1;
    UINT8 = 2;
    INT8 = 3;
    UINT16 = 4;
    INT16 = 5;
    INT32 = 6;
    INT64 = 7;
    STRING = 8;
    BOOL = 9;
    FLOAT16 = 10;
    DOUBLE = 11;
    UINT32 = 12;
    UINT64 = 13;
    COMPLEX64 = 14;
    COMPLEX128 = 15;
    BFLOAT16 = 16;
  }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    };
    optional string denotation = 3;
  };
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

/** `TensorProto.DataType` values used by the exporter. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
} as const;

/** `AttributeProto.AttributeType` values used by the exporter. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

/** An `AttributeProto` as a plain object (field names as in `onnx.proto`). */
export interface AttributeJson {
  /** Attribute name. */
  name: string;
  /** Which value field is set ({@link AttributeType}). */
  type: number;
  /** FLOAT value. */
  f?: number;
  /** INT value. */
  i?: number;
  /** STRING value (UTF-8 bytes). */
  s?: Uint8Array;
  /** TENSOR value. */
  t?: TensorJson;
  /** FLOATS value. */
  floats?: number[];
  /** INTS value. */
  ints?: number[];
  /** STRINGS value. */
  strings?: Uint8Array[];
}

/** A `TensorProto` as a plain object; values are little-endian bytes in `raw_data`. */
export interface TensorJson {
  /** Name (the value name for an initializer). */
  name: string;
  /** Shape. */
  dims: number[];
  /** Element type ({@link DataType}). */
  data_type: number;
  /** Little-endian element bytes. */
  raw_data: Uint8Array;
  /** Human-readable note. */
  doc_string?: string;
}

/** A `NodeProto` as a plain object. */
export interface NodeJson {
  /** Node name (unique in the graph). */
  name: string;
  /** Operator type (`Conv`, `Relu`, …). */
  op_type: string;
  /** Input value names (`""` for an omitted optional input). */
  input: string[];
  /** Output value names. */
  output: string[];
  /** Attributes. */
  attribute: AttributeJson[];
  /** Human-readable note. */
  doc_string?: string;
}

/** A tensor dimension: a fixed size or a symbolic name. */
export type DimJson = { dim_value: number } | { dim_param: string };

/** A `ValueInfoProto` for a tensor as a plain object. */
export interface ValueInfoJson {
  /** Value name. */
  name: string;
  /** Tensor type. */
  type: { tensor_type: { elem_type: number; shape: { dim: DimJson[] } } };
  /** Human-readable note. */
  doc_string?: string;
}

/** A `GraphProto` as a plain object. */
export interface GraphJson {
  /** Graph name. */
  name: string;
  /** Nodes in topological order. */
  node: NodeJson[];
  /** Constant tensors (weights). */
  initializer: TensorJson[];
  /** Graph inputs. */
  input: ValueInfoJson[];
  /** Graph outputs. */
  output: ValueInfoJson[];
  /** Human-readable note. */
  doc_string?: string;
}

/** A `ModelProto` as a plain object. */
export interface ModelJson {
  /** IR version (8 for opset 17). */
  ir_version: number;
  /** Operator sets. */
  opset_import: Array<{ domain: string; version: number }>;
  /** Producer. */
  producer_name: string;
  /** Producer version. */
  producer_version: string;
  /** Model namespace. */
  domain?: string;
  /** Model version. */
  model_version?: number;
  /** Human-readable note. */
  doc_string?: string;
  /** The graph. */
  graph: GraphJson;
  /** Key/value metadata. */
  metadata_props: Array<{ key: string; value: string }>;
}

let modelType: protobuf.Type | undefined;

/** The protobufjs type of `onnx.ModelProto`, parsed once from {@link ONNX_PROTO_SUBSET}. */
export function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: true }).root.lookupType("onnx.ModelProto");
  return modelType;
}

/** Encode a model as ONNX protobuf bytes (the content of a `.onnx` file). */
export function encodeModel(model: ModelJson): Uint8Array {
  const type = modelProtoType();
  const message = type.fromObject(model as unknown as Record<string, unknown>);
  return type.encode(message).finish();
}

/**
 * Decode ONNX protobuf bytes into plain objects (int64 as numbers, bytes as `Uint8Array`, enums as numbers,
 * absent repeated fields as empty arrays).
 */
export function decodeModel(bytes: Uint8Array): ModelJson {
  const type = modelProtoType();
  const message = type.decode(bytes);
  return type.toObject(message, { longs: Number, enums: Number, arrays: true }) as unknown as ModelJson;
}
