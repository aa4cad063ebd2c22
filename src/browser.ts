/**
 * effconv's browser-safe entry: the engine, tensors, ops, optimisers, kernel tuning, and the
 * EffConv method (size and kernel predictors, search, final training, budget, backbone specs).
 * Nothing here imports a Node module statically (test/package_entries.test.ts), so a bundler
 * building for a browser (package.json's "browser" condition) takes it as it is; the Node entry
 * (index.ts) adds datasets from files, checkpoints, run folders and tuning files.
 */
export { Engine, type EngineOptions, type MemoryInfo } from './gpu/engine.js';
export { CONV_AUTO_RULES, type ConvAutoRules } from './gpu/conv_variant.js';
export { Capture } from './gpu/capture.js';
export { acquireDevice, describeAdapter, NoAdapterError, type AdapterDescription } from './gpu/device.js';
export { ShapeError, GpuValidationError } from './gpu/errors.js';
export { ShaderCompileError, allKernels, defineKernel, type KernelDef } from './gpu/kernel.js';
export { browserShaderSource, shaderFolderUrl, type ShaderSource } from './gpu/shader-source.js';
export { Tensor, sizeOf, type DType } from './tensor.js';
export { backward, noGrad, isGradEnabled } from './autograd/tape.js';
export * from './ops/elementwise.js';
export { sum, mean } from './ops/reduce.js';
export { matmul, linear, type MatmulOptions } from './ops/matmul.js';
export { reshape, flatten } from './ops/shape.js';
export { softmaxCrossEntropy, crossEntropy, labelTensor } from './ops/softmax_xent.js';
export { Optimizer } from './optim/optimizer.js';
export { SGD, type SgdOptions } from './optim/sgd.js';
export { Adam, type AdamOptions } from './optim/adam.js';
export { Rng } from './random.js';
export { parameter, uniformInit, linearParams, type LinearParams } from './nn.js';
export const version = '0.1.0';
export { AUTO_FAMILY, conv2d, conv2dKernels, hardSize, tiledTile, TILED_TILES, type Conv2dOptions, type ConvVariant, type TiledTile } from './ops/conv2d.js';
export { GPU_TILE_RULE, WINOGRAD_AVX512_RULE, WINOGRAD_GPU_RULE, WINOGRAD_RULE, type WinogradPass, type WinogradRule } from './ops/conv2d_auto_rules.js';
export { subgroupWeightKernel, type SubgroupWeightKernel, type WeightGradient } from './ops/conv2d_subgroup_rules.js';
export { tuneConvs, describeTuning, TUNED_FAMILIES, type ConvTiming, type TuneOptions } from './ops/conv_tuning.js';
export { onConvsTuned, describeChoice, type ConvFamily, type ConvChoice, type ConvPass } from './ops/conv_choices.js';
export {
  exportConvTuning,
  importConvTuning,
  mergeConvTuning,
  parseConvTuning,
  deviceIdentity,
  convKernelsFingerprint,
  ConvTuningFileError,
  CONV_TUNING_FORMAT,
  type ConvTuningRecord,
  type ConvTuningRecords,
} from './ops/conv_tuning_record.js';
export { gaussianMask } from './ops/gaussian_mask.js';
export { maxPool2x2, avgPool2x2, globalAvgPool } from './ops/pool.js';
export { accuracy, type LabelledImages } from './evaluate.js';
export { concat, stack, slice, unstack } from './ops/concat.js';
export { gruCell, gruGates, gruRecurrence, gruLayer, biGruLayer, gruSequence, biGru, gruCellParams, gruCellParamList, GRU_RECURRENCE_MAX_HIDDEN, type GruCellParams } from './ops/gru.js';
export { batchNorm2d, batchNormState, type BatchNormState } from './ops/batch_norm.js';
export { sizeOneHot } from './ops/size_encoding.js';
export { budgetLossOp } from './ops/budget_loss.js';
export { fmaPeak, fmaPeakFlops } from './ops/fma_peak.js';
export { LoadCost, LOAD_SOURCES, LOAD_SOURCE_ELEMENTS, STORAGE_ELEMENTS, type LoadSource } from './ops/load_cost.js';
export type { ImageSet } from './data/mnist_json.js';
// the EffConv method
export { Search, type SearchOptions, type SearchRow } from './effconv/search.js';
export { FinalTraining, type TrainOptions } from './effconv/final_training.js';
export { SizePredictor, type SizePredictorOptions } from './effconv/size_predictor.js';
export { KernelPredictor, type KernelPredictorOptions } from './effconv/kernel_predictor.js';
export { Classifier, PlainConvs, type ConvFn } from './effconv/classifier.js';
export { BudgetError, budgetLoss, feasibleRange, resolveBudget, roundSizesJointly, uniformSoftSize, type BudgetLossKind, type RoundedSizes, type SizeRange } from './effconv/budget.js';
export { DEFAULT_BUDGET_FRACTION, PRESETS, SpecError, parameterCount, resolveSpec, validateSpec, widthMatched, type BackboneSpec, type ConvLayerSpec } from './effconv/spec.js';
