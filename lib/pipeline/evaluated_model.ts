/**
 * The best model of a category together with the density `eval` fitted on it, checked to belong together —
 * what every step after evaluation (localisation views, the notebook's maps) starts from.
 * @module
 */
import { type FittedModel, fittedModelPath, loadFittedModel } from "../eval/fitted_model.ts";
import { runPaths } from "../train/config.ts";
import { checkDensityMatchesModel, loadTrainedModel, type TrainedModel } from "../train/model_file.ts";
import { disposeParams } from "../model/params.ts";

/** A category's evaluated model: the trained network and its fitted density. */
export interface EvaluatedModel {
  /** The trained model (its parameters are freed with `disposeParams(model.net.params)`). */
  model: TrainedModel;
  /** The density `eval` fitted on it, with thresholds and stored maps. */
  fitted: FittedModel;
  /** Where the density was read from (for messages). */
  densityPath: string;
}

/**
 * Load the best model of `category` in `modelDir` and its fitted density; a missing file, or a density
 * fitted on another version of the model, is a `UserError` saying what to run. The caller frees the model.
 */
export async function loadEvaluatedModel(modelDir: string, category: string): Promise<EvaluatedModel> {
  const densityPath = fittedModelPath(modelDir, category);
  const fitted = await loadFittedModel(densityPath);
  const model = await loadTrainedModel(runPaths({ category, modelDir, logDir: "" }).best, {
    fallback: { category, size: fitted.imageSize },
  });
  try {
    checkDensityMatchesModel(densityPath, fitted.model, model);
  } catch (err) {
    disposeParams(model.net.params);
    throw err;
  }
  return { model, fitted, densityPath };
}
