/**
 * The input and output transforms of Winograd's F(2×2, 3×3) convolution (Lavin & Gray, 2016) as generated
 * WebAssembly kernels, SIMD over 4 channels at a time. They work on the NHWC grids of `conv_grid.ts`: a tile
 * is the 2×2 block of output pixels at grid row 2·ty, column 2·tx (tiles numbered row by row, `tpr` per grid
 * row), which reads the 4×4 block of input pixels from the same corner.
 *
 * - `wino_in(x, cs, rs, tpr, t0, cnt, v, plane)`: for tiles t0 … t0+cnt−1 of the input grid at x (`cs` bytes
 *   per pixel, `rs` per grid row), V = Bᵀ·d·B, element e = 4i + j of tile t stored at v + e·plane + t·cs.
 * - `wino_out(m, cs, rs, tpr, t0, cnt, y, plane)`: from M (the 16 products, element e of tile t at
 *   m + e·plane + t·cs), the 2×2 outputs Aᵀ·M·A written to the output grid at y (`cs`, `rs` as above).
 *
 * Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], Aᵀ = [1 1 1 0; 0 1 −1 −1]: additions only.
 * @module
 */
import { Code, type KernelFunction, op } from "./wasm_asm.ts";

const { get, set, i32, load, store, brIf } = op;

/** Emit `base = root + (tt / tpr)·m·rs + (tt mod tpr)·m·cs` with tt = t0 + t and m = 2^shift outputs a side. */
function tileBase(
  code: Code,
  p: { root: number; cs: number; rs: number; tpr: number; t0: number },
  l: { t: number; tt: number; base: number },
  shift = 1,
): void {
  code.emit(get(p.t0), get(l.t), op.add, set(l.tt));
  code.emit(get(p.root), get(l.tt), get(p.tpr), op.divU, i32(shift), op.shl, get(p.rs), op.mul, op.add);
  code.emit(get(l.tt), get(p.tpr), op.remU, i32(shift), op.shl, get(p.cs), op.mul, op.add, set(l.base));
}

/** Close the loops over channel groups (C, step 16 bytes up to CS) and tiles (T, up to CNT). */
function closeTileLoops(code: Code, c: number, cs: number, t: number, cnt: number): void {
  code.emit(get(c), i32(16), op.add, set(c), get(c), get(cs), op.ltU, brIf(0), op.end);
  code.emit(get(t), i32(1), op.add, set(t), get(t), get(cnt), op.ltU, brIf(0), op.end);
}

/** A sink for {@link transform2d} that stores element e at `q` and moves `q` on by `plane` (count elements). */
function planeStore(code: Code, q: number, plane: number, count: number) {
  return (e: number, value: () => void) => {
    code.emit(get(q));
    value();
    code.emit(store(0));
    if (e < count - 1) code.emit(get(q), get(plane), op.add, set(q));
  };
}

/** d ⟼ Bᵀ·d·B on four rows of four values: the 1-D transform of (a, b, c, d). */
const B_T: [number, number, "fadd" | "fsub"][] = [[0, 2, "fsub"], [1, 2, "fadd"], [2, 1, "fsub"], [
  1,
  3,
  "fsub",
]];

function inputTransform(): KernelFunction {
  const [X, CS, RS, TPR, T0, CNT, V, PLANE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [T, BASE, C, Q, TT] = [8, 9, 10, 11, 12];
  const P = (i: number) => 13 + i; // row pointers
  const D = (e: number) => 17 + e; // input block
  const W = (e: number) => 33 + e; // after the row transform
  const code = new Code();
  code.emit(i32(0), set(T), op.loop);
  tileBase(code, { root: X, cs: CS, rs: RS, tpr: TPR, t0: T0 }, { t: T, tt: TT, base: BASE });
  code.emit(i32(0), set(C), op.loop);
  code.emit(get(BASE), get(C), op.add, set(P(0)));
  for (let i = 1; i < 4; i++) code.emit(get(P(i - 1)), get(RS), op.add, set(P(i)));
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      code.emit(get(P(i)));
      if (j > 0) code.emit(get(CS), i32(j), op.mul, op.add);
      code.emit(load(0), set(D(4 * i + j)));
    }
  }
  // Rows: w[r][j] = (Bᵀ d)[r][j].
  B_T.forEach(([a, b, f], r) => {
    for (let j = 0; j < 4; j++) code.emit(get(D(4 * a + j)), get(D(4 * b + j)), op[f], set(W(4 * r + j)));
  });
  // Columns: v[r][s] = (w B)[r][s], stored plane by plane.
  code.emit(get(V), get(T), get(CS), op.mul, op.add, get(C), op.add, set(Q));
  for (let r = 0; r < 4; r++) {
    B_T.forEach(([a, b, f], s) => {
      code.emit(get(Q), get(W(4 * r + a)), get(W(4 * r + b)), op[f], store(0));
      if (r < 3 || s < 3) code.emit(get(Q), get(PLANE), op.add, set(Q));
    });
  }
  closeTileLoops(code, C, CS, T, CNT);
  return { name: "wino_in", params: 8, locals: [[9, 0x7f], [32, 0x7b]], code: code.bytes };
}

