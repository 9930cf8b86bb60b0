// The runtime stage of the project's Dockerfile, read as data: what it copies from the build stage
// and where, its working directory, user, environment and entry point. The container test builds
// its image from these same lines (the Dockerfile itself needs a registry for its base images), so
// the two layouts cannot drift apart. Only instructions an imported image can reproduce are
// accepted in the runtime stage; a RUN there is refused by name rather than silently left out.

export interface StageCopy {
  /** The path in the project, relative to its root (the build stage's working directory holds the project). */
  source: string;
  /** Where it lands in the image (absolute). */
  target: string;
}

export interface RuntimeStage {
  base: string;
  workdir: string;
  user: string | undefined;
  /** `NAME=value`, in order. */
  env: string[];
  entrypoint: string[];
  copies: StageCopy[];
}

interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions: comments dropped, continued lines joined. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: Instruction | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (pending === undefined && (line === "" || line.startsWith("#"))) return;
    const continued = line.endsWith("\\");
    const body = continued ? line.slice(0, -1).trim() : line;
    if (pending === undefined) {
      const [keyword = "", ...rest] = body.split(/\s+/);
      pending = { line: i + 1, keyword: keyword.toUpperCase(), args: rest.join(" ") };
    } else if (!line.startsWith("#")) {
      pending.args = `${pending.args} ${body}`.trim();
    }
    if (!continued) {
      out.push(pending);
      pending = undefined;
    }
  });
  if (pending) out.push(pending);
  return out;
}

const absolute = (path: string, workdir: string): string => (path.startsWith("/") ? path : `${workdir}/${path.replace(/^\.\//, "")}`).replace(/\/+$/, "");

/**
 * Reads the last stage of a multi-stage Dockerfile, whose COPY lines take files from a named
 * earlier stage that holds the project in its working directory
 * (test/cluster/container-stage.test.ts shows what it accepts and refuses).
 */
export function readRuntimeStage(dockerfile: string): RuntimeStage {
  const all = instructions(dockerfile);
  const froms = all.map((ins, i) => (ins.keyword === "FROM" ? i : -1)).filter((i) => i >= 0);
  if (froms.length < 2) throw new Error(`the Dockerfile has ${froms.length} FROM lines: expected a build stage and a runtime stage`);
  // Each named stage's working directory: a COPY --from=<name> source is read relative to the project there.
  const stageWorkdirs = new Map<string, string>();
  froms.slice(0, -1).forEach((start, s) => {
    const name = /\sAS\s+(\S+)$/i.exec(all[start]!.args)?.[1];
    const workdir = all.slice(start + 1, froms[s + 1]).filter((ins) => ins.keyword === "WORKDIR").pop()?.args;
    if (name && workdir) stageWorkdirs.set(name, workdir.replace(/\/+$/, ""));
  });
  const last = froms[froms.length - 1]!;
  const stage: RuntimeStage = { base: all[last]!.args.split(/\s+/)[0]!, workdir: "/", user: undefined, env: [], entrypoint: [], copies: [] };
  for (const ins of all.slice(last + 1)) {
    const where = `Dockerfile line ${ins.line}`;
    switch (ins.keyword) {
      case "WORKDIR":
        stage.workdir = absolute(ins.args, stage.workdir);
        break;
      case "USER":
        stage.user = ins.args;
        break;
      case "ENV":
        if (!/^[A-Za-z_][A-Za-z0-9_]*=\S*$/.test(ins.args)) throw new Error(`${where}: ENV ${ins.args}: write one NAME=value per ENV line`);
        stage.env.push(ins.args);
        break;
      case "ENTRYPOINT":
        stage.entrypoint = JSON.parse(ins.args) as string[];
        break;
      case "COPY": {
        const m = /^--from=(\S+)\s+(\S+)\s+(\S+)$/.exec(ins.args);
        const from = m ? stageWorkdirs.get(m[1]!) : undefined;
        if (!m || from === undefined || !m[2]!.startsWith(`${from}/`)) {
          throw new Error(`${where}: COPY ${ins.args}: the runtime stage copies one path from the build stage's working directory per line (COPY --from=build /weft/PATH TARGET)`);
        }
        stage.copies.push({ source: m[2]!.slice(from.length + 1).replace(/\/+$/, ""), target: absolute(m[3]!, stage.workdir) });
        break;
      }
      default:
        throw new Error(`${where}: ${ins.keyword} in the runtime stage: the container test's image cannot reproduce it; keep to COPY --from, WORKDIR, USER, ENV and ENTRYPOINT there`);
    }
  }
  return stage;
}
