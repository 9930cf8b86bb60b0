// Slurm's compressed lists: host lists (`node[01-03,07],gpu5`) and tasks per node (`2(x3),1`).
// Parsed here rather than by calling `scontrol show hostnames`, so a worker needs no Slurm
// binary in its image (a container started by srun often has none) and pays no process start.

/**
 * The host names a Slurm host list stands for, in Slurm's order. A bracket holds ranges and
 * single numbers separated by commas; a range keeps its zero padding (`[08-10]` is 08, 09, 10);
 * several brackets in one name multiply out, the leftmost changing slowest, as scontrol does.
 * Throws a one-line Error naming the list when a bracket is unbalanced or a range runs backwards.
 *
 * @example A compressed list, expanded
 * ```ts
 * assert.deepEqual(expandHostList("node[01-03,07],gpu5"), ["node01", "node02", "node03", "node07", "gpu5"]);
 * ```
 */
export function expandHostList(list: string): string[] {
  const hosts: string[] = [];
  for (const name of splitOutsideBrackets(list.trim(), list)) hosts.push(...expandName(name, list));
  return hosts;
}

/** The list's top-level comma-separated names (commas inside brackets belong to the bracket). */
function splitOutsideBrackets(text: string, whole: string): string[] {
  const names: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "[") depth++;
    else if (c === "]") depth--;
    if (depth < 0 || depth > 1) throw new Error(`host list "${whole}" has unbalanced brackets: write it as Slurm does, e.g. node[01-03,07],gpu5`);
    if (c === "," && depth === 0) {
      names.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new Error(`host list "${whole}" has an unclosed "[": write it as Slurm does, e.g. node[01-03,07],gpu5`);
  names.push(text.slice(start));
  return names.map((n) => n.trim()).filter((n) => n !== "");
}

/** One name with zero or more brackets, multiplied out. */
function expandName(name: string, whole: string): string[] {
  const open = name.indexOf("[");
  if (open < 0) return [name];
  const close = name.indexOf("]", open);
  const prefix = name.slice(0, open);
  const rest = expandName(name.slice(close + 1), whole);
  const out: string[] = [];
  for (const n of expandBracket(name.slice(open + 1, close), whole)) for (const r of rest) out.push(prefix + n + r);
  return out;
}

/** "01-03,07" → ["01", "02", "03", "07"], keeping the width of the range's first number. */
function expandBracket(body: string, whole: string): string[] {
  const out: string[] = [];
  for (const part of body.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`host list "${whole}" has "[${body}]", which is not numbers and ranges like [01-03,07]`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`host list "${whole}" has the range ${part}, which runs backwards`);
    for (let n = from; n <= to; n++) out.push(String(n).padStart(m[1]!.length, "0"));
  }
  return out;
}

/**
 * Tasks on each node, from SLURM_TASKS_PER_NODE's form: counts separated by commas, `N(xK)`
 * meaning K nodes with N each. Throws a one-line Error naming the value otherwise.
 *
 * @example Two nodes of 2 tasks, then one of 1
 * ```ts
 * assert.deepEqual(expandTasksPerNode("2(x2),1"), [2, 2, 1]);
 * ```
 */
export function expandTasksPerNode(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(",")) {
    const m = /^\s*(\d+)(?:\(x(\d+)\))?\s*$/.exec(part);
    if (!m) throw new Error(`tasks per node "${spec}" is not Slurm's form, counts like 2(x3),1`);
    for (let k = 0; k < Number(m[2] ?? 1); k++) out.push(Number(m[1]));
  }
  return out;
}