function outputTransform(): KernelFunction {
  const [M, CS, RS, TPR, T0, CNT, Y, PLANE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [T, BASE, C, Q, TT, R] = [8, 9, 10, 11, 12, 13];
  const E = (e: number) => 14 + e; // the 16 products of a tile
  const U = (e: number) => 30 + e; // after the row transform (2 × 4)
  const code = new Code();
  code.emit(i32(0), set(T), op.loop);
  tileBase(code, { root: Y, cs: CS, rs: RS, tpr: TPR, t0: T0 }, { t: T, tt: TT, base: BASE });
  code.emit(i32(0), set(C), op.loop);
  code.emit(get(M), get(T), get(CS), op.mul, op.add, get(C), op.add, set(Q));
  for (let e = 0; e < 16; e++) {
    code.emit(get(Q), load(0), set(E(e)));
    if (e < 15) code.emit(get(Q), get(PLANE), op.add, set(Q));
  }
  // u[0][j] = m0j + m1j + m2j, u[1][j] = m1j − m2j − m3j.
  for (let j = 0; j < 4; j++) {
    code.emit(get(E(j)), get(E(4 + j)), op.fadd, get(E(8 + j)), op.fadd, set(U(j)));
    code.emit(get(E(4 + j)), get(E(8 + j)), op.fsub, get(E(12 + j)), op.fsub, set(U(4 + j)));
  }
  // y[a][0] = u[a][0] + u[a][1] + u[a][2], y[a][1] = u[a][1] − u[a][2] − u[a][3].
  for (let a = 0; a < 2; a++) {
    code.emit(get(BASE), get(C), op.add);
    if (a > 0) code.emit(get(RS), op.add);
    code.emit(set(R));
    code.emit(get(R), get(U(4 * a)), get(U(4 * a + 1)), op.fadd, get(U(4 * a + 2)), op.fadd, store(0));
    code.emit(get(R), get(CS), op.add);
    code.emit(get(U(4 * a + 1)), get(U(4 * a + 2)), op.fsub, get(U(4 * a + 3)), op.fsub, store(0));
  }
  closeTileLoops(code, C, CS, T, CNT);
  return { name: "wino_out", params: 8, locals: [[6, 0x7f], [24, 0x7b]], code: code.bytes };
}

/**
 * `wino_dy(dy, cs, rs, tpr, t0, cnt, w, plane)`: for the filter gradient, F(3×3, 2×2) with the dy of a tile
 * (its 2×2 block) in the role of the filter: W = Ĝ·g·Ĝᵀ with Ĝ = [1 0; 1 1; 1 −1; 0 1], element e of tile t
 * at w + e·plane + t·cs. The factors that make Ĝ Winograd's G (½ for rows/columns 1 and 2, −1 for row and
 * column 3, which also turns `wino_in`'s Bᵀ into the Bᵀ of F(3, 2)) are applied to the summed products
 * instead (see {@link winogradFilterGradient}).
 */
function gradientTransform(): KernelFunction {
  const [DY, CS, RS, TPR, T0, CNT, W, PLANE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [T, BASE, C, Q, TT] = [8, 9, 10, 11, 12];
  const G = (e: number) => 13 + e; // the 2×2 block
  const R = (e: number) => 17 + e; // after the row transform (4 × 2)
  const code = new Code();
  code.emit(i32(0), set(T), op.loop);
  tileBase(code, { root: DY, cs: CS, rs: RS, tpr: TPR, t0: T0 }, { t: T, tt: TT, base: BASE });
  code.emit(i32(0), set(C), op.loop);
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      code.emit(get(BASE), get(C), op.add);
      if (a > 0) code.emit(get(RS), op.add);
      if (b > 0) code.emit(get(CS), op.add);
      code.emit(load(0), set(G(2 * a + b)));
    }
  }
  // Rows: r0 = g0, r1 = g0 + g1, r2 = g0 − g1, r3 = g1 (per column b).
  for (let b = 0; b < 2; b++) {
    code.emit(get(G(b)), set(R(b)));
    code.emit(get(G(b)), get(G(2 + b)), op.fadd, set(R(2 + b)));
    code.emit(get(G(b)), get(G(2 + b)), op.fsub, set(R(4 + b)));
    code.emit(get(G(2 + b)), set(R(6 + b)));
  }
  code.emit(get(W), get(T), get(CS), op.mul, op.add, get(C), op.add, set(Q));
  for (let r = 0; r < 4; r++) {
    const [p, q] = [R(2 * r), R(2 * r + 1)];
    const values = [[...get(p)], [...get(p), ...get(q), ...op.fadd], [...get(p), ...get(q), ...op.fsub], [
      ...get(q),
    ]];
    values.forEach((value, s) => {
      code.emit(get(Q), value, store(0));
      if (r < 3 || s < 3) code.emit(get(Q), get(PLANE), op.add, set(Q));
    });
  }
  closeTileLoops(code, C, CS, T, CNT);
  return { name: "wino_dy", params: 8, locals: [[5, 0x7f], [12, 0x7b]], code: code.bytes };
}

