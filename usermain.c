/*
 * usermain.c: main of pop3d-session, the user's session as its own
 * program (user.h, handover.h).  It links neither libssl nor libpam: a
 * connection pays for their loading once, in the root parent; nor
 * libcrypto, loaded only by a session that hashes much (digest.c).
 *
 * Runs in: the user's session.
 */
#include "user.h"

int main(void)
{
	return user_main();
}
