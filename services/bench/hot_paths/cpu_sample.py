#!/usr/bin/env python3
"""CPU seconds used by PostgreSQL, the server and the load generator, sampled from /proc.

The figure that does not move with the machine's load: how much CPU one call costs each party.
Writes one line every half second, `unix_time postgres_s server_s client_s` (cumulative CPU
seconds); run.sh starts it when CPU_LOG names a file. PostgreSQL's figure adds every live
`postgres` process and the CPU of the backends its postmaster has reaped (cutime/cstime), so
connections that came and went still count; the client is fulfillment-bench with the pgbench it
ran (reaped children too) and any live pgbench.
Usage: cpu_sample.py OUT_FILE   (runs until killed)
"""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    name = s[s.index("(") + 1 : s.rindex(")")]
    rest = s[s.rindex(")") + 2 :].split()
    ppid = int(rest[1])
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    return name, ppid, utime + stime, cutime + cstime


def sample():
    procs = {int(p): r for p in os.listdir("/proc") if p.isdigit() and (r := stat(int(p)))}
    pg = server = client = 0
    for name, ppid, own, reaped in procs.values():
        if name == "postgres":
            pg += own
            if procs.get(ppid, ("",))[0] != "postgres":  # the postmaster
                pg += reaped
        elif name.startswith("fulfillment-ser"):
            server += own
        elif name.startswith("fulfillment-ben"):
            client += own + reaped
        elif name == "pgbench":
            client += own
    return pg / TICK, server / TICK, client / TICK


def main():
    with open(sys.argv[1], "w") as out:
        while True:
            pg, server, client = sample()
            out.write(f"{time.time():.2f} {pg:.2f} {server:.2f} {client:.2f}\n")
            out.flush()
            time.sleep(0.5)


if __name__ == "__main__":
    main()