/**
 * `wino_filter(g, u, bytes)`: U = G·g·Gᵀ for a 3×3 filter [3, 3, ci, co] (HWIO, as tfjs stores it) of `bytes`
 * = 4·ci·co bytes per tap: 16 planes [ci, co], element e = 4i + j of U at u + e·bytes + (offset in the plane).
 * G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]. Every 4 consecutive floats of a plane are one SIMD lane group.
 */
function filterTransform(): KernelFunction {
  const [GP, UP, BYTES] = [0, 1, 2];
  const [I, A] = [3, 4];
  const T = (k: number) => 5 + k; // the 9 taps
  const R = (e: number) => 14 + e; // G·g, 4 × 3
  const HALF = 26;
  const code = new Code();
  code.emit(op.f32(0.5), op.fsplat, set(HALF));
  code.emit(i32(0), set(I), op.loop);
  for (let k = 0; k < 9; k++) {
    code.emit(get(GP), get(I), op.add);
    if (k > 0) code.emit(get(BYTES), i32(k), op.mul, op.add);
    code.emit(load(0), set(T(k)));
  }
  // The 1-D transform of (a, b, c): a, ½(a + b + c), ½(a − b + c), c.
  const combine = (a: number, b: number, c: number, into: (v: number[]) => void) => {
    into([...get(a)]);
    into([...get(a), ...get(b), ...op.fadd, ...get(c), ...op.fadd, ...get(HALF), ...op.fmul]);
    into([...get(a), ...get(b), ...op.fsub, ...get(c), ...op.fadd, ...get(HALF), ...op.fmul]);
    into([...get(c)]);
  };
  // Rows of G·g, per column j (tap (i, j) is T(3i + j)).
  for (let j = 0; j < 3; j++) {
    let i = 0;
    combine(T(j), T(3 + j), T(6 + j), (v) => code.emit(v, set(R(3 * i++ + j))));
  }
  // Columns, stored plane by plane.
  for (let i = 0; i < 4; i++) {
    let j = 0;
    combine(R(3 * i), R(3 * i + 1), R(3 * i + 2), (v) => {
      const e = 4 * i + j++;
      code.emit(get(UP), get(I), op.add);
      if (e > 0) code.emit(get(BYTES), i32(e), op.mul, op.add);
      code.emit(set(A), get(A), v, store(0));
    });
  }
  code.emit(get(I), i32(16), op.add, set(I), get(I), get(BYTES), op.ltU, brIf(0), op.end);
  return { name: "wino_filter", params: 3, locals: [[2, 0x7f], [22, 0x7b]], code: code.bytes };
}

// ---------------------------------------------------------------------------------------------------------
// F(4×4, 3×3), generated from its matrices

