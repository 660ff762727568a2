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
  now         optional: Unix time now() gives (default 1700000000)
  ha_test     optional: the Home Assistant test the case transcribes (its
              expect stands where the oracle lacks the function)
  jinja_differs optional: why plain Jinja2 renders another text (not checked)

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
import base64
import collections.abc
import datetime as dt
import glob
import hashlib
import json
import math
import os
import random
import re
import statistics
import struct
import subprocess
import sys
import urllib.parse

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


def ha_from_json(value, default=_SENTINEL):
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("from_json", value)
        return default


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
    # Home Assistant's parse_datetime: fromisoformat, else its regex; a
    # string without an offset gives a naive datetime
    try:
        return dt.datetime.fromisoformat(s)
    except ValueError:
        pass
    m = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})"
                 r"(?::(\d{1,2})(?:\.(\d{1,6})\d{0,6})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$", s)
    if not m:
        return None
    y, mo, d, h, mi, sec, us, tz = m.groups()
    tzinfo = None
    if tz == "Z":
        tzinfo = UTC
    elif tz:
        off = dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[-2:]) if len(tz) > 3 else 0)
        tzinfo = dt.timezone(-off if tz[0] == "-" else off)
    try:
        return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec or 0),
                           int((us or "0").ljust(6, "0")), tzinfo=tzinfo)
    except ValueError:
        return None


def ha_as_timestamp(value, default=_SENTINEL):
    if isinstance(value, dt.datetime):
        return value.timestamp()
    d = _parse_datetime(str(value))
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
    if type(value) is dt.datetime:
        return value
    if type(value) is dt.date:
        return dt.datetime.combine(value, dt.time(0, 0, 0))
    try:
        return _from_ts(float(value))
    except (ValueError, TypeError):
        d = _parse_datetime(value) if isinstance(value, str) else None
        if d is not None:
            return d
        if default is _SENTINEL:
            if isinstance(value, str):
                return None
            _no_default("as_datetime", value)
        return default


def ha_as_local(value):
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def ha_strptime(string, fmt, default=_SENTINEL):
    try:
        return dt.datetime.strptime(string, fmt)
    except (ValueError, AttributeError, TypeError):
        if default is _SENTINEL:
            _no_default("strptime", string)
        return default


def ha_now():
    return _from_ts(_now[0])


_now = [NOW_TS]  # the case's "now", else tpl_render's default


def ha_today_at(time_str=""):
    t = dt.time.fromisoformat(time_str) if time_str else dt.time(0)
    return dt.datetime.combine(ha_now().date(), t, tzinfo=UTC)


def _min_max(name, env):
    # Home Assistant's min() and max(): Jinja's filters, of one iterable or
    # of the arguments, with their keyword arguments
    def f(*args, **kwargs):
        if not args:
            raise HATemplateError(f"{name} expected at least 1 argument, got 0")
        if len(args) == 1:
            if not isinstance(args[0], collections.abc.Iterable):
                raise HATemplateError(f"'{type(args[0]).__name__}' object is not iterable")
            return env.filters[name](env, args[0], **kwargs)
        return env.filters[name](env, args, **kwargs)
    return f


# --- Home Assistant's math and statistics (its MathExtension) ---

def _unary(name, fn):
    def f(value, default=_SENTINEL):
        try:
            return fn(float(value))
        except (ValueError, TypeError):
            if default is _SENTINEL:
                _no_default(name, value)
            return default
    return f


def ha_log(value, base=math.e, default=_SENTINEL):
    try:
        base = float(base)
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("log", base)
        return default
    try:
        return math.log(float(value), base)
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("log", value)
        return default


def ha_atan2(*args, default=_SENTINEL):
    try:
        if 1 <= len(args) <= 2 and isinstance(args[0], (list, tuple)):
            if len(args) == 2 and default is _SENTINEL:
                default = args[1]
            args = tuple(args[0])
        elif len(args) == 3 and default is _SENTINEL:
            default = args[2]
        return math.atan2(float(args[0]), float(args[1]))
    except (ValueError, TypeError):
        if default is _SENTINEL:
            _no_default("atan2", args)
        return default


