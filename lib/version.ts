/**
 * The library version, recorded in exported bundles.
 * @module
 */

/** Version of sspcab-deno (kept equal to `version` in deno.json by a test). */
export const LIBRARY_VERSION = "0.1.0";
