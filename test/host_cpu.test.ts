/** src/host_cpu.ts names the host CPU (for the bench's header and `effconv info`) from /proc/cpuinfo. */
import { describe, expect, it } from 'vitest';
import { describeHostCpu, parseCpuinfo } from '../src/host_cpu.js';

const processor = (n: number, flags: string) => `processor\t: ${n}
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: ${n === 0 ? 1 : 99}
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx2 ${flags} fma
`;

describe('parseCpuinfo', () => {
  it('reads the first processor: name, vendor, family, model and whether it has AVX-512', () => {
    const c = parseCpuinfo(`${processor(0, 'avx512f avx512bw')}\n${processor(1, '')}`, 2);
    expect(c).toEqual({ name: 'AMD EPYC', vendor: 'AuthenticAMD', family: 25, model: 1, threads: 2, avx512: true });
    expect(describeHostCpu(c)).toBe('AMD EPYC (AuthenticAMD family 25 model 1), 2 threads, AVX-512: yes');
  });

  it('tells AVX-512 foundation from its look-alikes and "model name" from "model"', () => {
    const c = parseCpuinfo(processor(0, 'avx512_vnni_like avx2'), 1);
    expect(c.avx512).toBe(false);
    expect(c.model).toBe(1);
    expect(describeHostCpu(c)).toBe('AMD EPYC (AuthenticAMD family 25 model 1), 1 thread, AVX-512: no');
  });

  it('leaves what the text lacks unknown instead of guessing', () => {
    const c = parseCpuinfo('processor\t: 0\nmodel\t\t: x\n', 4);
    expect(c).toEqual({ name: 'unknown CPU', vendor: null, family: null, model: null, threads: 4, avx512: null });
    expect(describeHostCpu(c)).toBe('unknown CPU, 4 threads, AVX-512: unknown');
  });
});