def _stats(name, fn, mode=False):
    def f(*args, default=_SENTINEL):
        if not args:
            raise TypeError(f"{name} expected at least 1 argument, got 0")
        iterable = isinstance(args[0], collections.abc.Iterable)
        if mode and len(args) > 1 and not isinstance(args[0], (list, tuple)):
            iterable = False
        if iterable:
            values = args[0]
            if len(args) > 1 and default is _SENTINEL:
                default = args[1]
        elif len(args) == 1:
            raise TypeError(f"'{type(args[0]).__name__}' object is not iterable")
        else:
            values = args
        try:
            return fn(values)
        except (TypeError, statistics.StatisticsError):
            if default is _SENTINEL:
                _no_default(name, args)
            return default
    return f


def _numbers(*values):
    try:
        return [float(v) for v in values]
    except (ValueError, TypeError) as err:
        raise ValueError(f"function requires numeric arguments, got {values!r}") from err


def ha_clamp(value, lo, hi):
    value, lo, hi = _numbers(value, lo, hi)
    return max(lo, min(hi, value))


def ha_wrap(value, lo, hi):
    value, lo, hi = _numbers(value, lo, hi)
    try:
        return ((value - lo) % (hi - lo)) + lo
    except ZeroDivisionError:
        return lo


def ha_remap(value, in_min, in_max, out_min, out_max, *, steps=0, edges="none"):
    value, in_min, in_max, out_min, out_max = _numbers(value, in_min, in_max, out_min, out_max)
    if edges == "clamp":
        value = max(in_min, min(in_max, value))
    elif edges in ("wrap", "mirror"):
        if in_min == in_max:
            raise ValueError("in_min must not equal in_max")
        size = in_max - in_min
        if edges == "wrap":
            value = ((value - in_min) % size) + in_min
        else:
            offset = value - in_min
            period = math.floor(offset / size)
            pos = offset - period * size
            if period < 0 or period % 2 != 0:
                pos = size - pos
            value = in_min + pos
    steps = max(steps, 0)
    if not steps and in_min == out_min and in_max == out_max:
        return value
    norm = (value - in_min) / (in_max - in_min)
    if steps:
        norm = round(norm * steps) / steps
    return out_min + norm * (out_max - out_min)


# --- collections, functional, text (its Collection-, Functional- and
# StringExtension, written from their behaviour) ---

def _listlike(name, value):
    if not isinstance(value, collections.abc.Iterable) or isinstance(value, str):
        raise TypeError(f"{name} expected a list, got {type(value).__name__}")
    return value


def ha_flatten(value, levels=None):
    _listlike("flatten", value)
    out = []
    for item in value:
        if isinstance(item, collections.abc.Iterable) and not isinstance(item, str):
            if levels is None:
                out.extend(ha_flatten(item))
            elif levels >= 1:
                out.extend(ha_flatten(item, levels=levels - 1))
            else:
                out.append(item)
        else:
            out.append(item)
    return out


def _setop(name, op):
    def f(value, other):
        return list(op(set(_listlike(name, value)), set(_listlike(name, other))))
    return f


def ha_shuffle(*args, seed=None):
    if not args:
        raise TypeError("shuffle expected at least 1 argument, got 0")
    if isinstance(args[0], collections.abc.Iterable) and not isinstance(args[0], str):
        items = list(args[0])
        if len(args) > 1 and seed is None:
            seed = args[1]
    elif len(args) == 1:
        raise TypeError(f"'{type(args[0]).__name__}' object is not iterable")
    else:
        items = list(args)
    (random.Random(seed) if seed else random).shuffle(items)
    return items


def ha_apply(value, fn, *args, **kwargs):
    return fn(value, *args, **kwargs)


def ha_as_function(macro):
    def wrapper(*args, **kwargs):
        result = None

        def returns(value):
            nonlocal result
            result = value
            return value
        macro(*args, **kwargs, returns=returns)
        return result
    return wrapper


