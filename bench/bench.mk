# The `bench` target.  Include this at the end of the top-level Makefile
# (`include bench/bench.mk`), so that it does not become the default goal.
# `make bench` runs the benchmark against ./pop3d (not part of `make check`);
# see bench/README.md.  Settings can be given in the environment or on the
# command line: make bench BENCH_SIZES=1000
BENCH_VARS = BENCH_SIZES BENCH_RUNS BENCH_LOGIN_RUNS BENCH_SERVERS BENCH_SCENARIOS BENCH_TIMEOUT \
	BENCH_WARMUP_MAX_N BENCH_SEED BENCH_WORK BENCH_TMP BENCH_RESULTS

bench: pop3d
	POP3D='$(or $(POP3D),$(CURDIR)/pop3d)' \
	$(foreach v,$(BENCH_VARS),$(v)='$($(v))') \
	bench/run

.PHONY: bench
