/*
 * params.h: every limit and default of pop3d in one place, each with the
 * reason for its value.  Nothing here is a secret; change with care.
 */
#ifndef POP3D_PARAMS_H
#define POP3D_PARAMS_H

/* RFC 1939 section 3: the autologout timer "MUST be of at least 10 minutes'
 * duration".  -t may set less (admins, tests); 600 s is the default. */
#define DEFAULT_TIMEOUT		600

/* Before login a client holds two processes (one of them root's) and,
 * under inetd or systemd, one of a limited number of slots, without having
 * proven anything.  --login-timeout bounds the whole AUTHORIZATION state,
 * from the start to a successful login, however the client paces its
 * bytes: an idle timer restarted by every byte would let one byte a minute
 * hold a slot forever.  180 s leaves a human typing a password at a
 * telnet prompt (or a client waiting on a keyring) ample time; Dovecot
 * closes pre-login connections after 3 minutes too.  Never longer than -t. */
#define DEFAULT_LOGIN_TIMEOUT	180

/* The root parent waits for the login process's record no longer than the
 * login deadline plus this many seconds (a login process that meets the
 * deadline says so within a second), then kills it. */
#define LOGIN_TIMEOUT_GRACE	2

/* RFC 2449 section 4: servers that offer CAPA "MUST support commands up to
 * 255 octets".  We accept 255 octets of command text before the CRLF; a
 * longer line is answered -ERR and discarded up to its end. */
#define MAX_COMMAND		255

/* RFC 1939 section 3: "Each argument may be up to 40 characters long". A user
 * name is one argument; we allow a little more for long virtual names. */
#define MAX_USER		64

/* Passwords may contain spaces; they are the rest of the PASS line. */
#define MAX_PASS		MAX_COMMAND

/* RFC 5034 section 4: an AUTH continuation line is not a command and the
 * 255-octet limit does not bind it.  SASL PLAIN needs base64 of two user
 * names and a password: 4 * (2 * 64 + 255 + 2) / 3 rounds up to 516; the
 * rest is slack for clients that send long authzids. */
#define MAX_SASL_LINE		1024

/* Consecutive bad commands before we give up on a client.  Before login a
 * client that keeps sending junk is not a mail client; after login the
 * foundation issue requires tolerating at least 50. */
#define MAX_ERRORS_AUTH		10
#define MAX_ERRORS_TRANS	100

/* Failed logins per connection, and the pause after each one: every login
 * method goes through the same throttle (like Dovecot's auth_failure_delay). */
#define MAX_LOGIN_FAILURES	3

/* The most octets a login record may say the login process has sent (a
 * sanity bound for the sent= log field: a session's sum cannot overflow). */
#define MAX_LOGIN_SENT		(1ULL << 48)
#define LOGIN_FAILURE_DELAY_MS	1000

/* I/O block sizes: reading the mbox in large sequential blocks and writing
 * replies in large writes keeps RETR close to the speed of a plain copy.
 * Replies leave when the output buffer is full or pop3d waits for the
 * client: into `cat > /dev/null`, whole-buffer writes of 256 KiB cost less
 * CPU than writes of 64 KiB as soon as that much was queued (RETR of every
 * message of 1 GiB: 0.64 s vs 0.69 s user+sys, medians of 11, 2-core VM). */
#define SCAN_BUFFER		(256 * 1024)
#define SEND_BUFFER		(128 * 1024)
#define OUTPUT_BUFFER		(256 * 1024)

/* The index cache (cache.h) in the state directory.  A cache is checked
 * against the mailbox's last CACHE_TAIL bytes and CACHE_SAMPLES message
 * starts (a few reads, whatever the size).  Up to CACHE_RENUMBER_MAX new
 * messages are numbered against the cached ones one by one (a pass over the
 * index each); more are numbered again with the whole index in a hash
 * table (one pass, 2 to 4 table slots of 4 bytes a message). */
#define CACHE_FILE		"mbox-index"
#define CACHE_TAIL		4096
#define CACHE_SAMPLES		16
#define CACHE_RENUMBER_MAX	4

/* A message index entry costs ~64 bytes; refuse mailboxes beyond these with
 * -ERR [SYS/PERM] rather than grow without bound (--max-messages and
 * --max-mailbox-size change them).  Messages are streamed, never held, so
 * the size limit only guards offsets, counters and the scan time; 4 Mi
 * messages cost 256 MiB of index at most. */
#define DEFAULT_MAX_MESSAGES		(4 * 1024 * 1024)
#define DEFAULT_MAX_MAILBOX_BYTES	((long long)64 << 30)
/* The most --max-messages accepts (64 GiB of index): also the bound on the
 * segments of an UPDATE journal. */
#define MAX_MESSAGES_LIMIT		(1L << 30)

/* The crypt(3) hash the file backend checks unknown users against, so that a
 * failure costs the same whether the user exists or not (yescrypt, the
 * Debian default; it only needs to be a valid setting). */
#define DUMMY_HASH \
	"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7"

