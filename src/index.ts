/**
 * effconv: learned convolution kernel sizes on hand-written WGSL kernels through WebGPU. The Node
 * entry: everything of the browser-safe one (browser.ts) and what needs Node's file system —
 * datasets from files, checkpoints, run folders, whole runs and resumable stages, tuning files.
 */
export * from './browser.js';
export { loadMnistJson } from './data/mnist_json.js';
export { parseIdx, loadIdxImages, DatasetError, FASHION_MNIST_DIR } from './data/idx.js';
export { checkTuningFile, saveConvTuning, TuningFilePathError, useConvTuningFile } from './effconv/conv_tuning_file.js';
export { DATASETS, datasetInfo, type DatasetInfo } from './data/datasets.js';
export { CheckpointError, readSafetensors, restoreInto, snapshot, writeSafetensors, type NamedArray } from './effconv/checkpoint.js';
export { RunFolder, writeAtomic } from './effconv/run_folder.js';
export { prepareData, runEffConv, type ModelResult, type RunConfig, type RunResults, type SearchResult } from './effconv/run.js';
export { NonFiniteLossError, runStage, type StageOptions, type Stepper } from './effconv/stage.js';
