/**
 * Training augmentations: torchvision-style colour jitter, the CutPaste variants (normal, scar, 3-way,
 * union) and random square crops for patch-level training.
 * @module
 */

export * from "./color_jitter.ts";
export * from "./cutpaste.ts";
export * from "./patch_crop.ts";