/* Lines of the password file longer than this are refused, not truncated. */
#define MAX_PASSWD_LINE		1024

/* The delivery lock (lock.c): MDAs hold it for the length of one delivery,
 * so waiting up to 5 s (polling every 100 ms) rides out a busy spool; then
 * the client gets -ERR [SYS/TEMP] and nothing is touched.  liblockfile
 * calls a dotlock stale after 5 minutes unless touched: we touch it every
 * minute while a long UPDATE holds it. */
#define LOCK_WAIT_MS		5000
#define LOCK_RETRY_MS		100
#define LOCK_TOUCH_S		60

/* UPDATE (update.c): copy block size, and how much of the old tail's start
 * and end the journal fingerprints (tells a truncated tail from one still
 * there, without reading a deleted gigabyte). */
/* 512 KiB: a message that fits is backed up by one write (whole after a
 * crash); the buffer is most of what an UPDATE adds to the peak RSS. */
#define UPDATE_BUFFER		(512 * 1024)
#define TAIL_SAMPLE		(64 * 1024)
/* The backup's digest covers BACKUP_SAMPLE bytes every BACKUP_STRIDE and its
 * last BACKUP_SAMPLE: hashing all of a 500 MB backup would cost 0.3 s of
 * CPU, and the fsync before the journal says COPY is what guarantees it is
 * whole; the digest only tells it from other bytes (update.c). */
#define BACKUP_SAMPLE		4096
#define BACKUP_STRIDE		(1024 * 1024)
/* UPDATE's writes are started on their way to the disk in chunks of this
 * many bytes (update.c: stream()). */
#define STREAM_CHUNK		(1024 * 1024)

/* The per-user state directory (state.c): session lock, UPDATE journal,
 * index cache.  Under the home directory by default.  When that does not
 * exist and cannot be made: started as root, DEFAULT_STATE_BASE/USER (the
 * base root's, the directory made by root for the user: nobody else can
 * take its name, unlike a name beside the mailbox in a sticky spool);
 * started as an ordinary user, beside the mailbox if its directory is
 * writable. */
#define DEFAULT_STATE_DIR	"%h/.pop3d"
#define DEFAULT_STATE_BASE	"/var/lib/pop3d"
#define FALLBACK_STATE_DIR	"%d/.pop3d-%u"

/* TLS: a handshake is a round trip or two; a client that has not finished
 * one in this many seconds is not going to. */
#define TLS_HANDSHAKE_TIMEOUT	60

/* The relay between a TLS session and the user's process moves at most a
 * TLS record (16 KiB of plaintext) at a time each way. */
#define TLS_RELAY_BUFFER	(16 * 1024)

/* The relay gives up on a client that reads nothing for the idle timeout
 * plus this many seconds: the user's process times out first and says so. */
#define RELAY_GRACE		10

/* Privilege separation before login (see privsep.h): the pre-login process
 * runs as this account, chrooted to this empty directory (made, mode 0755,
 * when missing). */
#define DEFAULT_LOGIN_USER	"nobody"
#define DEFAULT_LOGIN_CHROOT	"/run/pop3d/empty"

#define DEFAULT_MAILBOX		"/var/mail/%u"

/* The PROXY protocol (proxy.c; HAProxy's doc/proxy-protocol.txt).  A version 1
 * line is 107 bytes at most, CRLF included (the spec's worst case); the
 * shortest valid header of either version is 15 bytes ("PROXY UNKNOWN\r\n"),
 * so that many can always be read at once.  Version 2's block after its 16
 * fixed bytes may be 65535 bytes long; the addresses take 216 at most (two
 * Unix socket paths) and the TLVs HAProxy sends (ALPN, authority, unique ID
 * of up to 128 bytes, the SSL sub-TLVs, CRC32C, netns) a few hundred: a
 * longer block is refused as too long.  The balancer sends the header at
 * once when it connects: one that is not complete within a few seconds is
 * not coming (the spec: "at least 3 seconds to cover a TCP retransmit"), so
 * the wait is the login timeout but never longer than PROXY_TIMEOUT. */
#define PROXY_V1_MAX		107
#define PROXY_MIN_HEADER	15
#define PROXY_V2_MAX_BLOCK	2048
#define PROXY_TIMEOUT		5
/* --proxy-trusted: networks in the list at most. */
#define PROXY_TRUSTED_MAX	32

/* The PAM service (-s): /etc/pam.d/pop3, the name Debian's other POP3
 * servers' PAM files use too, so an admin's existing file keeps working. */
#define DEFAULT_PAM_SERVICE	"pop3"

/* --min-uid: Debian's UID_MIN (login.defs).  Below it are system accounts
 * (daemon, mail, www-data...) that have no business reading mail over the
 * network; Dovecot's first_valid_uid is the same idea. */
#define DEFAULT_MIN_UID		1000

/* PAM_TTY: a service name, as vsftpd ("ftp") and Dovecot do, so that
 * pam_access/pam_time rules can tell POP3 logins from others. */
#define PAM_TTY_NAME		"pop3"

#define POP3D_VERSION		"0.1"

#endif
