/*
 * dynload.h: a shared library loaded when a process first needs it, not
 * when pop3d is executed.
 *
 * Loading libssl, libcrypto and libpam costs every process that links
 * them milliseconds of CPU, more than the rest of a cached login
 * (measured: `pop3d --version` exec'd 500 times, user+sys, 6.2 ms each
 * linked with the three, 2.6 ms without); a connection without TLS, or
 * with the password file, needs not all of them.  So neither program
 * links them: tls.c loads libssl when TLS is configured and auth_pam.c
 * libpam for -a pam, both in the root parent at startup, and digest.c
 * libcrypto when a session first hashes much; all before chroot(2),
 * where the libraries can still be found.  The package depends on them
 * by name (debian/control).
 *
 *   struct dynload_sym     a name and the function pointer it is loaded into
 *   dynload(soname, syms, n)  loads the library (once per process; later
 *                          calls find it loaded) and every name of syms
 *                          into its pointer: NULL on success, else the
 *                          reason (dlerror's text), the pointers unset
 */
#ifndef POP3D_DYNLOAD_H
#define POP3D_DYNLOAD_H

#include <stddef.h>

struct dynload_sym {
	const char *name;
	void **fn;	/* (void **)&pointer: POSIX dlsym(3)'s rule */
};

/* In an X-macro list of a library's function names: a member that points
 * to a function of f's type, and the entry that loads it into
 * table.f. */
#define DYNLOAD_POINTER(f)	__typeof__(f) *f;
#define DYNLOAD_SYM(table, f)	{ #f, (void **)&table.f },

#define DYNLOAD_STR(x)	#x
#define DYNLOAD_XSTR(x)	DYNLOAD_STR(x)

const char *dynload(const char *soname, const struct dynload_sym *syms,
    size_t n);

#endif
