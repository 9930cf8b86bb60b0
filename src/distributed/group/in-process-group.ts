// Several ranks in one process, all on the calling thread: the engine runs inline over an
// InProcessTransport. Same engine and algorithms as TCP groups; used by unit tests.
//
// A subgroup gets a hub of its own, derived from its parent's (so killing a rank kills it there
// too), made by whichever member asks first and found by the others in a registry shared by the
// groups of one createInProcessGroups call, under the subgroup's name: the parent's name, the
// rank list and how many times it was made.
import { CollectiveEngine, DEFAULT_ENGINE_OPTIONS, type EngineOptions, type RankNaming } from "../collectives/engine.js";
import { algorithmFor } from "../collectives/request.js";
import { ProcessGroup } from "./process-group.js";
import { InProcessHub } from "../transport/in-process-transport.js";

export interface InProcessGroupOptions extends Partial<EngineOptions> {
  /** Pass one to be able to kill ranks (hub.kill(rank)) in fault tests. */
  hub?: InProcessHub;
}

/** Creates `worldSize` connected process groups, element r being rank r. */
export function createInProcessGroups(worldSize: number, options: InProcessGroupOptions = {}): ProcessGroup[] {
  const { hub = new InProcessHub(worldSize), ...engineOptions } = options;
  if (hub.worldSize !== worldSize) throw new RangeError(`hub has ${hub.worldSize} ranks, asked for ${worldSize}`);
  const registry = new Map<string, InProcessHub>();
  return Array.from({ length: worldSize }, (_, rank) => inProcessGroup(hub, rank, engineOptions, registry, "", undefined));
}

function inProcessGroup(
  hub: InProcessHub, rank: number, engineOptions: Partial<EngineOptions>, registry: Map<string, InProcessHub>, name: string, naming: RankNaming | undefined,
): ProcessGroup {
  const engine = new CollectiveEngine(rank, hub.worldSize, engineOptions, naming);
  const transport = hub.join(rank, engine);
  engine.attach(transport);
  return new ProcessGroup(rank, hub.worldSize, {
    submit: (request, waitedMs) => engine.run(request, waitedMs),
    close: async () => engine.close(),
    abort: (reason) => engine.abort(reason),
    failure: () => engine.failure,
    traffic: () => transport.traffic(),
  }, "in-process", {
    globalRanks: naming?.globalRanks,
    algorithmOf: (op, count) => algorithmFor(op, count, hub.worldSize, engineOptions.smallMessageBytes ?? DEFAULT_ENGINE_OPTIONS.smallMessageBytes),
    makeSubgroup: async (sub) => {
      const subName = `${name}/${sub.key}`;
      let subHub = registry.get(subName);
      if (!subHub) registry.set(subName, (subHub = hub.derive(sub.members)));
      const { connectTimeoutMs: _unused, ...subEngine } = sub.options; // nothing to connect in-process
      return inProcessGroup(subHub, sub.rank, { ...engineOptions, ...subEngine }, registry, subName, sub.naming);
    },
  });
}
