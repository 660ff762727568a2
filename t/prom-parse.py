#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Scrapes URL and parses the page with Prometheus' own Python parser
# (python3-prometheus-client): a page it refuses fails (exit 1). Prints
# one line per sample, "name entity value" (entity "-" when unlabelled;
# labels other than entity, friendly_name and domain follow the entity as
# {key=value,...}),
# and one "type family kind" per family, for t/test_prometheus.c to read.
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    ctype = r.headers.get("Content-Type", "")
    text = r.read().decode("utf-8")
if not ctype.startswith("text/plain"):
    sys.exit("content type %r" % ctype)
names = set()
for fam in text_string_to_metric_families(text):
    if fam.name in names:
        sys.exit("family %s twice" % fam.name)
    names.add(fam.name)
    print("type", fam.name, fam.type)
    for s in fam.samples:
        extra = ",".join("%s=%s" % (k, v) for k, v in sorted(s.labels.items())
                         if k not in ("entity", "friendly_name", "domain"))
        print(s.name, s.labels.get("entity", "-") + ("{%s}" % extra if extra else ""),
              repr(float(s.value)))
