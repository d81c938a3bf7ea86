/**
 * Training augmentations: torchvision-style colour jitter and the CutPaste variants (normal, scar, 3-way,
 * union).
 * @module
 */

export * from "./color_jitter.ts";
export * from "./cutpaste.ts";
