/**
 * The gradient of a 2-D max-pool (NHWC) as a generated WebAssembly kernel, SIMD over 4 channels: each dy goes
 * to the first element of its window (in row-major scan order) equal to the pooled output — the rule of the
 * `cpu` backend, which matters for ties such as the zeros after a ReLU.
 *
 * `maxpool_grad(x, y, g, out, cs, h, w, oh, ow, fh, fw, sh, sw, top, left, n0, n1)` adds, for images
 * n0 … n1−1, every dy (g) to `out` (zeroed by the caller) at the first window element of x equal to y; `cs` is
 * 4·channels (a multiple of 16), the rest the pool's geometry. Branch-free over the channels: a lane mask of
 * the windows' maxima already found keeps later ties from receiving dy.
 * @module
 */
import { Code, type KernelFunction, op } from "./wasm_asm.ts";

const { get, set, i32, load, store, brIf } = op;

/** The kernel (exported by the module of `wasm_gemm.ts`). */
export function maxPoolGradKernel(): KernelFunction {
  const [X, Y, G, OUT, CS, H, W, OH, OW, FH, FW, SH, SW, TOP, LEFT, N0, N1] = Array.from(
    { length: 17 },
    (_, i) => i,
  );
  const [B, R, Q, K, I, J, I0, I1, J0, J1, YP, XP, E] = Array.from({ length: 13 }, (_, i) => 17 + i);
  const [FOUND, YV, GV, HIT] = [30, 31, 32, 33];
  const code = new Code();
  /** into = max(0, from) and until = min(size, from + extent). */
  const clamp = (from: number, extent: number, size: number, into: number, until: number) => {
    code.emit(get(from), get(extent), op.add, set(E));
    code.emit(get(E), get(size), get(E), get(size), op.ltS, op.select, set(until));
    code.emit(get(from), i32(0), get(from), i32(0), op.gtS, op.select, set(into));
  };
  code.emit(get(N0), set(B), op.loop);
  code.emit(i32(0), set(R), op.loop);
  code.emit(get(R), get(SH), op.mul, get(TOP), op.sub, set(I0)); // the window's first row, clamped below
  clamp(I0, FH, H, I0, I1);
  code.emit(i32(0), set(Q), op.loop);
  code.emit(get(Q), get(SW), op.mul, get(LEFT), op.sub, set(J0));
  clamp(J0, FW, W, J0, J1);
  // yp = ((b·oh + r)·ow + q)·cs
  code.emit(
    get(B),
    get(OH),
    op.mul,
    get(R),
    op.add,
    get(OW),
    op.mul,
    get(Q),
    op.add,
    get(CS),
    op.mul,
    set(YP),
  );
  code.emit(get(I0), get(I1), op.ltS, get(J0), get(J1), op.ltS, op.mul, op.if);
  code.emit(i32(0), set(K), op.loop);
  code.emit(get(Y), get(YP), op.add, get(K), op.add, load(0), set(YV));
  code.emit(get(G), get(YP), op.add, get(K), op.add, load(0), set(GV));
  code.emit(op.zero, set(FOUND));
  code.emit(get(I0), set(I), op.loop);
  code.emit(get(J0), set(J), op.loop);
  // xp = ((b·h + i)·w + j)·cs + k
  code.emit(get(B), get(H), op.mul, get(I), op.add, get(W), op.mul, get(J), op.add, get(CS), op.mul);
  code.emit(get(K), op.add, set(XP));
  code.emit(get(X), get(XP), op.add, load(0), get(YV), op.feq, get(FOUND), op.andnot, set(HIT));
  code.emit(get(FOUND), get(HIT), op.or, set(FOUND));
  code.emit(get(OUT), get(XP), op.add);
  code.emit(get(OUT), get(XP), op.add, load(0), get(HIT), get(GV), op.and, op.fadd, store(0));
  code.emit(get(J), i32(1), op.add, set(J), get(J), get(J1), op.ltS, brIf(0), op.end);
  code.emit(get(I), i32(1), op.add, set(I), get(I), get(I1), op.ltS, brIf(0), op.end);
  code.emit(get(K), i32(16), op.add, set(K), get(K), get(CS), op.ltU, brIf(0), op.end);
  code.emit(op.end); // if the window is not empty
  code.emit(get(Q), i32(1), op.add, set(Q), get(Q), get(OW), op.ltS, brIf(0), op.end);
  code.emit(get(R), i32(1), op.add, set(R), get(R), get(OH), op.ltS, brIf(0), op.end);
  code.emit(get(B), i32(1), op.add, set(B), get(B), get(N1), op.ltS, brIf(0), op.end);
  return { name: "maxpool_grad", params: 17, locals: [[13, 0x7f], [4, 0x7b]], code: code.bytes };
}
