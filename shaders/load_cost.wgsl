// load_cost.wgsl — what a load whose address differs per invocation costs on this device, from
// each place a kernel can read: for the bench's "loads" section, which explains what limits the
// convolutions (on lavapipe every such load is issued lane by lane; see README, Performance).
//
// Every invocation i sums `iters` loads at addresses (7·i + 3·k) mod size, k < iters; size is a
// power of two, passed as mask = size − 1 so the address is not a compile-time constant.
//   load_cost_storage4    src4[a]        vec4 from a storage buffer
//   load_cost_storage1    src[a]         f32 from a storage buffer
//   load_cost_uniform4    ubo[a]         vec4 from a uniform buffer (4096 vec4s)
//   load_cost_workgroup4  shared4[a]     vec4 from workgroup memory (1024 vec4s, filled from src4)
//   load_cost_none        f32(a)         the same loop and address arithmetic, no load
// out[i] = the sum of the loaded values' components.

struct LoadParams {
  n: u32,
  iters: u32,
  mask: u32,
}

@group(0) @binding(0) var<uniform> p: LoadParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> src4: array<vec4f>;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<uniform> ubo: array<vec4f, 4096>;

const SHARED: u32 = 1024u;
var<workgroup> shared4: array<vec4f, SHARED>;

override WG: u32 = 64;

fn address(i: u32, k: u32) -> u32 {
  return (7u * i + 3u * k) & p.mask;
}

fn store_sum(i: u32, acc: vec4f) {
  if (i < p.n) { out[i] = acc.x + acc.y + acc.z + acc.w; }
}

@compute @workgroup_size(WG)
fn load_cost_storage4(@builtin(global_invocation_id) gid: vec3u) {
  var acc = vec4f(0.0);
  for (var k = 0u; k < p.iters; k++) { acc += src4[address(gid.x, k)]; }
  store_sum(gid.x, acc);
}

@compute @workgroup_size(WG)
fn load_cost_storage1(@builtin(global_invocation_id) gid: vec3u) {
  var acc = 0.0;
  for (var k = 0u; k < p.iters; k++) { acc += src[address(gid.x, k)]; }
  store_sum(gid.x, vec4f(acc, 0.0, 0.0, 0.0));
}

@compute @workgroup_size(WG)
fn load_cost_uniform4(@builtin(global_invocation_id) gid: vec3u) {
  var acc = vec4f(0.0);
  for (var k = 0u; k < p.iters; k++) { acc += ubo[address(gid.x, k)]; }
  store_sum(gid.x, acc);
}

@compute @workgroup_size(WG)
fn load_cost_workgroup4(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var j = lid; j < SHARED; j += WG) { shared4[j] = src4[j]; }
  workgroupBarrier();
  var acc = vec4f(0.0);
  for (var k = 0u; k < p.iters; k++) { acc += shared4[address(gid.x, k)]; }
  store_sum(gid.x, acc);
}

@compute @workgroup_size(WG)
fn load_cost_none(@builtin(global_invocation_id) gid: vec3u) {
  var acc = 0.0;
  for (var k = 0u; k < p.iters; k++) { acc += f32(address(gid.x, k)); }
  store_sum(gid.x, vec4f(acc, 0.0, 0.0, 0.0));
}