/** Winograd's F(4, 3) with interpolation points 0, ±1, ±2, ∞ (Lavin & Gray). */
const F43 = {
  BT: [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [
    0,
    2,
    -1,
    -2,
    1,
    0,
  ], [
    0,
    4,
    0,
    -5,
    0,
    1,
  ]],
  G: [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [
    1 / 24,
    -1 / 12,
    1 / 6,
  ], [0, 0, 1]],
  AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};

/**
 * Emitters of linear combinations Σ coef·value with constant coefficients, for a kernel whose v128 locals
 * from `first` on hold the splatted constants (set up by `prologue`).
 */
class Combiner {
  private readonly constants = new Map<number, number>();

  constructor(matrices: number[][][], first: number) {
    for (const m of matrices) {
      for (const row of m) {
        for (const c of row) {
          const a = Math.abs(c);
          if (a !== 0 && a !== 1 && !this.constants.has(a)) {
            this.constants.set(a, first + this.constants.size);
          }
        }
      }
    }
  }

  get count(): number {
    return this.constants.size;
  }

  prologue(code: Code): void {
    for (const [c, local] of this.constants) code.emit(op.f32(c), op.fsplat, set(local));
  }

  /** Push Σ row[i]·get(locals[i]). */
  emit(code: Code, row: number[], locals: number[]): void {
    let first = true;
    row.forEach((c, i) => {
      if (c === 0) return;
      const a = Math.abs(c);
      const term = a === 1
        ? [...get(locals[i])]
        : [...get(locals[i]), ...get(this.constants.get(a)!), ...op.fmul];
      if (first) {
        code.emit(c < 0 ? [...op.zero, ...term, ...op.fsub] : term);
        first = false;
      } else code.emit(term, c < 0 ? op.fsub : op.fadd);
    });
    if (first) code.emit(op.zero);
  }
}

/**
 * out = M·D·Nᵀ for D (rows × cols locals, row-major) with M (r × rows) and N (s × cols): `into(e, emitValue)`
 * receives each element e = a·s + b of the r × s result in order.
 */
function transform2d(
  code: Code,
  combiner: Combiner,
  m: number[][],
  n: number[][],
  d: (i: number, j: number) => number,
  tmp: (a: number, j: number) => number,
  cols: number,
  into: (e: number, value: () => void) => void,
): void {
  const rows = m[0].length;
  for (let a = 0; a < m.length; a++) {
    for (let j = 0; j < cols; j++) {
      combiner.emit(code, m[a], Array.from({ length: rows }, (_, i) => d(i, j)));
      code.emit(set(tmp(a, j)));
    }
  }
  for (let a = 0; a < m.length; a++) {
    for (let b = 0; b < n.length; b++) {
      into(
        a * n.length + b,
        () => combiner.emit(code, n[b], Array.from({ length: cols }, (_, j) => tmp(a, j))),
      );
    }
  }
}

/**
 * `wino4_in(x, cs, rs, tpr, t0, cnt, v, plane)`: as `wino_in` for F(4×4, 3×3) — 6×6 input blocks at the
 * corners of 4×4 output tiles, V = Bᵀ·d·B, 36 elements per tile.
 */
function inputTransform43(): KernelFunction {
  const [X, CS, RS, TPR, T0, CNT, V, PLANE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [T, BASE, C, Q, TT] = [8, 9, 10, 11, 12];
  const P = (i: number) => 13 + i; // six row pointers
  const D = (e: number) => 19 + e; // 36 inputs
  const W = (e: number) => 55 + e; // 36 after the row transform
  const combiner = new Combiner([F43.BT], 91);
  const code = new Code();
  combiner.prologue(code);
  code.emit(i32(0), set(T), op.loop);
  tileBase(code, { root: X, cs: CS, rs: RS, tpr: TPR, t0: T0 }, { t: T, tt: TT, base: BASE }, 2);
  code.emit(i32(0), set(C), op.loop);
  code.emit(get(BASE), get(C), op.add, set(P(0)));
  for (let i = 1; i < 6; i++) code.emit(get(P(i - 1)), get(RS), op.add, set(P(i)));
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 6; j++) {
      code.emit(get(P(i)));
      if (j > 0) code.emit(get(CS), i32(j), op.mul, op.add);
      code.emit(load(0), set(D(6 * i + j)));
    }
  }
  code.emit(get(V), get(T), get(CS), op.mul, op.add, get(C), op.add, set(Q));
  transform2d(
    code,
    combiner,
    F43.BT,
    F43.BT,
    (i, j) => D(6 * i + j),
    (a, j) => W(6 * a + j),
    6,
    planeStore(code, Q, PLANE, 36),
  );
  closeTileLoops(code, C, CS, T, CNT);
  return { name: "wino4_in", params: 8, locals: [[11, 0x7f], [72 + combiner.count, 0x7b]], code: code.bytes };
}

