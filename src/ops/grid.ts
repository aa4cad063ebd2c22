/** Grid of `groups` workgroups (one per output), 2-D once past 65535 per dimension. */
export function gridGroups(groups: number): [number, number] {
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** Workgroup grid for one invocation per element. */
export function grid1d(count: number, workgroupSize: number): [number, number] {
  return gridGroups(Math.ceil(count / workgroupSize));
}
