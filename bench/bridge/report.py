#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/bridge/report.py OUT: the Markdown report of bench/run-bridge.sh from
its raw files in OUT (raw.tsv, callgrind.tsv, env.txt, cg/): one table of
medians against issue 6's targets, then where each peer's instructions go.

Standard library only. The callgrind files are read directly (format version
1 with compressed names): self cost per function, and every call edge with
its inclusive cost. A function of ours is charged its own instructions plus
those of the library calls it makes (libc, jansson, libev's timers) but not
calls into Paho, which are summed apart, nor library calls that run our code
again (libc's start, the loop's callbacks, Paho's threads).
"""
import csv
import os
import re
import statistics as st
import sys

out = sys.argv[1]
OWN = ('mqbridge', 'mqtt', 'fwd_ref')  # objects holding our code: the daemon, its module; the reference


def rows(name):
    path = os.path.join(out, name)
    return list(csv.DictReader(open(path), delimiter='\t')) if os.path.exists(path) else []


raw = rows('raw.tsv')
cg = rows('callgrind.tsv')
env = open(os.path.join(out, 'env.txt')).read()


def ok_runs(peer, mode):
    return [r for r in raw if r['peer'] == peer and r['mode'] == mode and int(r['sent']) > 0]


def med(peer, mode, f):
    v = [f(r) for r in ok_runs(peer, mode)]
    return st.median(v) if v else None


def num(k):
    return lambda r: float(r[k])


def per_k(k):  # seconds of CPU per 1,000 messages delivered
    return lambda r: float(r[k]) * 1e3 / max(int(r['delivered']), 1)


def fmt(x, d=0):
    return '—' if x is None else f'{x:,.{d}f}'


def cg_per_msg(peer):
    """(marginal instructions per message, first dump's naive figure, deliveries in dump 2, its file)."""
    d = {r['load']: r for r in cg if r['peer'] == peer}
    if '1' not in d or '2' not in d:
        return None, None, None, None
    d1, i1 = int(d['1']['delivered'] or 0), int(d['1']['Ir'])
    d2, i2 = int(d['2']['delivered'] or 0), int(d['2']['Ir'])
    if d1 <= 0 or d2 <= d1:
        return None, None, None, None
    return (i2 - i1) / (d2 - d1), i1 / d1, d2, d['2']['file']


# ---- callgrind files -------------------------------------------------------------

def short_ob(o):
    return re.sub(r'\.so[.0-9]*$', '', os.path.basename(o or '?'))


def own(o):
    return short_ob(o) in OWN


def is_paho(o):
    return 'libpaho-mqtt' in (o or '')


def parse_cg(path):
    """Self Ir per (object, file, function); inclusive Ir per call edge
    (caller object, caller function, callee object, callee function)."""
    names = {'ob': {}, 'fl': {}, 'fn': {}}
    selfc, edges = {}, {}
    ob = fl = fn = cob = cfn = None
    in_call = False
    npos, total = 1, 0

    def name(kind, v):
        mm = re.match(r'\((\d+)\)(?: (.*))?$', v)
        if not mm:
            return v
        if mm.group(2) is not None:
            names[kind][mm.group(1)] = mm.group(2)
        return names[kind].get(mm.group(1), v)

    for line in open(path, errors='replace'):
        line = line.rstrip('\n')
        if not line or line[0] == '#':
            continue
        c = line[0]
        if c.isdigit() or c in '+-*':
            parts = line.split()
            cost = int(parts[npos]) if len(parts) > npos else 0
            if in_call:
                key = (ob, fn, cob if cob is not None else ob, cfn)
                edges[key] = edges.get(key, 0) + cost
                in_call, cob = False, None
            else:
                key = (ob, fl, fn)
                selfc[key] = selfc.get(key, 0) + cost
                total += cost
            continue
        k, _, v = line.partition('=')
        if k == 'ob':
            ob = name('ob', v)
        elif k == 'fl':
            fl = name('fl', v)
        elif k in ('fi', 'fe', 'cfi', 'cfl'):
            name('fl', v)  # inlined code is still its function's cost
        elif k == 'fn':
            fn, cob = name('fn', v), None
        elif k == 'cob':
            cob = name('ob', v)
        elif k == 'cfn':
            cfn = name('fn', v)
        elif k == 'calls':
            in_call = True
        elif line.startswith('positions:'):
            npos = len(line.split(':', 1)[1].split())
    return selfc, edges, total


def profile(label, d2, path):
    """(own instructions per message, Markdown lines)."""
    selfc, edges, total = parse_cg(path)
    excl, incl, files = {}, {}, {}
    for (o, f, fn), c in selfc.items():
        if own(o):
            excl[(o, fn)] = excl.get((o, fn), 0) + c
            files.setdefault((o, fn), f)
        incl[(o, fn)] = incl.get((o, fn), 0) + c
    calls = {}
    for (o, fn, co, cfn) in edges:
        calls.setdefault((o, fn), set()).add((co, cfn))
    reenter = {k for k, v in calls.items() if not own(k[0]) and any(own(co) for co, _ in v)}
    grew = True
    while grew:
        grew = False
        for k, v in calls.items():
            if k not in reenter and not own(k[0]) and v & reenter:
                reenter.add(k)
                grew = True
    into_paho = 0
    for (o, fn, co, cfn), c in edges.items():
        incl[(o, fn)] = incl.get((o, fn), 0) + c
        if not own(o) or own(co) or (co, cfn) in reenter:
            continue
        if is_paho(co):
            into_paho += c
        else:
            excl[(o, fn)] = excl.get((o, fn), 0) + c
    mine = sum(excl.values())

    def per(c):
        return f'{c / d2:,.0f}'

    md = ['', f'### Where the {label}\'s instructions go', '',
          f'`{os.path.basename(path)}`: {d2:,} messages, {per(total)} instructions per message, idle time '
          f'included. Its own code with the libc, jansson and libev calls it makes: **{per(mine)}**; its calls '
          f'into Paho (inclusive): **{per(into_paho)}**; the rest (Paho\'s own threads, the loop, start-up '
          f'code): {per(total - mine - into_paho)}.', '',
          '| own function | file | self + library calls, per msg | inclusive per msg |', '|---|---|---:|---:|']
    for (o, fn), c in sorted(excl.items(), key=lambda kv: -kv[1])[:18]:
        if c / d2 < 50:
            break
        f = re.sub(r'^.*/((?:src|platforms|bench)/)', r'\1', files.get((o, fn)) or '?')
        md.append(f'| `{fn}` | {f} | {per(c)} | {per(incl.get((o, fn), 0))} |')
    md += ['', '| function, by self cost | object | per msg | share |', '|---|---|---:|---:|']
    byfn = {}
    for (o, f, fn), c in selfc.items():
        byfn[(o, fn)] = byfn.get((o, fn), 0) + c
    for (o, fn), c in sorted(byfn.items(), key=lambda kv: -kv[1])[:15]:
        md.append(f'| `{fn}` | {short_ob(o)} | {per(c)} | {100 * c / total:.1f}% |')
    return mine / d2, md


profiles = {}
for peer, label in (('mqb', 'daemon'), ('ref', 'reference')):
    _, _, d2, path = cg_per_msg(peer)
    if path and os.path.exists(path):
        profiles[peer] = profile(label, d2, path)

# ---- the table --------------------------------------------------------------------

m = re.search(r' RATE=(\d+)', env)
ratelab = f'{int(m.group(1)):,} msg/s' if m else 'fixed rate'
m = re.search(r'CG_N=(\d+) CG_RATE=(\d+)', env)
cgload = f'{int(m.group(1)):,} + {2 * int(m.group(1)):,} msgs at {int(m.group(2)):,}/s' if m else ''

print('\n'.join('- ' + line for line in env.strip().split('\n')))
print()
print('| metric | load | mqbridge | reference | mqbridge ÷ ref | target | met? |')
print('|---|---|---:|---:|---:|---|---|')


def row(metric, load, a, b, d=0, target=None, ok=None, ratio=True):
    r = a / b if ratio and a is not None and b else None
    met = '—' if ok is None else ('met' if ok else '**missed**')
    print(f'| {metric} | {load} | {fmt(a, d)} | {fmt(b, d)} | {fmt(r, 2)} | {target or "—"} | {met} |')


a, b = med('mqb', 'full', num('msgps')), med('ref', 'full', num('msgps'))
row('msg/s', 'full speed', a, b, 0, '≥ 0.80× ref', None if a is None or not b else a / b >= 0.80)
a, b = med('mqb', 'rate', per_k('cpu_s')), med('ref', 'rate', per_k('cpu_s'))
row('CPU-seconds per 1,000 msgs', ratelab, a, b, 4, '≤ 1.30× ref', None if a is None or not b else a / b <= 1.30)
row('… of which system (kernel)', ratelab, med('mqb', 'rate', per_k('sys_s')), med('ref', 'rate', per_k('sys_s')), 4)
row('CPU-seconds per 1,000 msgs', 'full speed', med('mqb', 'full', per_k('cpu_s')), med('ref', 'full', per_k('cpu_s')), 4)
for mode, load in (('rate', ratelab), ('full', 'full speed')):
    pa, pb = med('mqb', mode, num('p50_us')), med('ref', mode, num('p50_us'))
    qa, qb = med('mqb', mode, num('p99_us')), med('ref', mode, num('p99_us'))
    print(f'| latency p50 / p99 µs | {load} | {fmt(pa)} / {fmt(qa)} | {fmt(pb)} / {fmt(qb)} | — | — | — |')
for mode, load in (('rate', ratelab), ('full', 'full speed')):
    s = {p: ' / '.join(str(sum(int(r[k]) for r in raw if r['peer'] == p and r['mode'] == mode))
                       for k in ('lost', 'dup', 'stale')) for p in ('mqb', 'ref')}
    print(f'| lost / dup / stale, all runs | {load} | {s["mqb"]} | {s["ref"]} | — | — | — |')
rss = lambda p: max((float(r['rss_kb']) / 1024 for r in raw if r['peer'] == p and r['mode'] == 'rate'), default=None)
row('peak RSS MiB', ratelab, rss('mqb'), rss('ref'), 1)
ia, na, _, _ = cg_per_msg('mqb')
ib, nb, _, _ = cg_per_msg('ref')
row('instructions/msg (callgrind)', cgload, ia, ib, 0)
add = ia - ib if ia is not None and ib is not None else None
print(f'| **what mqbridge adds on top of Paho** (mqbridge − ref) | {cgload} | {fmt(add)} | | | ≤ 25,000 | '
      f'{"—" if add is None else ("met" if add <= 25000 else "**missed**")} |')
mine = profiles.get('mqb', (None,))[0]
print(f'| stricter: mqbridge\'s instructions outside Paho | {cgload} | {fmt(mine)} | | | ≤ 25,000 | '
      f'{"—" if mine is None else ("met" if mine <= 25000 else "**missed**")} |')
print(f'| broker alone (no bridge), msg/s | full speed | {fmt(med("broker", "full", num("msgps")))} | | | | |')
print()
print(f'Medians of {len(ok_runs("mqb", "full"))} full-speed and {len(ok_runs("mqb", "rate"))} fixed-rate runs '
      'of each peer, each a fresh process. CPU: utime+stime of all its threads over the measured load only. '
      'Full speed: at most WINDOW messages sent and not yet back; the machine\'s cores are shared by broker, '
      'load generator and peer, so msg/s measures the machine as much as the peer. Instructions: user space, '
      'all threads, one run per peer, (second dump − first dump) / (their deliveries), so start-up and fixed '
      f'costs cancel (the first dump alone gives {fmt(na)} for mqbridge, {fmt(nb)} for the reference). '
      '**What mqbridge adds on top of Paho** = mqbridge\'s instructions per message minus the reference\'s. '
      'The reference is Paho MQTTAsync receiving each payload and publishing it again from the callback after '
      'a scan for "seq", so the difference is the template, the state, the publication of the rendered state '
      'and the loop around them — net of the difference between Paho\'s synchronous client (mqbridge) and '
      'its asynchronous one (the reference). The stricter row counts only what runs outside Paho in the '
      'daemon (see below).')
for peer in ('mqb', 'ref'):
    if peer in profiles:
        print('\n'.join(profiles[peer][1]))
