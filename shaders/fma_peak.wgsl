// fma_peak.wgsl — the device's fp32 FMA throughput, for the bench: every other figure is reported
// as a fraction of what this kernel reaches.
//
// Each invocation runs `iters` rounds of 8 independent vec4 multiply-add chains (a = a·b + c),
// enough independent work to hide FMA latency on CPUs and GPUs alike; FLOPs per invocation =
// iters · 8 chains · 4 lanes · 2. The sum is written out so the compiler cannot drop the work.
// The rounds run ROUNDS to a loop iteration (a constant trip count, so the compiler unrolls it),
// then the rest one by one: lavapipe blends every variable a loop writes with the loop's lane
// mask once per iteration, which at one round per iteration costs about as much as the round's
// multiply-adds (ROUNDS = 4 measured 1.6–1.8× the rate of 1 there; 8, 16 and 32 less than 4).
//   fma_peak   one invocation per output element

struct PeakParams {
  n: u32,
  iters: u32,
}

@group(0) @binding(0) var<uniform> p: PeakParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override ROUNDS: u32 = 4;

struct Chains {
  a0: vec4f,
  a1: vec4f,
  a2: vec4f,
  a3: vec4f,
  a4: vec4f,
  a5: vec4f,
  a6: vec4f,
  a7: vec4f,
}

// One round: every chain a ← a·b + c.
fn round(a: Chains, b: vec4f, c: vec4f) -> Chains {
  return Chains(fma(a.a0, b, c), fma(a.a1, b, c), fma(a.a2, b, c), fma(a.a3, b, c),
                fma(a.a4, b, c), fma(a.a5, b, c), fma(a.a6, b, c), fma(a.a7, b, c));
}

@compute @workgroup_size(WG)
fn fma_peak(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.n) { return; }
  let seed = f32(i % 7u) * 1e-3;
  let b = vec4f(0.9999, 0.9998, 0.9997, 0.9996);
  let c = vec4f(1e-4) + seed;
  var a = Chains(vec4f(seed), vec4f(seed + 0.1), vec4f(seed + 0.2), vec4f(seed + 0.3),
                 vec4f(seed + 0.4), vec4f(seed + 0.5), vec4f(seed + 0.6), vec4f(seed + 0.7));
  let whole = p.iters / ROUNDS * ROUNDS;
  for (var k = 0u; k < whole; k += ROUNDS) {
    for (var r = 0u; r < ROUNDS; r++) { a = round(a, b, c); }
  }
  for (var k = whole; k < p.iters; k++) { a = round(a, b, c); }
  let s = a.a0 + a.a1 + a.a2 + a.a3 + a.a4 + a.a5 + a.a6 + a.a7;
  out[i] = s.x + s.y + s.z + s.w;
}