/** `wino4_out(m, cs, rs, tpr, t0, cnt, y, plane)`: as `wino_out` for F(4×4, 3×3): Aᵀ·M·A, 4×4 outputs. */
function outputTransform43(): KernelFunction {
  const [M, CS, RS, TPR, T0, CNT, Y, PLANE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [T, BASE, C, Q, TT, R] = [8, 9, 10, 11, 12, 13];
  const E = (e: number) => 14 + e; // 36 products
  const U = (e: number) => 50 + e; // 4 × 6 after the row transform
  const combiner = new Combiner([F43.AT], 74);
  const code = new Code();
  combiner.prologue(code);
  code.emit(i32(0), set(T), op.loop);
  tileBase(code, { root: Y, cs: CS, rs: RS, tpr: TPR, t0: T0 }, { t: T, tt: TT, base: BASE }, 2);
  code.emit(i32(0), set(C), op.loop);
  code.emit(get(M), get(T), get(CS), op.mul, op.add, get(C), op.add, set(Q));
  for (let e = 0; e < 36; e++) {
    code.emit(get(Q), load(0), set(E(e)));
    if (e < 35) code.emit(get(Q), get(PLANE), op.add, set(Q));
  }
  transform2d(
    code,
    combiner,
    F43.AT,
    F43.AT,
    (i, j) => E(6 * i + j),
    (a, j) => U(6 * a + j),
    6,
    (e, value) => {
      const [a, b] = [Math.floor(e / 4), e % 4];
      code.emit(get(BASE), get(C), op.add);
      if (a > 0) code.emit(get(RS), i32(a), op.mul, op.add);
      if (b > 0) code.emit(get(CS), i32(b), op.mul, op.add);
      code.emit(set(R), get(R));
      value();
      code.emit(store(0));
    },
  );
  closeTileLoops(code, C, CS, T, CNT);
  return { name: "wino4_out", params: 8, locals: [[6, 0x7f], [60 + combiner.count, 0x7b]], code: code.bytes };
}

/** `wino4_filter(g, u, bytes)`: as `wino_filter` for F(4×4, 3×3): U = G·g·Gᵀ, 36 planes. */
function filterTransform43(): KernelFunction {
  const [GP, UP, BYTES] = [0, 1, 2];
  const [I, A] = [3, 4];
  const Tap = (k: number) => 5 + k; // 9 taps
  const R = (e: number) => 14 + e; // 6 × 3 after the row transform
  const combiner = new Combiner([F43.G], 32);
  const code = new Code();
  combiner.prologue(code);
  code.emit(i32(0), set(I), op.loop);
  for (let k = 0; k < 9; k++) {
    code.emit(get(GP), get(I), op.add);
    if (k > 0) code.emit(get(BYTES), i32(k), op.mul, op.add);
    code.emit(load(0), set(Tap(k)));
  }
  transform2d(
    code,
    combiner,
    F43.G,
    F43.G,
    (i, j) => Tap(3 * i + j),
    (a, j) => R(3 * a + j),
    3,
    (e, value) => {
      code.emit(get(UP), get(I), op.add);
      if (e > 0) code.emit(get(BYTES), i32(e), op.mul, op.add);
      code.emit(set(A), get(A));
      value();
      code.emit(store(0));
    },
  );
  code.emit(get(I), i32(16), op.add, set(I), get(I), get(BYTES), op.ltU, brIf(0), op.end);
  return {
    name: "wino4_filter",
    params: 3,
    locals: [[2, 0x7f], [27 + combiner.count, 0x7b]],
    code: code.bytes,
  };
}

// F(3×3, 4×4) for filter gradients: the transpose of F(4, 3) — the same Bᵀ, Ĝ = A(4,3), A'ᵀ = G(4,3)ᵀ.

const transpose = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));
const F34 = { G: transpose(F43.AT), AT: transpose(F43.G) };

