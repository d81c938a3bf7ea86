/**
 * Evaluation maths: dense linear algebra, Gaussian (Ledoit–Wolf) and KDE densities with anomaly scores and
 * their JSON form, ROC curve / AUROC / Youden threshold, and t-SNE with trustworthiness.
 * @module
 */

export * from "./linalg.ts";
export * from "./density.ts";
export * from "./roc.ts";
export * from "./tsne.ts";
