# pop3d: see README.  `make` builds ./pop3d; `make check` runs every test.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
HARDEN   = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
ALL_CFLAGS = -std=c17 -D_DEFAULT_SOURCE $(WARN) $(HARDEN) $(CFLAGS)
LDFLAGS  ?=
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS     = -lcrypt -lmd -lcrypto

SRCS = pop3d.c session.c mailbox.c auth.c io.c log.c sasl.c base64.c apop.c
OBJS = $(SRCS:.c=.o)
HDRS = $(wildcard *.h)

all: pop3d

pop3d: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LIBS)

%.o: %.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The same sources with AddressSanitizer and UndefinedBehaviorSanitizer, in a
# separate directory so that the two builds never mix objects.
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
build-san/pop3d: $(SRCS) $(HDRS)
	@mkdir -p build-san
	$(CC) -std=c17 -D_DEFAULT_SOURCE $(WARN) $(SAN_FLAGS) -o $@ $(SRCS) $(LIBS)

check: pop3d build-san/pop3d
	tests/run
	POP3D=$(CURDIR)/build-san/pop3d tests/run

check-sanitize: build-san/pop3d
	POP3D=$(CURDIR)/build-san/pop3d tests/run

demo: 
	./demo/run

clean:
	rm -rf pop3d *.o build-san tests/tmp

.PHONY: all check check-sanitize demo clean
