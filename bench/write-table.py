#!/usr/bin/env python3
"""Turns bench/run-scenarios.sh results (JSON lines) into the table in docs/performance.md, with the machine."""
import json
import os
import re
import subprocess
import sys

TARGETS = {
    "S1": ("100 × 2/s", "p99 ≤ 12 ms; RSS ≤ 60 MB JIT / ≤ 40 MB AOT"),
    "S2": ("1,000 × 10/s", "p99 ≤ 15 ms, nothing lost, CPU ≤ 8% of a core"),
    "S3": ("10,000 × 4/s", "p99 ≤ 60 ms, nothing lost"),
    "S4": ("10,000 × 10/s", "nothing lost, p99 ≤ 500 ms"),
    "S5": ("1,000 × 1,000/s (overload)", "none disconnected, p99 ≤ 1 s, last reading to all"),
    "S6": ("50,000 idle", "held; ≤ 10 KB RSS per connection"),
}


def verdict(d):
    s, rt = d["label"], d["runtime"]
    lat = d["latency_ms"]
    ok = d["connections_failed"] == 0
    misses = []
    if not ok:
        misses.append(f"{d['connections_failed']} connects failed")
    if s == "S1":
        if lat["p99"] > 12: misses.append("p99")
        if d["server_rss_end_mb"] > (40 if rt == "aot" else 60): misses.append("RSS")
    elif s == "S2":
        if lat["p99"] > 15: misses.append("p99")
        if d["lost"]: misses.append("lost")
        if d["server_cpu_pct_of_core"] > 8: misses.append("CPU")
    elif s == "S3":
        if lat["p99"] > 60: misses.append("p99")
        if d["lost"]: misses.append("lost")
    elif s == "S4":
        if lat["p99"] > 500: misses.append("p99")
        if d["lost"]: misses.append("lost")
    elif s == "S5":
        if d["disconnected"]: misses.append("disconnects")
        if lat["p99"] > 1000: misses.append("p99")
        if d["last_received_by"] != d["connections_ok"]: misses.append("last reading")
    elif s == "S6":
        if d["connections_ok"] < 50000: misses.append(f"only {d['connections_ok']:,} held")
        if d["disconnected"]: misses.append("disconnects")
        if d["rss_per_connection_kb"] > 10: misses.append("RSS/conn")
    return "met" if not misses else "**missed: " + ", ".join(misses) + "**"


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
    # The machine only: cores, CPU, memory, runtime. Not when or under what load the run was made.
    return f"{os.cpu_count()} × {cpu}, {mem / 1024 / 1024:.1f} GiB RAM, Linux, .NET SDK {dotnet}"


def table(rows):
    out = [f"Measured by `bench/run-scenarios.sh` on {machine()}. Load generator, broker (librdkafka mock in a "
           "process of its own, fetch.wait.max.ms=10) and service share the machine. Before each measured run the load tool "
           f"sends {os.environ.get('WARMUP', '5')} s of uncounted readings (JIT warm-up).", "",
           "| scenario | runtime | clients × rate | target | conns ok/failed | dropped conns | produced | delivered/client min/median | lost | dup | out of order | latency p50 / p90 / p99 / max ms | frames/s | RSS idle → end MB | RSS/conn KB | CPU % of a core | result |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for d in rows:
        load, target = TARGETS.get(d["label"], ("", ""))
        lat = d["latency_ms"]
        if d["label"] == "S6":
            load = f"{d['connections_ok'] + d['connections_failed']:,} idle"
        out.append(
            f"| {d['label']} | {d['runtime'].upper()} | {load} | {target} | {d['connections_ok']:,}/{d['connections_failed']} | "
            f"{d['disconnected']} | {d['produced']:,} | {d['delivered_min']:,}/{d['delivered_median']:,} | {d['lost']:,} | "
            f"{d['duplicated']:,} | {d['out_of_order']:,} | {lat['p50']} / {lat['p90']} / {lat['p99']} / {lat['max']} | "
            f"{d['frames_per_s']:,.0f} | {d['server_rss_idle_mb']} → {d['server_rss_end_mb']} | {d['rss_per_connection_kb']} | "
            f"{d['server_cpu_pct_of_core']} | {verdict(d)} |")
    return "\n".join(out)


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    text = table(rows)
    readme = sys.argv[2]
    content = open(readme).read()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    block = f"{start}\n{text}\n{end}"
    if start in content and end in content:
        content = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, content, flags=re.S)
    else:
        content = content.rstrip("\n") + "\n\n## Performance\n\n" + block + "\n"
    open(readme, "w").write(content)
    print(text)


if __name__ == "__main__":
    main()
