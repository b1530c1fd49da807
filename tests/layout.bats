#!/usr/bin/env bats
# The source layout DESIGN ("Module graph") asks for, checked by
# tests/layout: a "Runs in:" line in every .c file, no include or call
# cycle between modules, no function name defined twice.  Violations not
# yet removed are listed in tests/layout.allow.

load helpers

SRC=$BATS_TEST_DIRNAME/..

@test "the sources break no layout rule beyond tests/layout.allow" {
	run "$SRC/tests/layout"
	assert_success
	refute_line --partial 'NEW: '
}

@test "tests/layout fails on each kind of violation planted in a copy" {
	T=$BATS_TEST_TMPDIR/src
	mkdir "$T"
	cp "$SRC"/*.c "$SRC"/*.h "$T"/
	# A file without its "Runs in:" line; two modules that include and call
	# each other; a static function whose name io.c defines too.
	printf '#ifndef ZZ_A\n#define ZZ_A\n#include "zz_b.h"\nint zz_a(int);\n#endif\n' >"$T/zz_a.h"
	printf '#ifndef ZZ_B\n#define ZZ_B\n#include "zz_a.h"\nint zz_b(int);\n#endif\n' >"$T/zz_b.h"
	printf '/*\n * zz_a.c: planted.\n */\n#include "zz_a.h"\nint zz_a(int n) { return n ? zz_b(n - 1) : 0; }\n' >"$T/zz_a.c"
	printf '/*\n * zz_b.c: planted.\n * Runs in: any process (library).\n */\n#include "zz_b.h"\nint zz_b(int n) { return n ? zz_a(n - 1) : 0; }\n' >"$T/zz_b.c"
	name=$(cd "$T" && cc -std=c17 -D_DEFAULT_SOURCE -O0 -w -c -o "$BATS_TEST_TMPDIR/io.o" io.c &&
		nm -P "$BATS_TEST_TMPDIR/io.o" | awk '$2 == "T" { print $1; exit }')
	[ -n "$name" ]
	printf 'static int %s(void) { return 0; }\nint zz_c(void) { return %s(); }\n' "$name" "$name" >>"$T/zz_b.c"
	run "$SRC/tests/layout" --src "$T"
	assert_failure
	assert_line 'NEW: runs-in zz_a.c'
	assert_line 'NEW: include-cycle zz_a zz_b'
	assert_line 'NEW: call-cycle zz_a zz_b'
	assert_line "NEW: duplicate $name io.c zz_b.c"
	# The same copy passes once the planted lines are allowed.
	{ cat "$SRC/tests/layout.allow"; echo 'runs-in zz_a.c'
	  echo 'include-cycle zz_a zz_b'; echo 'call-cycle zz_a zz_b'
	  echo "duplicate $name io.c zz_b.c"; } >"$BATS_TEST_TMPDIR/allow"
	run "$SRC/tests/layout" --src "$T" --allow "$BATS_TEST_TMPDIR/allow"
	assert_success
}
