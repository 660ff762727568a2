#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Differential test of the template engine against the real Jinja2.

Every case in t/data/tpl/*.jsonl (one JSON object a line; '#' lines are
comments) is rendered twice: by Jinja2 in an environment set up like Home
Assistant's (the oracle) and by t/tpl_render (our engine). The outputs must
be equal byte for byte; a case Jinja2 fails to render must fail in ours too
(any error message).

Case fields:
  id          unique name (the file's group is its prefix)
  template    the template text
  value       the raw payload (string), or null/absent for undefined
  value_json  optional explicit value_json (else json.loads(value) when it parses)
  variables   optional extra top-level names
  expect      optional: the expected output, used instead of the oracle (cases
              that need what the oracle lacks); checked against Jinja2 too
              when Jinja2 can render the case
  error       optional true: the case is meant to fail (validated in --check)
  states      optional: entity states (needs a core; tpl_render skips these)

Home Assistant's own filters, tests and functions are not in Jinja2; the
oracle registers Python versions written from Home Assistant's template
documentation (float/int/round/bool with default, iif, is_number,
multiply/add, to_json/from_json, regex_*, as_timestamp, timestamp_*,
as_datetime, as_local, strptime, now/utcnow, today_at, timedelta, min/max,
and states()/is_state()/state_attr() with every entity unknown, which is
what tpl_render provides: it renders without a core).

usage: tpl-diff.py [--check] [--render PATH] [-v] [DATADIR|FILE ...]
  --check   validate the cases against Jinja2 alone (no tpl_render)
Exit status: 0 all passed, 1 a mismatch (or an invalid case), 2 usage.
The last line printed is "N passed, N failed".
"""

import argparse
import datetime as dt
import glob
import json
import math
import os
import re
import subprocess
import sys

import jinja2
import jinja2.sandbox

NOW_TS = 1700000000  # 2023-11-14T22:13:20Z; tpl_render's default --now
UTC = dt.timezone.utc
_SENTINEL = object()


class HATemplateError(Exception):
    pass


def _no_default(name, value):
    raise HATemplateError(
        f"Template error: {name} got invalid input '{value}' when rendering "
        "template but no default was specified")


# --- Home Assistant's filters and functions (from its documentation) ---

def ha_float(value, default=_SENTINEL):
    try:
        return float(value)
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("float", value)
        return default


def ha_int(value, default=_SENTINEL, base=10):
    # Jinja's int conversion (a string in base, else via float), but an
    # error instead of 0 when there is no default.
    try:
        if isinstance(value, str):
            return int(value, base)
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            if default is _SENTINEL:
                _no_default("int", value)
            return default


def ha_round(value, precision=0, method="common", default=_SENTINEL):
    # Rounds to precision decimals; an int when precision is 0.
    try:
        mult = float(10 ** precision)
        if method == "ceil":
            value = math.ceil(float(value) * mult) / mult
        elif method == "floor":
            value = math.floor(float(value) * mult) / mult
        elif method == "half":
            value = round(float(value) * 2) / 2
        else:
            value = round(float(value), precision)
        return int(value) if precision == 0 else value
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("round", value)
        return default


def ha_bool(value, default=_SENTINEL):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        v = value.lower().strip()
        if v in ("1", "true", "yes", "on", "enable"):
            return True
        if v in ("0", "false", "no", "off", "disable"):
            return False
    if default is _SENTINEL:
        _no_default("bool", value)
    return default


def ha_iif(value, if_true=True, if_false=False, if_none=_SENTINEL):
    if value is None and if_none is not _SENTINEL:
        return if_none
    return if_true if value else if_false


def ha_is_number(value):
    try:
        f = float(value)
    except (ValueError, TypeError):
        return False
    return not (math.isinf(f) or math.isnan(f))


def ha_multiply(value, amount, default=_SENTINEL):
    try:
        return float(value) * amount
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("multiply", value)
        return default


def ha_add(value, amount, default=_SENTINEL):
    try:
        return float(value) + amount
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("add", value)
        return default


def ha_to_json(value, ensure_ascii=False, pretty_print=False, sort_keys=False):
    # Home Assistant: json.dumps when ensure_ascii (orjson cannot), else
    # orjson, whose output json.dumps gives with these separators.
    indent = 2 if pretty_print else None
    if ensure_ascii:
        return json.dumps(value, ensure_ascii=True, indent=indent, sort_keys=sort_keys)
    return json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sort_keys,
                      separators=(",", ": " if pretty_print else ":"))


def ha_from_json(value):
    return json.loads(value)


def _flags(ignorecase):
    return re.IGNORECASE if ignorecase else 0


def ha_regex_match(value, find="", ignorecase=False):
    if not isinstance(value, str):
        value = str(value)
    return bool(re.match(find, value, _flags(ignorecase)))


def ha_regex_search(value, find="", ignorecase=False):
    if not isinstance(value, str):
        value = str(value)
    return bool(re.search(find, value, _flags(ignorecase)))


def ha_regex_replace(value="", find="", replace="", ignorecase=False):
    if not isinstance(value, str):
        value = str(value)
    return re.sub(find, replace, value, flags=_flags(ignorecase))


def ha_regex_findall(value, find="", ignorecase=False):
    if not isinstance(value, str):
        value = str(value)
    return re.findall(find, value, _flags(ignorecase))


def ha_regex_findall_index(value, find="", index=0, ignorecase=False):
    return ha_regex_findall(value, find, ignorecase)[index]


def _parse_datetime(s):
    try:
        d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)  # local time is UTC here
    return d


def ha_as_timestamp(value, default=_SENTINEL):
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, str):
        d = _parse_datetime(value)
        if d is not None:
            return d.timestamp()
    if default is _SENTINEL:
        _no_default("as_timestamp", value)
    return default


def _from_ts(value):
    return dt.datetime.fromtimestamp(value, UTC)


def ha_timestamp_custom(value, format_string="%Y-%m-%d %H:%M:%S", local=True, default=_SENTINEL):
    try:
        return _from_ts(value).strftime(format_string)
    except (ValueError, TypeError, OverflowError, OSError):
        if default is _SENTINEL:
            _no_default("timestamp_custom", value)
        return default


def ha_timestamp_local(value, default=_SENTINEL):
    try:
        return _from_ts(value).isoformat()
    except (ValueError, TypeError, OverflowError, OSError):
        if default is _SENTINEL:
            _no_default("timestamp_local", value)
        return default


ha_timestamp_utc = ha_timestamp_local  # local time is UTC here


def ha_as_datetime(value, default=_SENTINEL):
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_ts(value)
    if isinstance(value, str):
        d = _parse_datetime(value)
        if d is not None:
            return d
    if default is _SENTINEL:
        _no_default("as_datetime", value)
    return default


def ha_as_local(value):
    return value.astimezone(UTC)


def ha_strptime(string, fmt, default=_SENTINEL):
    try:
        return dt.datetime.strptime(string, fmt)
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("strptime", string)
        return default


def ha_now():
    return _from_ts(NOW_TS)


def ha_today_at(time_str=""):
    t = dt.time.fromisoformat(time_str) if time_str else dt.time(0)
    return dt.datetime.combine(ha_now().date(), t, tzinfo=UTC)


def _min_max(name, fn):
    def f(*args):
        if not args:
            raise HATemplateError(f"{name} expected at least 1 argument, got 0")
        if len(args) == 1:
            return fn(args[0])
        return fn(args)
    return f


# Without a core every entity is unknown: that is what tpl_render gives.
def ha_states(entity_id, rounded=False, with_unit=False):
    return "unknown"


def ha_is_state(entity_id, state):
    return False


def ha_state_attr(entity_id, name):
    return None


def make_env():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        extensions=["jinja2.ext.loopcontrols"])
    assert env.autoescape is False and not env.keep_trailing_newline
    f, g, t = env.filters, env.globals, env.tests
    f["float"] = ha_float
    f["int"] = ha_int
    f["round"] = ha_round
    f["bool"] = ha_bool
    f["iif"] = ha_iif
    f["is_number"] = ha_is_number
    f["multiply"] = ha_multiply
    f["add"] = ha_add
    f["to_json"] = ha_to_json
    f["from_json"] = ha_from_json
    f["regex_match"] = ha_regex_match
    f["regex_search"] = ha_regex_search
    f["regex_replace"] = ha_regex_replace
    f["regex_findall"] = ha_regex_findall
    f["regex_findall_index"] = ha_regex_findall_index
    f["as_timestamp"] = ha_as_timestamp
    f["timestamp_custom"] = ha_timestamp_custom
    f["timestamp_local"] = ha_timestamp_local
    f["timestamp_utc"] = ha_timestamp_utc
    f["as_datetime"] = ha_as_datetime
    f["as_local"] = ha_as_local
    f["states"] = ha_states
    f["state_attr"] = ha_state_attr
    f["is_state"] = ha_is_state
    g["float"] = ha_float
    g["int"] = ha_int
    g["bool"] = ha_bool
    g["iif"] = ha_iif
    g["is_number"] = ha_is_number
    g["as_timestamp"] = ha_as_timestamp
    g["as_datetime"] = ha_as_datetime
    g["as_local"] = ha_as_local
    g["strptime"] = ha_strptime
    g["timedelta"] = dt.timedelta
    g["now"] = ha_now
    g["utcnow"] = ha_now
    g["today_at"] = ha_today_at
    g["min"] = _min_max("min", min)
    g["max"] = _min_max("max", max)
    g["states"] = ha_states
    g["is_state"] = ha_is_state
    g["state_attr"] = ha_state_attr
    g["regex_match"] = ha_regex_match
    g["regex_search"] = ha_regex_search
    t["is_number"] = ha_is_number
    t["match"] = ha_regex_match
    t["search"] = ha_regex_search
    return env


def context_of(case):
    ctx = dict(case.get("variables") or {})
    value = case.get("value")
    if value is not None:
        ctx["value"] = value
    if "value_json" in case:
        ctx["value_json"] = case["value_json"]
    elif isinstance(value, str):
        try:
            ctx["value_json"] = json.loads(value)
        except ValueError:
            pass
    return ctx


def oracle(env, case):
    """(ok, text) from Jinja2: (True, output) or (False, error)."""
    try:
        tmpl = env.from_string(case["template"])
        return True, tmpl.render(context_of(case))
    except Exception as e:  # noqa: BLE001 - any failure is an expected error
        return False, f"{type(e).__name__}: {e}"


def load_cases(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(glob.glob(os.path.join(p, "*.jsonl")))
        else:
            files.append(p)
    cases, bad = [], []
    seen = set()
    for fn in files:
        with open(fn, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                s = line.strip()
                if not s or s.startswith("#"):
                    continue
                try:
                    c = json.loads(s)
                except ValueError as e:
                    bad.append(f"{fn}:{n}: not JSON: {e}")
                    continue
                if not isinstance(c, dict) or not isinstance(c.get("template"), str) \
                        or not isinstance(c.get("id"), str):
                    bad.append(f"{fn}:{n}: a case needs a string id and template")
                    continue
                if c["id"] in seen:
                    bad.append(f"{fn}:{n}: duplicate id {c['id']}")
                seen.add(c["id"])
                c["_file"] = os.path.basename(fn)
                cases.append(c)
    return files, cases, bad


def expected(env, case):
    """(ok, text, note): what our engine must produce."""
    if "expect" in case:
        return True, case["expect"], "explicit"
    if case.get("error") is True and "states" in case:
        return False, "(explicit error)", "explicit"
    ok, text = oracle(env, case)
    return ok, text, "jinja2"


def check_cases(env, cases):
    """The cases alone against Jinja2: each renders or fails as intended."""
    problems = []
    for c in cases:
        if "states" in c:
            if "expect" not in c and not c.get("error"):
                problems.append((c, "a states case needs an explicit expect or error"))
            continue
        ok, text = oracle(env, c)
        if c.get("error") and ok:
            problems.append((c, f"meant to fail but Jinja2 renders {text!r}"))
        elif not c.get("error") and not ok:
            problems.append((c, f"Jinja2 fails: {text}"))
        elif ok and "expect" in c and c["expect"] != text:
            problems.append((c, f"expect {c['expect']!r} but Jinja2 renders {text!r}"))
    return problems


def run_ours(render, files):
    p = subprocess.run([render] + files, stdout=subprocess.PIPE, check=False)
    if p.returncode != 0:
        print(f"tpl-diff: {render} exited with status {p.returncode}", file=sys.stderr)
    res = {}
    for line in p.stdout.decode("utf-8", "surrogateescape").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            print(f"tpl-diff: bad line from tpl_render: {line[:200]!r}", file=sys.stderr)
            continue
        res[r.get("id")] = r
    return res


def show(s):
    return json.dumps(s, ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--render", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--known", default=None,
                    help="file of case ids known to differ (one per line, then the reason); "
                         "default data/tpl/known-failures.txt beside this script")
    ap.add_argument("paths", nargs="*")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    paths = a.paths or [os.path.join(here, "data", "tpl")]
    files, cases, bad = load_cases(paths)
    for b in bad:
        print(f"INVALID {b}")
    env = make_env()
    os.environ["TZ"] = "UTC"

    if a.check:
        problems = check_cases(env, cases)
        for c, why in problems:
            print(f"CASE {c['id']} ({c['_file']}): {why}\n  template: {show(c['template'])}")
        nfail = len(problems) + len(bad)
        print(f"{len(cases) - len(problems)} passed, {nfail} failed")
        return 1 if nfail else 0

    render = a.render or os.path.join(here, "tpl_render")
    if not os.access(render, os.X_OK):
        print(f"tpl-diff: no tpl_render at {render}", file=sys.stderr)
        return 2
    ours = run_ours(render, files)
    # Known differences keep the suite green while the engine catches up;
    # both ways strict: a new mismatch fails, and so does a listed case that
    # now passes (take it off the list).
    known_path = a.known or os.path.join(here, "data", "tpl", "known-failures.txt")
    known = {}
    if os.path.exists(known_path):
        with open(known_path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    cid, _, why = line.partition(" ")
                    known[cid] = why.strip()
    passed = failed = skipped = 0
    nknown = 0
    cats = {}
    for c in cases:
        cid = c["id"]
        r = ours.get(cid)
        want_ok, want, src = expected(env, c)
        if r is None:
            why, got = "missing", "(no result from tpl_render)"
        elif "skip" in r:
            skipped += 1
            if a.verbose:
                print(f"skip {cid}: {r['skip']}")
            continue
        elif r.get("crash"):
            why, got = "crash", r.get("error", "")
        elif (want_ok and r.get("ok") and r.get("out") == want) or (not want_ok and not r.get("ok")):
            if cid in known:
                failed += 1
                cats["listed as known but passes"] = cats.get("listed as known but passes", 0) + 1
                print(f"FIXED {cid}: passes now; remove it from {known_path}")
            else:
                passed += 1
            continue
        elif want_ok and r.get("ok"):
            why, got = "output differs", show(r.get("out"))
        elif want_ok:
            why, got = "ours fails", f"error: {r.get('error')}"
        else:
            why, got = "ours renders, Jinja2 fails", show(r.get("out"))
        if cid in known:
            nknown += 1
            if a.verbose:
                print(f"known {cid}: {known[cid]}")
            continue
        failed += 1
        cats[why] = cats.get(why, 0) + 1
        print(f"FAIL {cid} [{why}]\n  template: {show(c['template'])}"
              + (f"\n  value:    {show(c.get('value'))}" if c.get("value") is not None else "")
              + f"\n  {src + ':':9} {show(want) if want_ok else 'error: ' + want}"
              + f"\n  ours:     {got}")
    failed += len(bad)
    if cats:
        print("mismatches by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())))
    if skipped:
        print(f"{skipped} skipped (need a core)")
    if nknown:
        print(f"{nknown} known differences not counted ({known_path})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