/**
 * `wino4_dy(dy, cs, rs, tpr, t0, cnt, w, plane)`: for the filter gradient by F(3×3, 4×4), each tile's 4×4
 * block of dy in the role of the filter: W = Ĝ·g·Ĝᵀ with Ĝ = A(4, 3), 36 elements per tile (the x side is
 * `wino4_in`, whose Bᵀ is the same).
 */
function gradientTransform43(): KernelFunction {
  const [DY, CS, RS, TPR, T0, CNT, W, PLANE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [T, BASE, C, Q, TT] = [8, 9, 10, 11, 12];
  const D = (e: number) => 13 + e; // 4×4 block
  const R = (e: number) => 29 + e; // 6 × 4 after the row transform
  const combiner = new Combiner([F34.G], 53);
  const code = new Code();
  combiner.prologue(code);
  code.emit(i32(0), set(T), op.loop);
  tileBase(code, { root: DY, cs: CS, rs: RS, tpr: TPR, t0: T0 }, { t: T, tt: TT, base: BASE }, 2);
  code.emit(i32(0), set(C), op.loop);
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      code.emit(get(BASE), get(C), op.add);
      if (a > 0) code.emit(get(RS), i32(a), op.mul, op.add);
      if (b > 0) code.emit(get(CS), i32(b), op.mul, op.add);
      code.emit(load(0), set(D(4 * a + b)));
    }
  }
  code.emit(get(W), get(T), get(CS), op.mul, op.add, get(C), op.add, set(Q));
  transform2d(
    code,
    combiner,
    F34.G,
    F34.G,
    (i, j) => D(4 * i + j),
    (a, j) => R(4 * a + j),
    4,
    planeStore(code, Q, PLANE, 36),
  );
  closeTileLoops(code, C, CS, T, CNT);
  return { name: "wino4_dy", params: 8, locals: [[5, 0x7f], [40 + combiner.count, 0x7b]], code: code.bytes };
}

/**
 * `wino4_grad(parts, stride, count, plane, bytes, out)`: as `wino_grad` for F(3×3, 4×4): the 36 summed
 * products of each (ci, co) turned into dW = A'ᵀ·M·A' with A'ᵀ = G(4, 3)ᵀ.
 */
function gradientOutput43(): KernelFunction {
  const [PARTS, STRIDE, COUNT, PLANE, BYTES, OUT] = [0, 1, 2, 3, 4, 5];
  const [I, P, PP, A] = [6, 7, 8, 9];
  const M = (e: number) => 10 + e; // 36 sums
  const U = (e: number) => 46 + e; // 3 × 6 after the row transform
  const combiner = new Combiner([F34.AT], 64);
  const code = new Code();
  const address = (base: number[], e: number, stride: number) => {
    code.emit(base, get(I), op.add);
    if (e > 0) code.emit(get(stride), i32(e), op.mul, op.add);
  };
  combiner.prologue(code);
  code.emit(i32(0), set(I), op.loop);
  for (let e = 0; e < 36; e++) {
    address(get(PARTS), e, PLANE);
    code.emit(load(0), set(M(e)));
  }
  code.emit(i32(1), set(P), get(P), get(COUNT), op.ltU, op.if, op.loop);
  code.emit(get(PARTS), get(P), get(STRIDE), op.mul, op.add, set(PP));
  for (let e = 0; e < 36; e++) {
    code.emit(get(M(e)));
    address(get(PP), e, PLANE);
    code.emit(load(0), op.fadd, set(M(e)));
  }
  code.emit(get(P), i32(1), op.add, set(P), get(P), get(COUNT), op.ltU, brIf(0), op.end, op.end);
  transform2d(
    code,
    combiner,
    F34.AT,
    F34.AT,
    (i, j) => M(6 * i + j),
    (a, j) => U(6 * a + j),
    6,
    (e, value) => {
      address(get(OUT), e, BYTES);
      code.emit(set(A), get(A));
      value();
      code.emit(store(0));
    },
  );
  code.emit(get(I), i32(16), op.add, set(I), get(I), get(BYTES), op.ltU, brIf(0), op.end);
  return {
    name: "wino4_grad",
    params: 6,
    locals: [[4, 0x7f], [54 + combiner.count, 0x7b]],
    code: code.bytes,
  };
}

