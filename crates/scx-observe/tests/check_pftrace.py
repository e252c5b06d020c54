#!/usr/bin/env python3
"""Checks an scxsim Perfetto trace with Perfetto's official Python bindings.

Usage: check_pftrace.py TRACE.pftrace REPORT.json [--expect-breaker]

Decodes the trace with `perfetto.protos.perfetto.trace.perfetto_trace_pb2`
(pip package `perfetto`) and checks, independently of scxsim's own code:

* every packet parses on its own, carries `trusted_packet_sequence_id`,
  and has no field the schema does not know (so field numbers and wire
  types match Perfetto's protos);
* a SystemInfo packet names a 6.12 kernel (so `prev_state` decodes with the
  4.14+ layout);
* the track-event sequence clears its incremental state first, and every
  interned id is defined before use;
* per-CPU ftrace bundles carry sched_switch / sched_waking / sched_wakeup /
  sched_wakeup_new / sched_migrate_task / sched_process_exit with the
  fields Perfetto's importer reads, timestamps non-decreasing per CPU, and
  each CPU's switches chain (next_pid of one == prev_pid of the next);
* every non-idle pid switched in is named (ProcessTree or task_newtask);
* per-task on-CPU time computed here from sched_switch alone equals the
  report's metrics.tasks[].runtime_ns to the nanosecond, and per-CPU busy
  time equals the report's metrics.cpus[].busy_ns;
* a counter track per DSQ exists ("DSQ ..."), with counter values whose
  last value per DSQ equals the report's final depth;
* there is one ops-callback instant per callback the report counts (per
  op), an scx exit instant, and (with --expect-breaker) dispatch-loop
  breaker kicks, as many as the report's breaker_kicks.

Prints "pftrace ok: ..." and exits 0, or prints the problems and exits 1.
Exit code 3 means the perfetto package is missing.
"""

import collections
import json
import sys

try:
    from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb
    from google.protobuf import unknown_fields
except ImportError as e:  # pragma: no cover - environment problem
    print(f"perfetto python package missing: {e}", file=sys.stderr)
    sys.exit(3)

SEQ_INCREMENTAL_STATE_CLEARED = 1
SEQ_NEEDS_INCREMENTAL_STATE = 2
SCHED_EVENTS = ("sched_switch", "sched_waking", "sched_wakeup",
                "sched_wakeup_new", "sched_migrate_task", "sched_process_exit")
REQUIRED = {
    "sched_switch": ("prev_comm", "prev_pid", "prev_prio", "prev_state",
                     "next_comm", "next_pid", "next_prio"),
    "sched_waking": ("comm", "pid", "prio", "target_cpu"),
    "sched_wakeup": ("comm", "pid", "prio", "target_cpu"),
    "sched_wakeup_new": ("comm", "pid", "prio", "target_cpu"),
    "sched_migrate_task": ("comm", "pid", "prio", "orig_cpu", "dest_cpu"),
    "sched_process_exit": ("comm", "pid", "tgid", "prio"),
}


class Problems:
    def __init__(self):
        self.items = []

    def add(self, msg):
        if len(self.items) < 50:
            self.items.append(msg)

    def check(self, cond, msg):
        if not cond:
            self.add(msg)


def split_packets(data):
    """Yields the raw bytes of each Trace.packet record."""
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        if key != (1 << 3 | 2):
            raise ValueError(f"offset {i}: not a Trace.packet record (key {key})")
        n, i = read_varint(data, i)
        yield data[i:i + n]
        i += n


def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def unknown_in(msg, path="packet"):
    """Paths of messages that hold fields unknown to the schema."""
    out = []
    if len(unknown_fields.UnknownFieldSet(msg)):
        out.append(path)
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        values = value if field.is_repeated else [value]
        for j, v in enumerate(values):
            out.extend(unknown_in(v, f"{path}.{field.name}[{j}]"))
    return out


