/*
 * dynload.c: see dynload.h.
 * Runs in: any process (library).
 */
#include "dynload.h"

#include <dlfcn.h>

const char *dynload(const char *soname, const struct dynload_sym *syms,
    size_t n)
{
	/* Global, and looked up in the process's global symbol table
	 * (dlopen(NULL)) rather than in the library: a library preloaded
	 * before it (LD_PRELOAD: pam_wrapper in the tests) still comes
	 * first, as when a program is linked with it. */
	void *h = dlopen(soname, RTLD_NOW | RTLD_GLOBAL);
	if (!h || !(h = dlopen(NULL, RTLD_NOW)))
		return dlerror();
	for (size_t i = 0; i < n; i++) {
		dlerror();
		*syms[i].fn = dlsym(h, syms[i].name);
		if (!*syms[i].fn) {
			const char *why = dlerror();
			for (size_t j = 0; j <= i; j++)
				*syms[j].fn = NULL;
			return why ? why : "a symbol is NULL";
		}
	}
	return NULL;
}