def ha_combine(*args, recursive=False):
    if not args:
        raise TypeError("combine expected at least 1 argument, got 0")
    out = {}
    for arg in args:
        if not isinstance(arg, dict):
            raise TypeError(f"combine expected a dict, got {type(arg).__name__}")
        for k, v in arg.items():
            if recursive and isinstance(out.get(k), dict) and isinstance(v, dict):
                out[k] = ha_combine(out[k], v, recursive=True)
            else:
                out[k] = v
    return out


def ha_is_defined(value):
    if isinstance(value, jinja2.Undefined):
        value()
    return value


def ha_ordinal(value):
    suffixes = ["th", "st", "nd", "rd"] + ["th"] * 6
    last2 = int(str(value)[-2:]) % 100
    return str(value) + ("th" if last2 in range(11, 14) else suffixes[int(str(value)[-1]) % 10])


def ha_base64_decode(value, encoding="utf-8"):
    decoded = base64.b64decode(value)
    return decoded if encoding is None else decoded.decode(encoding)


def ha_pack(value, fmt):
    try:
        return struct.pack(fmt, value)
    except struct.error:
        return None


def ha_unpack(value, fmt, offset=0):
    try:
        return struct.unpack_from(fmt, value, offset)[0]
    except struct.error:
        return None


def _hash(fn):
    return lambda value: fn(value.encode()).hexdigest()


def _duration(value):
    # Home Assistant's parse_duration (Django's three forms)
    standard = re.match(
        r"^(?:(?P<days>-?\d+) (days?, )?)?(?P<sign>-?)((?:(?P<hours>\d+):)(?=\d+:\d+))?"
        r"(?:(?P<minutes>\d+):)?(?P<seconds>\d+)(?:[\.,](?P<microseconds>\d{1,6})\d{0,6})?$",
        value)
    iso = re.match(
        r"^(?P<sign>[-+]?)P(?:(?P<days>\d+([\.,]\d+)?)D)?(?:T(?:(?P<hours>\d+([\.,]\d+)?)H)?"
        r"(?:(?P<minutes>\d+([\.,]\d+)?)M)?(?:(?P<seconds>\d+([\.,]\d+)?)S)?)?$", value)
    pg = re.match(
        r"^(?:(?P<days>-?\d+) (days? ?))?(?:(?P<sign>[-+])?(?P<hours>\d+):(?P<minutes>\d\d):"
        r"(?P<seconds>\d\d)(?:\.(?P<microseconds>\d{1,6}))?)?$", value)
    match = standard or iso or pg
    if not match:
        return None
    kws = {k: v for k, v in match.groupdict().items()
           if k in ("days", "sign", "hours", "minutes", "seconds", "microseconds")}
    sign = -1 if kws.pop("sign", "+") == "-" else 1
    if kws.get("microseconds"):
        kws["microseconds"] = kws["microseconds"].ljust(6, "0")
    args = {k: float(v.replace(",", ".")) for k, v in kws.items() if v is not None}
    days = dt.timedelta(float(args.pop("days", 0.0) or 0.0))
    if match is iso:
        days *= sign
    return days + sign * dt.timedelta(**args)


