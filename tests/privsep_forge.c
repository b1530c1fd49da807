/*
 * privsep_forge.c: a compromised login process, for privsep.bats.  Built by
 * the test from pop3d's own privsep.c and the modules it calls, with this
 * file in place of login.c: the login process that privsep.c starts hands
 * the root parent a login record whose credentials are forged as argv[1]
 * says:
 *   apop          an APOP login, though APOP is off
 *   plaintext     a USER/PASS login, though plaintext logins are off
 *   method        a login method that does not exist
 *   user          a user name without its terminating NUL
 *   good          an honest USER/PASS login (the control)
 * argv[2] is the chroot.  It prints what privsep_next() made of the record:
 * "accepted" or "refused", and exits 0; a refused record must not leave
 * the parent waiting for the login process.
 */
#include "privsep.h"
#include "fdio.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *forge;

void login_attempt(struct login_record *r, bool handing_over)
{
	(void)handing_over;
	memset(r, 0, sizeof(*r));
	r->end = END_LOGIN;
	strcpy(r->tls_info, "no");
	struct credentials *c = &r->creds;
	strcpy(c->method, "USER");
	strcpy(c->user, "alice");
	strcpy(c->pass, "secret");
	if (strcmp(forge, "apop") == 0) {
		strcpy(c->method, "APOP");
		strcpy(c->pass, "c4c9334bac560ecc979e58001b3e22fb");
	} else if (strcmp(forge, "method") == 0)
		strcpy(c->method, "KERB");
	else if (strcmp(forge, "user") == 0)
		memset(c->user, 'a', sizeof(c->user));
}

void login_open(const struct login_config *cfg)
{
	(void)cfg;
}

/* One record up, then the verdict (or the end of the pipe) awaited. */
_Noreturn void login_run(const struct login_config *cfg,
    const struct passwd *pw, int rec_fd, int verdict_fd, int relay_fd)
{
	static struct login_record r;
	struct verdict v;
	(void)cfg;
	(void)pw;
	(void)relay_fd;
	login_attempt(&r, true);
	if (fdio_write_all(rec_fd, &r, sizeof(r)))
		io_fd_read(verdict_fd, &v, sizeof(v), NULL);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	forge = argv[1];
	log_open(1);
	struct login_config cfg = {
		.policy = { .plaintext_ok = strcmp(forge, "plaintext") != 0 },
		.tls = TLS_OFF,
		.greeting = "+OK forge\r\n",
		.timeout = 30,
		.login_timeout = 30,
		.login_user = "nobody",
		.login_chroot = argv[2],
	};
	if (!privsep_start(&cfg))
		return 2;
	struct credentials c;
	enum session_end e = privsep_next(&c);
	printf("%s\n", e == END_LOGIN ? "accepted" : "refused");
	return 0;
}