def parse(data, probs):
    packets = []
    for k, raw in enumerate(split_packets(data)):
        p = pb.TracePacket()
        p.ParseFromString(raw)
        probs.check(p.HasField("trusted_packet_sequence_id"),
                    f"packet {k} has no trusted_packet_sequence_id")
        bad = unknown_in(p)
        probs.check(not bad, f"packet {k}: unknown fields in {bad[:3]}")
        packets.append(p)
    whole = pb.Trace()
    whole.ParseFromString(data)
    probs.check(len(whole.packet) == len(packets), "Trace message disagrees")
    return packets


def check_interning(packets, probs):
    """Track-event sequences: state cleared first, iids defined before use."""
    names = collections.defaultdict(dict)
    ann_names = collections.defaultdict(dict)
    started = set()
    resolved = []
    for k, p in enumerate(packets):
        seq = p.trusted_packet_sequence_id
        if not (p.HasField("track_event") or p.HasField("track_descriptor")):
            continue
        if seq not in started:
            probs.check(p.sequence_flags & SEQ_INCREMENTAL_STATE_CLEARED,
                        f"packet {k}: first packet of sequence {seq} does not clear state")
            started.add(seq)
        for e in p.interned_data.event_names:
            names[seq][e.iid] = e.name
        for e in p.interned_data.debug_annotation_names:
            ann_names[seq][e.iid] = e.name
        if not p.HasField("track_event"):
            continue
        te = p.track_event
        uses = te.HasField("name_iid") or any(a.HasField("name_iid") for a in te.debug_annotations)
        if uses:
            probs.check(p.sequence_flags & SEQ_NEEDS_INCREMENTAL_STATE,
                        f"packet {k}: uses interned ids without SEQ_NEEDS_INCREMENTAL_STATE")
        name = te.name
        if te.HasField("name_iid"):
            name = names[seq].get(te.name_iid)
            probs.check(name is not None, f"packet {k}: undefined name_iid {te.name_iid}")
        args = {}
        for a in te.debug_annotations:
            an = ann_names[seq].get(a.name_iid) if a.HasField("name_iid") else a.name
            probs.check(an is not None, f"packet {k}: undefined annotation iid {a.name_iid}")
            args[an] = getattr(a, a.WhichOneof("value")) if a.WhichOneof("value") else None
        resolved.append((p.timestamp, te, name, args))
    return resolved


def check_ftrace(packets, probs):
    """Returns per-CPU switch lists and the set of named pids."""
    per_cpu = collections.defaultdict(list)
    counts = collections.Counter()
    named = {0}
    for p in packets:
        if p.HasField("process_tree"):
            named.update(t.tid for t in p.process_tree.threads)
        if not p.HasField("ftrace_events"):
            continue
        b = p.ftrace_events
        probs.check(b.HasField("cpu"), "ftrace bundle without cpu")
        last = None
        for e in b.event:
            probs.check(e.HasField("timestamp") and e.HasField("pid"),
                        "ftrace event without timestamp or pid")
            if last is not None:
                probs.check(e.timestamp >= last, f"cpu {b.cpu}: time goes back in a bundle")
            last = e.timestamp
            kind = e.WhichOneof("event")
            counts[kind] += 1
            if kind in REQUIRED:
                body = getattr(e, kind)
                for f in REQUIRED[kind]:
                    probs.check(body.HasField(f), f"{kind} without {f}")
            if kind == "task_newtask":
                named.add(e.task_newtask.pid)
            if kind == "sched_switch":
                per_cpu[b.cpu].append((e.timestamp, e.sched_switch))
    for ev in ("sched_switch", "sched_waking", "sched_wakeup", "sched_wakeup_new"):
        probs.check(counts[ev] > 0, f"no {ev} events")
    return per_cpu, counts, named


