/**
 * The image score of an anomaly map: its maximum (the convention of the CutPaste paper and anomalib).
 * @module
 */
import { UserError } from "../util/errors.ts";

/** The maximum of a map; a {@link UserError} when it is empty or holds NaN (`name` labels the message). */
export function mapScore(map: ArrayLike<number>, name = "anomaly map"): number {
  if (map.length === 0) throw new UserError(`${name} is empty`);
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (v !== v) throw new UserError(`${name} contains NaN (pixel ${i})`);
    if (v > max) max = v;
  }
  return max;
}
