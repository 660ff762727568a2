# SPDX-License-Identifier: MIT
# automake fragment, included from Makefile.am: `make bench-automation`
# (part of `make bench`) runs bench/run-automation.sh, issue 13's
# automation benchmark against Node-RED, on the daemon and modules built
# here and the load generator of bench/peers. About 3 minutes; it installs
# the pinned Node-RED with npm when missing (bench/peers/node-red).
EXTRA_DIST += bench/run-automation.sh bench/automation/flows.json
bench-automation: mqbridge$(EXEEXT) platforms/mqtt.so platforms/automation.so \
		bench/peers/loadgen$(EXEEXT)
	$(top_srcdir)/bench/run-automation.sh $(abs_top_builddir)/mqbridge$(EXEEXT) \
		$(abs_top_builddir)/platforms $(abs_top_builddir)/bench/peers/loadgen$(EXEEXT)
bench: bench-automation
.PHONY: bench-automation
