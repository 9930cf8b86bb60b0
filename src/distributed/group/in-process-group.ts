// Several ranks in one process, all on the calling thread: the engine runs inline over an
// InProcessTransport. Same engine and algorithms as TCP groups; used by unit tests.
import { CollectiveEngine, type EngineOptions } from "../collectives/engine.js";
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
  return Array.from({ length: worldSize }, (_, rank) => {
    const engine = new CollectiveEngine(rank, worldSize, engineOptions);
    engine.attach(hub.join(rank, engine));
    return new ProcessGroup(rank, worldSize, {
      submit: (request) => engine.run(request),
      close: async () => engine.close(),
    }, "in-process");
  });
}
