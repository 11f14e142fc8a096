"""Prints the medians (min-max) of measured runs per workload and system, and Rivulet-to-peer ratios."""

import json
import statistics
import sys

# Per workload: the figures to show, and whether more is better (for the direction of the ratio).
FIGURES = {
    "w1-100B": [("msgs_per_s", True), ("server_cpu_us_per_msg", False), ("p50_ms", False)],
    "w1-1KiB": [("msgs_per_s", True), ("server_cpu_us_per_msg", False), ("p50_ms", False)],
    "w1-publish": [("msgs_per_s", True), ("server_cpu_us_per_msg", False)],
    "w2": [("p50_ms", False), ("p99_ms", False), ("p999_ms", False), ("server_cpu_us_per_msg", False)],
    "w3": [("msgs_per_s", True), ("server_cpu_us_per_msg", False)],
    "w4": [("deliveries_per_s", True), ("server_cpu_us_per_delivery", False)],
    "w5": [("rss_kib_per_connection", False)],
    "w6": [("rss_bytes_per_stream", False), ("fds_per_stream", False)],
    "w7": [("seconds_to_serving", False)],
}
PEERS = ["redis", "nats"]


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    measured = [row for row in rows if row.get("run") not in ("warmup", "fill")]
    # Only the peers that ran get a column.
    peers = [peer for peer in PEERS if any(row["system"] == peer for row in measured)]
    print(f"{'workload':10} {'figure':28} " + " ".join(f"{name:>30}" for name in ["rivulet"] + peers)
          + "   ratio vs " + " / ".join(peers))
    for workload, figures in FIGURES.items():
        for figure, higher_is_better in figures:
            cells, medians = [], {}
            for system in ["rivulet"] + peers:
                values = [row[figure] for row in measured
                          if row["id"] == workload and row["system"] == system and figure in row]
                if not values:
                    cells.append(f"{'-':>30}")
                    continue
                median = statistics.median(values)
                medians[system] = median
                cells.append(f"{fmt(median):>12} ({fmt(min(values))}-{fmt(max(values))})".rjust(30))
            if not medians:
                continue
            ratios = []
            for peer in peers:
                if "rivulet" in medians and peer in medians and medians["rivulet"] and medians[peer]:
                    ratio = medians["rivulet"] / medians[peer] if higher_is_better else medians[peer] / medians["rivulet"]
                    ratios.append(f"{ratio:.2f}x")
                else:
                    ratios.append("-")
            print(f"{workload:10} {figure:28} " + " ".join(cells) + "   " + " / ".join(ratios))
    loads = [row["loadavg"] for row in measured if "loadavg" in row]
    if loads:
        print(f"background load (1-min loadavg at run start): median {statistics.median(loads):.2f}, "
              f"max {max(loads):.2f}; ratios are 'times better than the peer' (above 1 means Rivulet is better)")
    incomplete = [row for row in measured if row.get("complete") is False]
    for row in incomplete:
        print(f"incomplete run: {row['system']} {row['id']} run {row['run']} (bounded by --timeout)")


def fmt(value):
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


if __name__ == "__main__":
    main()