def oncpu_times(per_cpu, end, probs, named):
    """Per-pid on-CPU ns and per-CPU busy ns from sched_switch alone."""
    runtime = collections.Counter()
    busy = collections.Counter()
    for cpu, sw in per_cpu.items():
        sw.sort(key=lambda x: x[0])
        since, curr = 0, None
        for ts, s in sw:
            if curr is not None:
                probs.check(curr == s.prev_pid,
                            f"cpu {cpu} at {ts}: switch from {s.prev_pid} but {curr} was running")
            if s.prev_pid != 0:
                runtime[s.prev_pid] += ts - since
                busy[cpu] += ts - since
            probs.check(s.next_pid in named, f"pid {s.next_pid} ({s.next_comm}) never named")
            since, curr = ts, s.next_pid
        if curr:
            runtime[curr] += end - since
            busy[cpu] += end - since
    return runtime, busy


def main(argv):
    expect_breaker = "--expect-breaker" in argv
    args = [a for a in argv if not a.startswith("--")]
    trace_path, report_path = args
    with open(trace_path, "rb") as f:
        data = f.read()
    with open(report_path) as f:
        report = json.load(f)
    metrics = report["metrics"]
    end = metrics["end_ns"]
    probs = Problems()

    packets = parse(data, probs)
    infos = [p.system_info for p in packets if p.HasField("system_info")]
    probs.check(infos and infos[0].utsname.release.startswith("6.12"),
                "no SystemInfo with a 6.12 release")
    events = check_interning(packets, probs)
    per_cpu, counts, named = check_ftrace(packets, probs)
    runtime, busy = oncpu_times(per_cpu, end, probs, named)

    want = {t["pid"]: t["runtime_ns"] for t in metrics["tasks"]}
    for pid in sorted(set(want) | set(runtime)):
        probs.check(runtime.get(pid, 0) == want.get(pid, 0),
                    f"pid {pid}: trace says {runtime.get(pid, 0)} ns on CPU, "
                    f"report {want.get(pid, 0)}")
    for c in metrics["cpus"]:
        probs.check(busy.get(c["cpu"], 0) == c["busy_ns"],
                    f"cpu {c['cpu']}: trace busy {busy.get(c['cpu'], 0)}, report {c['busy_ns']}")

    descs = [p.track_descriptor for p in packets if p.HasField("track_descriptor")]
    dsq_tracks = {d.uuid: d.name for d in descs if d.HasField("counter")}
    probs.check(any(n.startswith("DSQ ") for n in dsq_tracks.values()), "no DSQ counter track")
    last_value = {}
    instants = collections.Counter()
    breaker = 0
    for ts, te, name, args in events:
        if te.type == pb.TrackEvent.TYPE_COUNTER:
            probs.check(te.track_uuid in dsq_tracks, f"counter on unknown track {te.track_uuid}")
            last_value[dsq_tracks.get(te.track_uuid)] = te.counter_value
        elif te.type == pb.TrackEvent.TYPE_INSTANT:
            instants[name] += 1
            breaker += bool(args.get("breaker"))
    for d in metrics["dsqs"]:
        track = "DSQ " + d["name"]
        probs.check(last_value.get(track) == d["final_depth"],
                    f"{track}: last counter {last_value.get(track)} != final depth {d['final_depth']}")
    probs.check(metrics["ops"].get("dispatch", 0) > 0, "no ops.dispatch() calls in the report")
    for op, n in metrics["ops"].items():
        probs.check(instants[op] == n, f"{instants[op]} '{op}' instants, report counts {n}")
    probs.check(any(n and n.startswith("scx_exit: ") for n in instants), "no scx_exit instant")
    probs.check(breaker == metrics["totals"]["breaker_kicks"] == instants["kick (breaker)"],
                f"{breaker} breaker kicks in the trace, report {metrics['totals']['breaker_kicks']}")
    if expect_breaker:
        probs.check(breaker > 0, "no dispatch-loop breaker kick")

    if probs.items:
        print("pftrace problems:")
        for m in probs.items:
            print("  " + m)
        return 1
    print(f"pftrace ok: {len(packets)} packets, {sum(counts.values())} ftrace events "
          f"({counts['sched_switch']} sched_switch), {len(runtime)} tasks on CPU, "
          f"{len(dsq_tracks)} DSQ tracks, {sum(instants.values())} instants, "
          f"{breaker} breaker kicks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
