/**
 * A memory-lean backward pass for TensorFlow.js (`tf.grad`, `tf.grads`, `tf.variableGrads`, optimizers).
 *
 * tfjs-core 4.22's `Engine.gradients` runs the forward pass in a `tidy` (so intermediates that no gradient
 * saved are freed when it ends) and then walks the tape backwards inside one more `tidy`. In that walk nothing
 * is freed before the very end: the tensors each node saved for its gradient, the gradient of every
 * intermediate tensor, and the intermediates a `customGrad` gradient function computes outside its per-input
 * closures all stay alive until the last node is done. For a ResNet the peak is then about the forward
 * activations *plus* a gradient for each of them — twice what is needed.
 *
 * {@link installLeanBackprop} replaces the engine's `gradients` with the same walk (the same nodes, in the same
 * order, the same gradient functions and the same accumulation, so results are bit-identical) that, once a
 * node's input gradients are computed,
 * - disposes the node's saved tensors (each node owns clones of them; nothing else reads them), and
 * - disposes the accumulated gradient of each of the node's outputs (complete once its producer is reached,
 *   and read by nobody after it) unless it is also the gradient of another tensor, of an `x`, or the `dy`
 *   the caller passed in;
 * - evaluates the node's gradient inside a `tidy`, so that intermediates of `customGrad` gradient functions
 *   are freed at once.
 *
 * The backward pass then holds the activations not yet reached plus the gradients in flight, instead of all
 * activations and all gradients. Gradient functions must read forward tensors through `save`/`saved` (as
 * every tfjs gradient and `customGrad` contract asks); one that closes over a tensor of the forward pass still
 * works, as only tape-owned tensors are freed early. Nested (higher-order) gradients keep tfjs' own walk,
 * since an outer tape may still need the inner nodes' saved tensors.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineState {
  activeTape: TapeNode[] | null;
  gradientDepth: number;
}

type GradientsFn = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients?: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };

interface EngineInternals {
  state: EngineState;
  gradients: GradientsFn;
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
}

let original: GradientsFn | undefined;

/**
 * The nodes of `tape` on a path from one of `xs` to `y`, in tape order, with inputs that do not depend on `xs`
 * pruned (tfjs-core's `getFilteredNodesXToY`).
 */
function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      const inputs = Object.values(node.inputs);
      for (const t of inputs) toY.add(t.id);
      if (inputs.length) nodesToY.add(node.id);
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    filtered.push({ ...node, inputs, outputs: node.outputs });
  }
  return filtered;
}

/** `Engine.gradients` with early release (see the module doc). */
function leanGradients(
  this: EngineInternals,
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients = false,
): { value: tf.Tensor; grads: tf.Tensor[] } {
  // Inside another gradient computation an outer tape may still need what we would free.
  if (this.state.gradientDepth > 0) return original!.call(this, f, xs, dy, allowNoGradients);
  if (xs.length === 0) throw new Error("gradients() received an empty list of xs.");
  if (dy != null && dy.dtype !== "float32") {
    throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  }
  const y = this.scopedRun(() => this.startTape(), () => this.endTape(), () => this.tidy("forward", f));
  if (!(y instanceof tf.Tensor)) throw new Error("The result y returned by f() must be a tensor.");
  const tape = this.state.activeTape ?? [];
  const filtered = filterTape(tape, xs, y);
  if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
    throw new Error(
      "Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all " +
        "operations that lead from x to y.",
    );
  }
  return this.tidy("backward", () => {
    const acc = new Map<number, tf.Tensor>();
    acc.set(y.id, dy ?? tf.ones(y.shape));
    const xIds = new Set(xs.map((x) => x.id));
    const inUse = (t: tf.Tensor) => t === dy || [...acc.values()].includes(t);
    for (let i = filtered.length - 1; i >= 0; i--) {
      const node = filtered[i];
      const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
      if (node.gradient == null) {
        throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      }
      const names = Object.keys(node.inputs);
      const dxs = this.tidy(() => {
        const inputGradients = node.gradient!(dys);
        return names.map((name) => {
          if (!(name in inputGradients)) {
            throw new Error(
              `Cannot backprop through input ${name}. Available gradients found: ${
                Object.keys(inputGradients)
              }.`,
            );
          }
          return this.tidy(() => inputGradients[name]());
        });
      });
      names.forEach((name, k) => {
        const dx = dxs[k];
        const x = node.inputs[name];
        if (dx.dtype !== "float32") {
          throw new Error(
            `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' ` +
              `dtype, but has '${dx.dtype}'`,
          );
        }
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(
            `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape ` +
              `'${dx.shape}', which does not match the shape of the input '${x.shape}'`,
          );
        }
        const current = acc.get(x.id);
        if (current == null) {
          acc.set(x.id, dx);
        } else {
          acc.set(x.id, tf.add(current, dx));
          if (!inUse(current)) current.dispose();
          if (!inUse(dx)) dx.dispose();
        }
      });
      // This node was the last reader of its outputs' gradients and of its saved tensors.
      for (const o of node.outputs) {
        const g = acc.get(o.id);
        if (g == null || xIds.has(o.id)) continue;
        acc.delete(o.id);
        if (!inUse(g)) g.dispose();
      }
      for (const t of node.saved ?? []) t.dispose();
    }
    const grads = xs.map((x) => acc.get(x.id)!);
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    this.state.activeTape = null;
    return { value: y, grads };
  });
}

/**
 * Make every gradient computation of the tfjs engine free saved tensors and intermediate gradients as soon as
 * the backward pass is done with them (see the module doc). Affects all backends; idempotent.
 */
export function installLeanBackprop(): void {
  if (original) return;
  const engine = tf.engine() as unknown as EngineInternals;
  original = engine.gradients;
  engine.gradients = leanGradients;
}

/** Restore tfjs' own backward pass (for tests and comparisons). */
export function uninstallLeanBackprop(): void {
  if (!original) return;
  (tf.engine() as unknown as EngineInternals).gradients = original;
  original = undefined;
}

/** Whether {@link installLeanBackprop} is in effect. */
export function leanBackpropInstalled(): boolean {
  return original !== undefined;
}
