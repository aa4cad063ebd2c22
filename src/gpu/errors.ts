/** Errors thrown by ops on bad input: they name the op and the shapes involved. */
export class ShapeError extends Error {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'ShapeError';
  }
}

export class GpuValidationError extends Error {
  constructor(message: string) {
    super(`WebGPU validation error: ${message}`);
    this.name = 'GpuValidationError';
  }
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
