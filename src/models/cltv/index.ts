/**
 * Customer lifetime value models, as `import { cltv } from "strata"`: BG/NBD, Pareto/NBD and
 * Gamma-Gamma fit by maximum likelihood, their predictions, CLV, the RFM summary SQL, a simulator.
 * @module
 */
export { fitBgNbd, bgNbdPredictor, bgNbdLogLikelihood, type BgNbdParams, type BgNbdFit, type BgNbdPredictor } from "./bg-nbd.js";
export {
  fitParetoNbd,
  paretoNbdPredictor,
  paretoNbdLogLikelihood,
  type ParetoNbdParams,
  type ParetoNbdFit,
  type ParetoNbdPredictor,
} from "./pareto-nbd.js";
export { fitGammaGamma, expectedSpend, gammaGammaLogLikelihood, type GammaGammaParams, type GammaGammaFit } from "./gamma-gamma.js";
export { customerLifetimeValue, type ClvOptions, type PurchasePredictor } from "./clv.js";
export { summaryOf, type CustomerSummary } from "./summary.js";
export { summaryQuery, type SummaryQueryOptions } from "./summary-query.js";
export { simulateCustomers, seededRandom } from "./simulate.js";
export {
  fitCltvModel,
  predictCltv,
  readModelFile,
  readSummaryCsv,
  CLTV_MODELS,
  type CltvModelFile,
  type CltvModelKind,
} from "./model-file.js";
export { evaluateHoldout, holdoutChartSvg, type HoldoutBucket, type HoldoutEvaluation } from "./holdout.js";
