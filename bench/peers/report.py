#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/peers/report.py - the table, the targets and the plots of a
bench/peers/run.sh run: reads OUT/raw.tsv, OUT/skipped.tsv and OUT/env.txt,
writes RESULTS (Markdown) and PLOTS/*.png (gnuplot).

usage: report.py --out DIR --results bench/results.md --plots bench/plots [--rate 5000]
"""
import argparse
import csv
import os
import shutil
import statistics as st
import subprocess
import sys

PEERS = ['mqbridge', 'mqbridge-alt', 'ref', 'python', 'node-red', 'broker']
LABEL = {
    'mqbridge': 'mqbridge',
    'mqbridge-alt': 'mqbridge (alternative build)',
    'ref': 'Paho MQTTAsync forwarder (reference)',
    'python': 'Python paho bridge (HA-shaped)',
    'node-red': 'Node-RED',
    'broker': 'broker alone (no bridge)',
}
SHORT = {'mqbridge': 'mqbridge', 'mqbridge-alt': 'mqbridge-alt', 'ref': 'Paho ref', 'python': 'Python', 'node-red': 'Node-RED',
         'broker': 'broker only'}

ap = argparse.ArgumentParser()
ap.add_argument('--out', required=True)
ap.add_argument('--results', required=True)
ap.add_argument('--plots', required=True)
ap.add_argument('--rate', type=int, default=5000)
a = ap.parse_args()

rows = list(csv.DictReader(open(os.path.join(a.out, 'raw.tsv')), delimiter='\t'))
skipped = list(csv.DictReader(open(os.path.join(a.out, 'skipped.tsv')), delimiter='\t'))
env = [l.rstrip('\n') for l in open(os.path.join(a.out, 'env.txt')) if l.strip()]
g = {}
for r in rows:
    g.setdefault((r['peer'], r['qos'], r['mode']), []).append(r)
peers = [p for p in PEERS if any(k[0] == p for k in g) or any(s['peer'] == p for s in skipped)]
RATE_LBL = f'{a.rate:,} msg/s'
MODES = (('rate', RATE_LBL), ('full', 'full speed'))


def cpu_k(r):
    """CPU-seconds per 1,000 delivered messages."""
    d = int(r['delivered'])
    return float(r['cpu_s']) * 1e3 / d if d else None


def med(p, q, mode, f):
    vals = [f(r) for r in g.get((p, q, mode), [])]
    vals = [v for v in vals if v is not None]
    return st.median(vals) if vals else None


def num(field):
    return lambda r: float(r[field])


def fmt(x, d=0):
    return '—' if x is None else f'{x:,.{d}f}'


def peak_rss_kb(p, q=None):
    v = [int(r['rss_kb']) for k, rs in g.items() if k[0] == p and (q is None or k[1] == q) for r in rs
         if int(r['rss_kb']) > 0]
    return max(v) if v else None


def sums(p, q, mode):
    rs = g.get((p, q, mode), [])
    return sum(int(r['lost']) for r in rs), sum(int(r['dup']) for r in rs), len(rs)


def skip_reason(p, q):
    for s in skipped:
        if s['peer'] == p and s['qos'] == q:
            return s['reason']
    return None


nreps = max((len(v) for v in g.values()), default=0)
date = next((l.split(': ', 1)[1] for l in env if l.startswith('date: ')), '?')
md = []
w = md.append
w('# mqbridge against what users would pick instead')
w('')
w(f'Measured **{date}** by `make bench-peers` (`bench/peers/run.sh`); this file and the plots '
  'are written by `bench/peers/report.py` from that one run. Every ratio below compares figures '
  'taken in the same run, on the same broker, with the same load generator.')
w('')
w('The job, the same for every peer: subscribe `in/+` (K topics), parse each ~100-byte JSON payload '
  '(a sequence number, a send timestamp, a few fields), keep it as the state of entity `<k>`, publish '
  'the state on an output topic; the load generator (`bench/hosting/loadgen.c`) receives what comes '
  'out and matches it to what it sent.')
w('')
w('- **mqbridge**: the daemon with K MQTT sensors (`value_template: "{{ value_json | to_json }}"`), '
  'states on `out/sensor/k<k>/state`.')
w('- **Paho ref**: `bench/hosting/fwd_ref.c`, a forwarder written directly on Paho MQTTAsync '
  '(scan for `"seq"`, no JSON parse, TCP_NODELAY set): the practical limit of a Paho-based bridge.')
w('- **Python**: `bench/peers/py_bridge.py` on Debian\'s python3-paho-mqtt, shaped like Home '
  'Assistant\'s MQTT integration (asyncio loop driving paho\'s socket, `json.loads`, a state machine '
  'firing state_changed, a listener publishing `json.dumps` of the state).')
w('- **Node-RED**: `bench/peers/node-red/flows.json`, mqtt in → json → function (state by topic in '
  'context) → mqtt out; headless, pinned in `bench/peers/node-red/package.json`.')
w('- **broker only**: no bridge, the load generator subscribes to its own topics: the floor.')
w('')
w(f'Each peer is a fresh process per measurement: probed until it forwards, warmed up, then '
  f'measured at QoS 0 and 1, at full speed (in-flight window bounded) and at a fixed {RATE_LBL}; '
  f'{nreps} repetitions, medians. **CPU** is the bridge process\'s utime+stime (all threads) during '
  'the measured load only, per 1,000 delivered messages; **peak RSS** is its VmHWM. Latency is '
  'send → receive at the load generator, in µs.')
w('')
w('## Results')
w('')
w('| peer | QoS | load | msg/s | CPU-s / 1,000 msgs | msgs / CPU-s | p50 µs | p99 µs | p99.9 µs | max µs '
  '| lost / dup (all runs) | peak RSS MiB |')
w('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|')
for q in ('0', '1'):
    for mode, lbl in MODES:
        for p in peers:
            why = skip_reason(p, q)
            if why is not None and not g.get((p, q, mode)):
                w(f'| {SHORT[p]} | {q} | {lbl} | *skipped: {why.replace("|", "/")}* |||||||||')
                continue
            if not g.get((p, q, mode)):
                continue
            c = med(p, q, mode, cpu_k)
            lost, dup, n = sums(p, q, mode)
            rss = peak_rss_kb(p, q)
            cpu_cells = ('—', '—') if p == 'broker' else (fmt(c, 4), fmt(1e3 / c if c else None))
            rate_got = med(p, q, mode, num("msgps"))
            behind = ' (fell behind)' if mode == 'rate' and rate_got is not None and rate_got < 0.95 * a.rate else ''
            w(f'| {SHORT[p]} | {q} | {lbl} | {fmt(rate_got)}{behind} | {cpu_cells[0]} | '
              f'{cpu_cells[1]} | {fmt(med(p, q, mode, num("p50_us")))} | '
              f'{fmt(med(p, q, mode, num("p99_us")))} | {fmt(med(p, q, mode, num("p999_us")))} | '
              f'{fmt(med(p, q, mode, num("max_us")))} | {lost} / {dup} | '
              f'{"—" if p == "broker" or rss is None else fmt(rss / 1024, 1)} |')
w('')

# ---- targets ----------------------------------------------------------------
w('## Targets (issue 7), ratios from this run')
w('')
w('| target | QoS | mqbridge | other | ratio | limit | met? |')
w('|---|---|---:|---:|---:|---:|---|')
verdicts = []


def target(name, q, a_val, b_val, limit, d=4):
    ratio = a_val / b_val if a_val is not None and b_val else None
    ok = None if ratio is None else ratio <= limit + 1e-9
    verdicts.append(ok)
    w(f'| {name} | {q} | {fmt(a_val, d)} | {fmt(b_val, d)} | {fmt(ratio, 2)} | ≤ {limit:g} | '
      f'{"?" if ok is None else ("met" if ok else "**missed**")} |')


for q in ('0', '1'):
    target(f'CPU per message at {RATE_LBL}, × Python', q, med('mqbridge', q, 'rate', cpu_k),
           med('python', q, 'rate', cpu_k), 0.5)
for q in ('0', '1'):
    target(f'CPU per message at {RATE_LBL}, × Node-RED', q, med('mqbridge', q, 'rate', cpu_k),
           med('node-red', q, 'rate', cpu_k), 0.4)
for q in ('0', '1'):
    target('CPU per message at full speed, × Python', q, med('mqbridge', q, 'full', cpu_k),
           med('python', q, 'full', cpu_k), 1.0)
for q in ('0', '1'):
    target(f'p99 latency at {RATE_LBL}, × Paho ref', q, med('mqbridge', q, 'rate', num('p99_us')),
           med('ref', q, 'rate', num('p99_us')), 1.5, 0)
for other, limit in (('node-red', 1 / 30), ('python', 0.5)):
    a_kb, b_kb = peak_rss_kb('mqbridge'), peak_rss_kb(other)
    ratio = a_kb / b_kb if a_kb and b_kb else None
    ok = None if ratio is None else ratio <= limit + 1e-9
    verdicts.append(ok)
    w(f'| peak RSS (MiB, all runs), × {SHORT[other]} | both | {fmt(a_kb and a_kb / 1024, 1)} | '
      f'{fmt(b_kb and b_kb / 1024, 1)} | {fmt(ratio, 3)} | ≤ {"1/30" if other == "node-red" else "1/2"} | '
      f'{"?" if ok is None else ("met" if ok else "**missed**")} |')
rs = [r for k, v in g.items() if k[0] == 'mqbridge' and k[1] == '1' for r in v]
if rs:
    lost = sum(int(r['lost']) for r in rs)
    dup = sum(int(r['dup']) for r in rs)
    ok = lost == 0
    verdicts.append(ok)
    w(f'| no loss at QoS 1 (lost / dup, all {len(rs)} runs) | 1 | {lost} / {dup} | — | — | 0 lost | '
      f'{"met" if ok else "**missed**"} |')
else:
    verdicts.append(None)
    w('| no loss at QoS 1 | 1 | — | — | — | 0 lost | ? |')
w('')
n_met = sum(1 for v in verdicts if v)
n_missed = sum(1 for v in verdicts if v is False)
n_unknown = sum(1 for v in verdicts if v is None)
w(f'{n_met} met, {n_missed} missed, {n_unknown} not measured (a peer missing from the run).')
w('')

# ---- plots ------------------------------------------------------------------
os.makedirs(a.plots, exist_ok=True)
plot_peers = [p for p in peers if p != 'broker']
conds = [(q, mode, f'QoS {q}, {lbl}') for q in ('0', '1') for mode, lbl in MODES]
tput = os.path.join(a.out, 'tput.dat')
with open(tput, 'w') as f:
    f.write('cond ' + ' '.join(f'"{SHORT[p]}"' for p in plot_peers) + '\n')
    for q, mode, lbl in conds:
        vals = []
        for p in plot_peers:
            c = med(p, q, mode, cpu_k)
            vals.append(f'{1e3 / c:.0f}' if c else '?')
        f.write(f'"{lbl}" ' + ' '.join(vals) + '\n')
lat = {}
for q in ('0', '1'):
    lat[q] = os.path.join(a.out, f'lat.q{q}.dat')
    with open(lat[q], 'w') as f:
        f.write('peer p50 p99 p99.9 max\n')
        for p in peers:
            if not g.get((p, q, 'rate')):
                continue
            vals = [med(p, q, 'rate', num(x)) for x in ('p50_us', 'p99_us', 'p999_us', 'max_us')]
            f.write(f'"{SHORT[p]}" ' + ' '.join(f'{max(v, 1):.0f}' for v in vals) + '\n')
gp = os.path.join(a.out, 'plots.gp')
tput_png = os.path.join(a.plots, 'throughput-per-cpu.png')
lat_png = os.path.join(a.plots, 'latency.png')
ncol = len(plot_peers)
with open(gp, 'w') as f:
    f.write(f'''set terminal pngcairo size 1000,520 font "DejaVu Sans,10"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right
set grid ytics
set yrange [0:*]
set output "{tput_png}"
set title "Messages per CPU-second of the bridge process (higher is better), {date}"
set ylabel "messages / CPU-second"
plot for [i=2:{ncol + 1}] "{tput}" using i:xtic(1) title columnheader(i)
set output "{lat_png}"
set terminal pngcairo size 1250,500 font "DejaVu Sans,10"
set multiplot layout 1,2 title "Latency at {RATE_LBL}, send to receive (lower is better), {date}"
set logscale y
set yrange [10:*]
set ylabel "µs (log scale)"
set key top left
set title "QoS 0"
plot for [i=2:5] "{lat['0']}" using i:xtic(1) title columnheader(i)
set title "QoS 1"
plot for [i=2:5] "{lat['1']}" using i:xtic(1) title columnheader(i)
unset multiplot
''')
plots_ok = False
if shutil.which('gnuplot'):
    r = subprocess.run(['gnuplot', gp], capture_output=True, text=True)
    plots_ok = r.returncode == 0
    if not plots_ok:
        print('report.py: gnuplot failed:\n' + r.stderr, file=sys.stderr)
else:
    print('report.py: no gnuplot: plots not made', file=sys.stderr)
rel = os.path.relpath(a.plots, os.path.dirname(os.path.abspath(a.results)))
w('## Plots')
w('')
if plots_ok:
    w(f'![messages per CPU-second]({rel}/throughput-per-cpu.png)')
    w('')
    w(f'![latency percentiles at {RATE_LBL}]({rel}/latency.png)')
else:
    w('*(gnuplot was not available or failed: no plots this run)*')
w('')
if skipped:
    w('## Skipped')
    w('')
    for s in skipped:
        w(f'- {SHORT.get(s["peer"], s["peer"])}, QoS {s["qos"]}: {s["reason"]}')
    w('')
notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'notes.md')
if os.path.exists(notes):
    w(open(notes).read().rstrip('\n'))
    w('')
w('## Run')
w('')
for l in env:
    w(f'- {l}')
w('')
w('Reproduce: `autoreconf -fi && mkdir /tmp/b && cd /tmp/b && /path/to/configure CFLAGS=-O2 && '
  'make bench-peers` (about 6 minutes; as root it installs gnuplot, mosquitto, Node.js, '
  'python3-paho-mqtt and the pinned Node-RED when missing). `REPS`, `RATE`, `PEERS`, ... are '
  'read from the environment (`bench/peers/run.sh` lists them); the raw files of a run stay in '
  'the directory it names at the start.')
open(a.results, 'w').write('\n'.join(md) + '\n')
print('\n'.join(md))
