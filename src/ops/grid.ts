/** Workgroup grid for one invocation per element: 2-D once the count passes 65535 per dimension. */
export function grid1d(count: number, workgroupSize: number): [number, number] {
  const groups = Math.ceil(count / workgroupSize);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** Grid of `groups` workgroups (one per output), 2-D past 65535. */
export function gridGroups(groups: number): [number, number] {
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