/** The Winograd transform kernels (exported by the GEMM module of `wasm_gemm.ts`). */
export function winogradKernels(): KernelFunction[] {
  return [
    inputTransform(),
    outputTransform(),
    gradientTransform(),
    filterTransform(),
    gradientOutput(),
    inputTransform43(),
    outputTransform43(),
    filterTransform43(),
    gradientTransform43(),
    gradientOutput43(),
  ];
}

/** Per-element factors of the filter-gradient products (see {@link gradientTransform}). */
const GRADIENT_SCALE = [1, 0.5, 0.5, -1];

/**
 * `wino_grad(parts, stride, count, plane, bytes, out)`: dW [3, 3, ci, co] from the summed F(3×3, 2×2)
 * products: `count` partial sums `stride` bytes apart from `parts`, each 16 planes `plane` bytes apart whose
 * first `bytes` = 4·ci·co bytes are the [ci, co] sums, are added; then dW[i][j] = (A'ᵀ·(s ⊙ M)·A')[i][j] with
 * A'ᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 1] and s the factors {@link gradientTransform} left out; dW planes are
 * `bytes` apart from `out`.
 */
function gradientOutput(): KernelFunction {
  const [PARTS, STRIDE, COUNT, PLANE, BYTES, OUT] = [0, 1, 2, 3, 4, 5];
  const [I, P, PP, A] = [6, 7, 8, 9];
  const M = (e: number) => 10 + e;
  const Q = (e: number) => 26 + e; // A'ᵀ·M: 3 × 4
  const code = new Code();
  const address = (base: number[], e: number, stride: number) => {
    code.emit(base, get(I), op.add);
    if (e > 0) code.emit(get(stride), i32(e), op.mul, op.add);
  };
  code.emit(i32(0), set(I), op.loop);
  for (let e = 0; e < 16; e++) {
    address(get(PARTS), e, PLANE);
    code.emit(load(0), set(M(e)));
  }
  // The other partial sums.
  code.emit(i32(1), set(P), get(P), get(COUNT), op.ltU, op.if, op.loop);
  code.emit(get(PARTS), get(P), get(STRIDE), op.mul, op.add, set(PP));
  for (let e = 0; e < 16; e++) {
    code.emit(get(M(e)));
    address(get(PP), e, PLANE);
    code.emit(load(0), op.fadd, set(M(e)));
  }
  code.emit(get(P), i32(1), op.add, set(P), get(P), get(COUNT), op.ltU, brIf(0), op.end, op.end);
  for (let e = 0; e < 16; e++) {
    const scale = GRADIENT_SCALE[e >> 2] * GRADIENT_SCALE[e & 3];
    if (scale !== 1) code.emit(get(M(e)), op.f32(scale), op.fsplat, op.fmul, set(M(e)));
  }
  // Rows: q0 = m0 + m1 + m2, q1 = m1 − m2, q2 = m1 + m2 + m3 (per column j).
  for (let j = 0; j < 4; j++) {
    code.emit(get(M(j)), get(M(4 + j)), op.fadd, get(M(8 + j)), op.fadd, set(Q(j)));
    code.emit(get(M(4 + j)), get(M(8 + j)), op.fsub, set(Q(4 + j)));
    code.emit(get(M(4 + j)), get(M(8 + j)), op.fadd, get(M(12 + j)), op.fadd, set(Q(8 + j)));
  }
  // Columns, into dW[i][j] (plane 3i + j).
  for (let i = 0; i < 3; i++) {
    const [a, b, c, d] = [Q(4 * i), Q(4 * i + 1), Q(4 * i + 2), Q(4 * i + 3)];
    const values = [
      [...get(a), ...get(b), ...op.fadd, ...get(c), ...op.fadd],
      [...get(b), ...get(c), ...op.fsub],
      [...get(b), ...get(c), ...op.fadd, ...get(d), ...op.fadd],
    ];
    values.forEach((value, j) => {
      address(get(OUT), 3 * i + j, BYTES);
      code.emit(set(A), get(A), value, store(0));
    });
  }
  code.emit(get(I), i32(16), op.add, set(I), get(I), get(BYTES), op.ltU, brIf(0), op.end);
  return { name: "wino_grad", params: 6, locals: [[4, 0x7f], [28, 0x7b]], code: code.bytes };
}