def _timestring(diff, precision):
    def formatn(number, unit):
        return f"1 {unit} " if number == 1 else f"{number:d} {unit}s "
    if diff == 0:
        return "0 seconds"
    units = ("year", "month", "day", "hour", "minute", "second")
    factors = (365 * 86400, 30 * 86400, 86400, 3600, 60, 1)
    out, cur = "", 0
    for unit, factor in zip(units, factors):
        if diff < factor:
            continue
        cur += 1
        if cur == precision:
            return (out + formatn(round(diff / factor), unit)).rstrip()
        n = int(diff // factor)
        out += formatn(n, unit)
        diff -= n * factor
    return out.rstrip()


def _relative(since):
    def f(value, precision=1):
        if not isinstance(value, dt.datetime):
            return value
        if not value.tzinfo:
            value = value.replace(tzinfo=UTC)
        now = ha_now()
        if (now < value) if since else (now > value):
            return value
        return _timestring(round(((now - value) if since else (value - now)).total_seconds()),
                           precision)
    return f


def ha_relative_time(value):
    return _relative(True)(value)


# Without a core every entity is unknown: that is what tpl_render gives.
# Home Assistant looks the id up as a str: anything else fails.
def _entity(entity_id):
    if isinstance(entity_id, jinja2.Undefined):
        str(entity_id.lower)  # raises as Home Assistant's lookup does
    if not isinstance(entity_id, str):
        raise AttributeError(f"'{type(entity_id).__name__}' object has no attribute 'lower'")


def ha_states(entity_id, rounded=False, with_unit=False):
    _entity(entity_id)
    return "unknown"


def ha_is_state(entity_id, state):
    _entity(entity_id)
    return False


def ha_state_attr(entity_id, name):
    _entity(entity_id)
    return None


def ha_is_state_attr(entity_id, name, value):
    _entity(entity_id)
    return False


def ha_has_value(entity_id):
    _entity(entity_id)
    return False


def _registry(empty):
    def f(*args):
        return [] if empty else None
    return f


def make_env(includes=None):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])
    assert env.autoescape is False and not env.keep_trailing_newline
    if includes:
        env.loader = jinja2.FileSystemLoader(includes)
    f, g, t = env.filters, env.globals, env.tests

    def reg(name, fn, kinds):
        for k, d in (("f", f), ("g", g), ("t", t)):
            if k in kinds:
                d[name] = fn

    reg("float", ha_float, "fg")
    reg("int", ha_int, "fg")
    reg("round", ha_round, "f")
    reg("bool", ha_bool, "fg")
    reg("iif", ha_iif, "fg")
    reg("is_number", ha_is_number, "fgt")
    reg("multiply", ha_multiply, "f")
    reg("add", ha_add, "f")
    reg("to_json", ha_to_json, "f")
    reg("from_json", ha_from_json, "f")
    reg("regex_match", ha_regex_match, "fg")
    reg("regex_search", ha_regex_search, "fg")
    reg("regex_replace", ha_regex_replace, "f")
    reg("regex_findall", ha_regex_findall, "f")
    reg("regex_findall_index", ha_regex_findall_index, "f")
    t["match"] = ha_regex_match
    t["search"] = ha_regex_search
    reg("as_timestamp", ha_as_timestamp, "fg")
    reg("timestamp_custom", ha_timestamp_custom, "f")
    reg("timestamp_local", ha_timestamp_local, "f")
    reg("timestamp_utc", ha_timestamp_utc, "f")
    reg("as_datetime", ha_as_datetime, "fg")
    reg("as_local", ha_as_local, "fg")
    reg("as_timedelta", _duration, "fg")
    reg("strptime", ha_strptime, "g")
    reg("timedelta", dt.timedelta, "g")
    reg("now", ha_now, "g")
    reg("utcnow", ha_now, "g")
    reg("today_at", ha_today_at, "fg")
    reg("relative_time", ha_relative_time, "fg")
    reg("time_since", _relative(True), "fg")
    reg("time_until", _relative(False), "fg")
    t["datetime"] = lambda v: isinstance(v, dt.datetime)
    reg("min", _min_max("min", env), "g")
    reg("max", _min_max("max", env), "g")
    reg("states", ha_states, "fg")
    reg("is_state", ha_is_state, "gt")
    reg("state_attr", ha_state_attr, "fg")
    reg("is_state_attr", ha_is_state_attr, "gt")
    reg("has_value", ha_has_value, "fgt")
    # math
    g["e"], g["pi"], g["tau"] = math.e, math.pi, math.pi * 2
    for name, fn in (("sin", math.sin), ("cos", math.cos), ("tan", math.tan),
                     ("asin", math.asin), ("acos", math.acos), ("atan", math.atan),
                     ("sqrt", math.sqrt)):
        reg(name, _unary(name, fn), "fg")
    reg("log", ha_log, "fg")
    reg("atan2", ha_atan2, "fg")
    reg("average", _stats("average", statistics.fmean), "fg")
    reg("median", _stats("median", statistics.median), "fg")
    reg("statistical_mode", _stats("statistical_mode", statistics.mode, True), "fg")
    reg("bitwise_and", lambda a, b: a & b, "fg")
    reg("bitwise_or", lambda a, b: a | b, "fg")
    reg("bitwise_xor", lambda a, b: a ^ b, "fg")
    reg("clamp", ha_clamp, "fg")
    reg("wrap", ha_wrap, "fg")
    reg("remap", ha_remap, "fg")
    # collections and functions
    reg("flatten", ha_flatten, "fg")
    reg("shuffle", ha_shuffle, "fg")
    reg("intersect", _setop("intersect", lambda a, b: a & b), "fg")
    reg("difference", _setop("difference", lambda a, b: a - b), "fg")
    reg("union", _setop("union", lambda a, b: a | b), "fg")
    reg("symmetric_difference", _setop("symmetric_difference", lambda a, b: a ^ b), "fg")
    g["set"], g["tuple"] = set, tuple
    t["list"] = lambda v: isinstance(v, list)
    t["set"] = lambda v: isinstance(v, set)
    t["tuple"] = lambda v: isinstance(v, tuple)
    t["string_like"] = lambda v: isinstance(v, (str, bytes, bytearray))
    g["zip"] = zip
    reg("apply", ha_apply, "fgt")
    reg("as_function", ha_as_function, "fg")
    reg("combine", ha_combine, "fg")
    reg("typeof", lambda v: v.__class__.__name__, "fg")
    f["is_defined"] = ha_is_defined
    f["random"] = random.choice  # Home Assistant's: anew each render, empty fails
    f["ord"] = ord
    reg("contains", lambda a, b: b in a, "ft")
    # text and bytes
    f["ordinal"] = ha_ordinal
    g["urlencode"] = lambda v: urllib.parse.urlencode(v).encode("utf-8")
    f["base64_encode"] = lambda v: base64.b64encode(v.encode("utf-8") if isinstance(v, str)
                                                    else v).decode("utf-8")
    f["base64_decode"] = ha_base64_decode
    f["from_hex"] = bytes.fromhex
    reg("pack", ha_pack, "fg")
    reg("unpack", ha_unpack, "fg")
    for name in ("md5", "sha1", "sha256", "sha512"):
        reg(name, _hash(getattr(hashlib, name)), "fg")
    # the registries, empty
    for name in ("areas", "floors", "area_entities", "area_devices", "floor_areas",
                 "floor_entities", "labels", "label_areas", "label_devices", "label_entities",
                 "device_entities", "integration_entities", "aliases"):
        reg(name, _registry(True), "fg")
    for name in ("area_id", "area_name", "floor_id", "floor_name", "floor_icon", "label_id",
                 "label_name", "label_description", "device_id", "device_name",
                 "config_entry_id"):
        reg(name, _registry(False), "fg")
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
    _now[0] = case.get("now", NOW_TS)
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
        if "expect" in c and "ha_test" in c and not ok:
            continue  # a Home Assistant function the oracle lacks: its test says
        if c.get("error") and ok and "ha_test" not in c:
            problems.append((c, f"meant to fail but Jinja2 renders {text!r}"))
        elif not c.get("error") and not ok:
            problems.append((c, f"Jinja2 fails: {text}"))
        elif ok and "expect" in c and c["expect"] != text and "jinja_differs" not in c:
            problems.append((c, f"expect {c['expect']!r} but Jinja2 renders {text!r}"))
    return problems


def run_ours(render, files, includes):
    opts = ["--includes", includes] if includes else []
    p = subprocess.run([render] + opts + files, stdout=subprocess.PIPE, check=False)
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
    includes = os.path.join(os.path.dirname(files[0]) if files else here, "custom_templates")
    env = make_env(includes if os.path.isdir(includes) else None)
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
    ours = run_ours(render, files, includes if os.path.isdir(includes) else None)
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
