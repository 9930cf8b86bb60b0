// A made-up comparison of three configurations, for the report writer's tests: two that finished
// (one reporting every optional measure, one only some) and one that timed out half-way, with
// curves shaped like real ones (the metric rising per evaluation, the loss falling per step).
import type { Comparison, ConfigRun } from "../../src/report/comparison.js";

function run(index: number, label: string, speed: number, extra: Partial<ConfigRun> = {}): ConfigRun {
  const steps = 120;
  const loss = Array.from({ length: steps }, (_, i) => ({ step: i + 1, wall_s: ((i + 1) * 0.05) / speed, bytes_sent: (i + 1) * 2e5 * (index - 1), loss: 2.3 / (1 + i / 15) + 0.05 * index }));
  const metric = [40, 80, 120].map((step, e) => ({ step, wall_s: (step * 0.05) / speed, bytes_sent: step * 2e5 * (index - 1), value: 0.8 + 0.06 * e - 0.01 * index }));
  return {
    id: `${index}-${label.replaceAll(/[^a-z0-9]+/g, "-")}`, label, settings: Object.fromEntries(label.split(" ").map((kv) => kv.split("=") as [string, string])),
    argv: ["mnist", ...label.split(" ").flatMap((kv) => [`--${kv.split("=")[0]}`, kv.split("=")[1]!]), "--json"],
    status: "ok", exit_code: 0, elapsed_s: 7 / speed,
    result: { recipe: "mnist", strategy: label, metric: "test_accuracy", value: metric.at(-1)!.value, wall_s: loss.at(-1)!.wall_s!, steps, samples_per_s: Math.round(7680 * speed), bytes_sent_per_worker: loss.at(-1)!.bytes_sent!, step_ms_mean: 50 / speed, step_ms_p90: 60 / speed },
    curves: { metric, loss, step_ms: loss.map(() => 50 / speed) },
    ...extra,
  };
}

/** Three configurations: "strategy=single", "strategy=ddp workers=2" (with staleness and consensus fields) and "strategy=gossip workers=2" (timed out). */
export function sampleComparison(): Comparison {
  const gossip = run(3, "strategy=gossip workers=2", 0.8);
  return {
    recipe: "mnist", metric: { name: "test_accuracy", higherIsBetter: true },
    command: "weft compare mnist --grid strategy=single,ddp,gossip", keys: ["strategy", "workers"], started: "2026-12-01T12:00:00.000Z",
    configs: [
      run(1, "strategy=single", 1),
      run(2, "strategy=ddp workers=2", 1.6, { result: { ...run(2, "strategy=ddp workers=2", 1.6).result!, staleness_mean: 0.5, staleness_max: 2, consensus_distance: 0.0123 } }),
      { ...gossip, status: "timed out", error: "ran past --time-limit 5 s", result: undefined, exit_code: undefined, curves: { metric: gossip.curves.metric.slice(0, 2), loss: gossip.curves.loss.slice(0, 80), step_ms: [] } },
    ],
  };
}
