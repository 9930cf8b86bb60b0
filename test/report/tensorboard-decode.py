"""Reads TensorBoard event files with nothing of Weft's: Google's protobuf runtime (Debian's
python3-protobuf) parses each record with message classes built here from TensorFlow's own field
definitions (event.proto, summary.proto: the fields an event file of scalars uses), and the TFRecord
framing is read and both checksums checked with a CRC-32C computed bit by bit (no table), unlike
src/report/crc32c.ts.

    python3 tensorboard-decode.py FILE...

prints one JSON object: {FILE: [event, ...]}, each event {"wall_time", "step", and "file_version"
or "values": {tag: simple_value}}, plus "canonical": whether protobuf's own serializer writes
exactly the record's bytes again. Exits 1 naming the file and offset of the first bad record.
"""
import json
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def event_classes():
    file = descriptor_pb2.FileDescriptorProto(name="weft_test_event.proto", package="tensorflow", syntax="proto3")

    summary = file.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.oneof_decl.add(name="value")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL, oneof_index=0)
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED, type_name=".tensorflow.Summary.Value")

    event = file.message_type.add(name="Event")
    event.oneof_decl.add(name="what")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=".tensorflow.Summary", oneof_index=0)

    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    descriptor = pool.FindMessageTypeByName("tensorflow.Event")
    get = getattr(message_factory, "GetMessageClass", None)
    return get(descriptor) if get else message_factory.MessageFactory(pool).GetPrototype(descriptor)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    with open(path, "rb") as f:
        blob = f.read()
    at = 0
    while at < len(blob):
        if len(blob) - at < 12:
            raise ValueError(f"{path}: {len(blob) - at} stray bytes at offset {at}")
        header = blob[at : at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[at + 8 : at + 12])
        if length_crc != masked(header):
            raise ValueError(f"{path}: length CRC mismatch at offset {at}")
        data = blob[at + 12 : at + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[at + 12 + length : at + 16 + length])
        if len(data) != length or data_crc != masked(data):
            raise ValueError(f"{path}: data CRC mismatch (or cut short) at offset {at}")
        yield data
        at += 16 + length


def main(paths):
    Event = event_classes()
    out = {}
    for path in paths:
        events = []
        for data in records(path):
            event = Event.FromString(data)
            decoded = {"wall_time": event.wall_time, "step": event.step, "canonical": event.SerializeToString(deterministic=True) == data}
            which = event.WhichOneof("what")
            if which == "file_version":
                decoded["file_version"] = event.file_version
            elif which == "summary":
                decoded["values"] = {v.tag: v.simple_value for v in event.summary.value if v.WhichOneof("value") == "simple_value"}
            events.append(decoded)
        out[path] = events
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ValueError as err:
        print(err, file=sys.stderr)
        sys.exit(1)
