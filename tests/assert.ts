/**
 * The assertion functions our tests use, with the `@std/assert` names, over Node's built-in `assert` (the JSR
 * registry is not reachable from every machine we run on).
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Thrown when an assertion fails. */
export const AssertionError = nodeAssert.AssertionError;

/** Assert that a value is truthy. */
export function assert(expr: unknown, msg?: string): asserts expr {
  nodeAssert.ok(expr, msg as string);
}

/** Assert that a value is falsy. */
export function assertFalse(expr: unknown, msg?: string): void {
  nodeAssert.ok(!expr, msg as string);
}

/** Assert deep equality. */
export function assertEquals<T>(actual: unknown, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg as string);
}

/** Assert deep inequality. */
export function assertNotEquals(actual: unknown, expected: unknown, msg?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, msg as string);
}

/** Assert identity (`Object.is`). */
export function assertStrictEquals<T>(actual: unknown, expected: T, msg?: string): void {
  nodeAssert.strictEqual(actual, expected, msg as string);
}

/** Assert `|actual − expected| ≤ tolerance` (default 1e-7). */
export function assertAlmostEquals(actual: number, expected: number, tolerance = 1e-7, msg?: string): void {
  if (Object.is(actual, expected)) return;
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new AssertionError({
      message: msg ?? `expected ${actual} to be within ${tolerance} of ${expected}`,
      actual,
      expected,
    });
  }
}

/** Assert a value is neither null nor undefined. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  nodeAssert.ok(actual !== null && actual !== undefined, msg ?? "expected a value, got null/undefined");
}

/** Assert `a > b`. */
export function assertGreater<T>(a: T, b: T, msg?: string): void {
  nodeAssert.ok(a > b, msg ?? `expected ${a} > ${b}`);
}

/** Assert `a >= b`. */
export function assertGreaterOrEqual<T>(a: T, b: T, msg?: string): void {
  nodeAssert.ok(a >= b, msg ?? `expected ${a} >= ${b}`);
}

/** Assert `a < b`. */
export function assertLess<T>(a: T, b: T, msg?: string): void {
  nodeAssert.ok(a < b, msg ?? `expected ${a} < ${b}`);
}

/** Assert `a <= b`. */
export function assertLessOrEqual<T>(a: T, b: T, msg?: string): void {
  nodeAssert.ok(a <= b, msg ?? `expected ${a} <= ${b}`);
}

/** Assert a string contains a substring. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  nodeAssert.ok(actual.includes(expected), msg ?? `expected "${actual}" to include "${expected}"`);
}

/** Assert a string matches a pattern. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  nodeAssert.match(actual, expected, msg as string);
}

/** Assert an array includes all the given values. */
export function assertArrayIncludes<T>(actual: ArrayLike<T>, expected: ArrayLike<T>, msg?: string): void {
  const arr = Array.from(actual);
  for (const v of Array.from(expected)) {
    nodeAssert.ok(arr.some((a) => isDeepEqual(a, v)), msg ?? `expected array to include ${String(v)}`);
  }
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    nodeAssert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

/** Assert a value is an instance of a class. */
export function assertInstanceOf<T>(
  actual: unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => T,
  msg?: string,
): asserts actual is T {
  nodeAssert.ok(actual instanceof type, msg ?? `expected an instance of ${type.name}`);
}

/** Fail unconditionally. */
export function fail(msg?: string): never {
  throw new AssertionError({ message: msg ?? "failed" });
}

type ErrorClass = new (...args: never[]) => Error;

function checkError(err: unknown, errorClass?: ErrorClass, includes?: string): Error {
  if (errorClass && !(err instanceof errorClass)) {
    throw new AssertionError({ message: `expected ${errorClass.name}, got ${String(err)}` });
  }
  const e = err as Error;
  if (includes !== undefined && !String(e?.message).includes(includes)) {
    throw new AssertionError({
      message: `expected error message to include "${includes}", got "${e?.message}"`,
    });
  }
  return e;
}

/** Assert that `fn` throws (optionally of a class, with a message containing `includes`); returns the error. */
export function assertThrows(fn: () => unknown, errorClass?: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (err) {
    return checkError(err, errorClass, includes);
  }
  throw new AssertionError({ message: "expected the function to throw" });
}

/** Assert that `fn` rejects (optionally of a class, with a message containing `includes`); returns the error. */
export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  errorClass?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, errorClass, includes);
  }
  throw new AssertionError({ message: "expected the promise to reject" });
}
