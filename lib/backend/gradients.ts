/**
 * Registers TensorFlow.js's gradient functions. `@tensorflow/tfjs-core` alone ships none (its per-kernel
 * gradient files are extension-less ES modules that Deno cannot load one by one); the `@tensorflow/tfjs`
 * bundle registers all of them into the registry every tfjs instance shares. Import this module for the side
 * effect before computing any gradient.
 * @module
 */
import "@tensorflow/tfjs";
