// fma_peak.wgsl — the device's fp32 FMA throughput, for the bench: every other figure is reported
// as a fraction of what this kernel reaches.
//
// Each invocation runs `iters` rounds of 8 independent vec4 multiply-add chains (a = a·b + c),
// enough independent work to hide FMA latency on CPUs and GPUs alike; FLOPs per invocation =
// iters · 8 chains · 4 lanes · 2. The sum is written out so the compiler cannot drop the work.
//   fma_peak   one invocation per output element

struct PeakParams {
  n: u32,
  iters: u32,
}

@group(0) @binding(0) var<uniform> p: PeakParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn fma_peak(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.n) { return; }
  let seed = f32(i % 7u) * 1e-3;
  let b = vec4f(0.9999, 0.9998, 0.9997, 0.9996);
  let c = vec4f(1e-4) + seed;
  var a0 = vec4f(seed);
  var a1 = vec4f(seed + 0.1);
  var a2 = vec4f(seed + 0.2);
  var a3 = vec4f(seed + 0.3);
  var a4 = vec4f(seed + 0.4);
  var a5 = vec4f(seed + 0.5);
  var a6 = vec4f(seed + 0.6);
  var a7 = vec4f(seed + 0.7);
  for (var k = 0u; k < p.iters; k++) {
    a0 = fma(a0, b, c);
    a1 = fma(a1, b, c);
    a2 = fma(a2, b, c);
    a3 = fma(a3, b, c);
    a4 = fma(a4, b, c);
    a5 = fma(a5, b, c);
    a6 = fma(a6, b, c);
    a7 = fma(a7, b, c);
  }
  let s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  out[i] = s.x + s.y + s.z + s.w;
}
