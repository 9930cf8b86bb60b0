// A TensorBoard event file of scalars: TFRecords (tensorboard-record.ts), each holding one
// `tensorflow.Event` message. The first says which format follows (file_version
// "brain.Event:2", the version TensorBoard's own writers put there); each after it holds one
// step's scalars as a Summary. Only the fields below are written; their numbers are those of
// TensorFlow's tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto:
//
//   message Event   { double wall_time = 1; int64 step = 2; oneof what { string file_version = 3; Summary summary = 5; ... } }
//   message Summary { repeated Value value = 1; }
//   message Summary.Value { string tag = 1; oneof value { float simple_value = 2; ... } }
//
// wall_time and step are plain proto3 fields, left out when 0 as protobuf's own serializers do;
// simple_value sits in a oneof, so it is written even when 0, or the reader would find no value.
import { ProtoWriter } from "./tensorboard-protobuf.js";
import { tfRecord } from "./tensorboard-record.js";

const EVENT_WALL_TIME = 1;
const EVENT_STEP = 2;
const EVENT_FILE_VERSION = 3;
const EVENT_SUMMARY = 5;
const SUMMARY_VALUE = 1;
const VALUE_TAG = 1;
const VALUE_SIMPLE_VALUE = 2;

const FILE_VERSION = "brain.Event:2";

/** One step's scalars in one run. */
export interface ScalarEvent {
  step: number;
  /** Seconds since the Unix epoch, fractions included. */
  wallTime: number;
  values: readonly { tag: string; value: number }[];
}

function event(wallTime: number, step: number, what: (w: ProtoWriter) => ProtoWriter): Uint8Array {
  const w = new ProtoWriter();
  if (wallTime !== 0) w.double(EVENT_WALL_TIME, wallTime);
  if (step !== 0) w.int64(EVENT_STEP, step);
  return tfRecord(what(w).finish());
}

function summary(values: ScalarEvent["values"]): Uint8Array {
  const w = new ProtoWriter();
  for (const v of values) w.bytes(SUMMARY_VALUE, new ProtoWriter().string(VALUE_TAG, v.tag).float(VALUE_SIMPLE_VALUE, v.value).finish());
  return w.finish();
}

/**
 * One run's event file: its name and bytes. TensorBoard reads any file whose name holds
 * "tfevents"; the name is TensorFlow's `events.out.tfevents.<seconds>.<host>` with "weft" where
 * the host would be, so an export names no machine.
 *
 * @param events the scalars, in the order TensorBoard should read them (by step)
 * @param startWallTime the first event's time (seconds since the epoch): the run's start
 * @example One step with two scalars
 * ```ts
 * const file = encodeEventFile([{ step: 1, wallTime: 1700000000.25, values: [{ tag: "loss", value: 2.5 }, { tag: "eval/acc", value: 0 }] }], 1700000000);
 * assert.equal(file.name, "events.out.tfevents.1700000000.weft");
 * const firstLength = Number(new DataView(file.bytes.buffer).getBigUint64(0, true));
 * assert.equal(new TextDecoder().decode(file.bytes.subarray(12 + 9 + 2, 12 + firstLength)), "brain.Event:2");
 * ```
 */
export function encodeEventFile(events: readonly ScalarEvent[], startWallTime: number): { name: string; bytes: Uint8Array } {
  const records = [event(startWallTime, 0, (w) => w.string(EVENT_FILE_VERSION, FILE_VERSION))];
  for (const e of events) records.push(event(e.wallTime, e.step, (w) => w.bytes(EVENT_SUMMARY, summary(e.values))));
  // A fresh array, not a view into Buffer's shared pool, so a DataView over `.buffer` reads this file.
  return { name: `events.out.tfevents.${Math.floor(startWallTime)}.weft`, bytes: Uint8Array.from(Buffer.concat(records)) };
}
