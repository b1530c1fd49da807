# Included by the top-level Makefile.  `make bench` runs the benchmark
# (not part of `make check`).  Knobs: BENCH_SIZES, BENCH_RUNS, POP3D, ...
# see bench/README.md.
.PHONY: bench
bench: pop3d
	POP3D=$(CURDIR)/pop3d bench/run
