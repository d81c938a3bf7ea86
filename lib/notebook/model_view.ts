/**
 * Tables about the network for the notebooks: the parameters a block declares (PyTorch names, shapes,
 * sizes), as they appear in checkpoints.
 * @module
 */
import type { ParamSpec } from "../model/params.ts";
import { type Displayable, html, htmlTable, type TableCell } from "./display.ts";

/** Number of values of a tensor shape. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A table of parameter declarations (e.g. `sspcabSpecs(config)`): name, shape (TensorFlow layout) and number
 * of values, with a total row.
 */
export function parameterTable(specs: readonly ParamSpec[], caption?: string): Displayable {
  const rows: TableCell[][] = specs.map((s) => [s.name, s.shape.join(" × "), shapeSize(s.shape)]);
  rows.push(["total", "", specs.reduce((n, s) => n + shapeSize(s.shape), 0)]);
  const plain = rows.map((r) => r.join("\t")).join("\n");
  return html(
    htmlTable(["parameter", "shape (TF layout)", "values"], rows, { caption, boldRows: [rows.length - 1] }),
    plain,
  );
}
