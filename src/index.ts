/** effconv: learned convolution kernel sizes on hand-written WGSL kernels through WebGPU. */
export { Engine, type EngineOptions, type MemoryInfo } from './gpu/engine.js';
export { acquireDevice, describeAdapter, NoAdapterError, type AdapterDescription } from './gpu/device.js';
export { ShapeError, GpuValidationError } from './gpu/errors.js';
export { ShaderCompileError, allKernels, defineKernel, type KernelDef } from './gpu/kernel.js';
export { browserShaderSource, type ShaderSource } from './gpu/shader-source.js';
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
