/**
 * Learning-rate schedules, stepped by the training step index ("epoch" in the reference codes):
 * - `paddle-cosine` (default): Paddle's `CosineAnnealingDecay(T_max = 10)` stepped every step; past T_max the
 *   closed form keeps going, so the rate oscillates with period 20 between `lr` and 0.
 * - `warm-restarts`: PyTorch's `CosineAnnealingWarmRestarts(T_0 = epochs)` as the PyTorch CutPaste code uses it,
 *   i.e. one cosine decay from `lr` to 0 over the whole run.
 * - `constant`: no schedule.
 * @module
 */

/** Schedule names accepted by `--schedule`. */
export const SCHEDULES = ["paddle-cosine", "warm-restarts", "constant"] as const;
/** A schedule name. */
export type ScheduleName = typeof SCHEDULES[number];

/** Paddle's CosineAnnealingDecay period parameter used by the reference. */
export const PADDLE_T_MAX = 10;

/** The learning rate at `step` (0-based) for a base rate, schedule and run length. */
export function learningRateAt(schedule: ScheduleName, baseLr: number, step: number, epochs: number): number {
  switch (schedule) {
    case "paddle-cosine":
      return (baseLr * (1 + Math.cos((Math.PI * step) / PADDLE_T_MAX))) / 2;
    case "warm-restarts": {
      const t0 = Math.max(1, epochs);
      return (baseLr * (1 + Math.cos((Math.PI * (step % t0)) / t0))) / 2;
    }
    case "constant":
      return baseLr;
  }
}
