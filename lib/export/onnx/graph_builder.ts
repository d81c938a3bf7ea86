/**
 * A small builder for ONNX graphs as plain objects ({@link GraphJson}): nodes with typed attributes,
 * initializers from typed arrays (stored as little-endian `raw_data`), and tensor value infos with symbolic
 * dimensions. Names are checked for uniqueness so a mistake shows at export, not in a runtime.
 * @module
 */
import {
  type AttributeJson,
  AttributeType,
  DataType,
  type DimJson,
  type GraphJson,
  type NodeJson,
  type TensorJson,
  type ValueInfoJson,
} from "./schema.ts";

/** An attribute value: a number is INT when integral unless given as `{ float }`; strings are STRING. */
export type OnnxAttrValue =
  | number
  | { float: number }
  | string
  | readonly number[]
  | { floats: readonly number[] };

/** Constant values for an initializer: float32, int64 (as `BigInt64Array`) or uint8/bool bytes. */
export type InitializerValues = Float32Array | BigInt64Array;

const utf8 = new TextEncoder();

function attribute(name: string, value: OnnxAttrValue): AttributeJson {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      throw new Error(`onnx attribute "${name}": ${value} is not an integer (use { float } for FLOAT)`);
    }
    return { name, type: AttributeType.INT, i: value };
  }
  if (typeof value === "string") return { name, type: AttributeType.STRING, s: utf8.encode(value) };
  if (Array.isArray(value)) {
    const ints = value as readonly number[];
    if (!ints.every(Number.isInteger)) throw new Error(`onnx attribute "${name}": INTS must be integers`);
    return { name, type: AttributeType.INTS, ints: [...ints] };
  }
  if ("float" in (value as { float?: number })) {
    return { name, type: AttributeType.FLOAT, f: (value as { float: number }).float };
  }
  return { name, type: AttributeType.FLOATS, floats: [...(value as { floats: readonly number[] }).floats] };
}

/** Little-endian bytes of a typed array (copied; every platform Deno runs on is little-endian). */
function bytesOf(values: InitializerValues): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

/** A tensor value info: element type and dimensions (numbers, or strings for symbolic sizes). */
export function tensorValueInfo(
  name: string,
  elemType: number,
  dims: ReadonlyArray<number | string>,
  doc?: string,
): ValueInfoJson {
  const dim: DimJson[] = dims.map((d) => typeof d === "string" ? { dim_param: d } : { dim_value: d });
  return {
    name,
    type: { tensor_type: { elem_type: elemType, shape: { dim } } },
    ...(doc ? { doc_string: doc } : {}),
  };
}

/** Builds one ONNX graph: call {@link OnnxGraphBuilder.node} in topological order. */
export class OnnxGraphBuilder {
  /** Nodes so far. */
  readonly nodes: NodeJson[] = [];
  /** Initializers so far. */
  readonly initializers: TensorJson[] = [];
  private readonly nodeNames = new Set<string>();
  private readonly valueNames = new Set<string>();

  /** Declare a graph input's value name (so nodes may consume it). */
  input(name: string): string {
    this.claimValue(name);
    return name;
  }

  /**
   * Add a node `name` of `opType` reading `inputs`; its single output value is named `output` (default: the
   * node's name). Returns the output value name.
   */
  node(
    opType: string,
    name: string,
    inputs: readonly string[],
    attrs: Record<string, OnnxAttrValue> = {},
    options: { output?: string; doc?: string } = {},
  ): string {
    if (this.nodeNames.has(name)) throw new Error(`onnx export: duplicate node name "${name}"`);
    for (const i of inputs) {
      if (i !== "" && !this.valueNames.has(i)) {
        throw new Error(`onnx export: node "${name}" reads "${i}", which nothing produced yet`);
      }
    }
    const output = options.output ?? name;
    this.claimValue(output);
    this.nodeNames.add(name);
    this.nodes.push({
      name,
      op_type: opType,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      ...(options.doc ? { doc_string: options.doc } : {}),
    });
    return output;
  }

  /** Add a constant tensor (a weight) named `name` with shape `dims`; returns its value name. */
  initializer(name: string, values: InitializerValues, dims: readonly number[], doc?: string): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size) {
      throw new Error(`onnx export: initializer "${name}" has ${values.length} values for shape [${dims}]`);
    }
    this.claimValue(name);
    this.initializers.push({
      name,
      dims: [...dims],
      data_type: values instanceof BigInt64Array ? DataType.INT64 : DataType.FLOAT,
      raw_data: bytesOf(values),
      ...(doc ? { doc_string: doc } : {}),
    });
    return name;
  }

  /** An int64 constant vector (e.g. pads, slice starts, axes). */
  int64s(name: string, values: readonly number[]): string {
    return this.initializer(name, BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
  }

  /** A float32 scalar constant. */
  scalar(name: string, value: number): string {
    return this.initializer(name, Float32Array.of(value), []);
  }

  /** The finished graph. */
  graph(
    name: string,
    inputs: ValueInfoJson[],
    outputs: ValueInfoJson[],
    doc?: string,
  ): GraphJson {
    for (const o of outputs) {
      if (!this.valueNames.has(o.name)) {
        throw new Error(`onnx export: graph output "${o.name}" is never produced`);
      }
    }
    return {
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: inputs,
      output: outputs,
      ...(doc ? { doc_string: doc } : {}),
    };
  }

  /** Reserve a value name; a name used twice would silently rewire the graph, so it throws. */
  private claimValue(name: string): void {
    if (!name) throw new Error("onnx export: empty value name");
    if (this.valueNames.has(name)) throw new Error(`onnx export: value "${name}" is produced twice`);
    this.valueNames.add(name);
  }
}
