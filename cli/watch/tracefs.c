/*
 * tracefs.c -- a tracepoint's id and field layout, read from tracefs at run
 * time: layouts change between kernels (tcp_send_reset gained `reason` in
 * 6.10 and changed its addresses to sockaddrs in 5.x), so nothing here is
 * compiled in but the field names.
 *
 * tracefs is usually mounted at /sys/kernel/tracing; when it is not, we
 * mount it on a private temporary directory only for as long as reading
 * the formats takes (perf_event_open() needs just the id afterwards), and
 * unmount it: nothing is left behind.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static const char *const tp_path[TP_COUNT] = {
    [TP_SET_STATE] = "sock/inet_sock_set_state",
    [TP_DESTROY] = "tcp/tcp_destroy_sock",
    [TP_RECV_RESET] = "tcp/tcp_receive_reset",
    [TP_SEND_RESET] = "tcp/tcp_send_reset",
    [TP_RETRANSMIT] = "tcp/tcp_retransmit_skb",
    [TP_ERROR_REPORT] = "sock/inet_sk_error_report",
};

const struct tp_field *tp_field(const struct tp_format *f, const char *name)
{
	for (int i = 0; i < f->nfields; i++)
		if (strcmp(f->f[i].name, name) == 0)
			return &f->f[i];
	return NULL;
}

/* "\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;" */
static void parse_field(struct tp_format *f, const char *line)
{
	const char *semi = strchr(line, ';');
	const char *off = strstr(line, "offset:");
	const char *sz = strstr(line, "size:");

	if (!semi || !off || !sz || f->nfields >= TP_MAX_FIELDS)
		return;
	const char *end = semi;
	const char *br = memchr(line, '[', (size_t)(semi - line));
	if (br)
		end = br;
	const char *start = end;
	while (start > line && start[-1] != ' ' && start[-1] != ':')
		start--;
	size_t n = (size_t)(end - start);
	if (n == 0 || n >= sizeof(f->f[0].name))
		return;
	struct tp_field *t = &f->f[f->nfields++];
	memcpy(t->name, start, n);
	t->name[n] = '\0';
	t->offset = atoi(off + 7);
	t->size = atoi(sz + 5);
}

/* From tcp_send_reset's print fmt: __print_symbolic(REC->reason, { 0,
 * "NOT_SPECIFIED" }, { 1, "NO_SOCKET" }, ...) */
static void parse_syms(struct tp_syms *s, const char *fmt)
{
	const char *p = strstr(fmt, "__print_symbolic(REC->reason");

	if (!p)
		return;
	while ((p = strchr(p, '{')) != NULL && s->n < TP_MAX_SYMS) {
		char name[32];
		int v;
		if (sscanf(p, "{ %d , \"%31[^\"]\" }", &v, name) != 2)
			break;
		s->value[s->n] = v;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
		s->n++;
		p++;
	}
}

static int load_one(const char *root, int ev, struct tp_format *f,
		    struct tp_syms *rst)
{
	char path[512], line[4096];

	f->id = -1;
	f->nfields = 0;
	snprintf(path, sizeof(path), "%s/events/%s/format", root, tp_path[ev]);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "ID:", 3) == 0)
			f->id = atoi(line + 3);
		else if (strstr(line, "field:"))
			parse_field(f, line);
		else if (strncmp(line, "print fmt:", 10) == 0 && rst)
			parse_syms(rst, line);
	}
	fclose(fp);
	static const char *const keys[TPF_COUNT] = {
	    "common_flags", "skaddr", "sock_cookie", "oldstate",
	    "newstate",     "state",  "reason",      "error",
	    "protocol",     "family", "sport",       "dport",
	    "saddr",        "daddr",  "saddr_v6",    "daddr_v6"};
	for (int k = 0; k < TPF_COUNT; k++)
		f->k[k] = tp_field(f, keys[k]);
	return f->id >= 0 ? 0 : -1;
}

static int load_all(const char *root, struct tp_format fmt[TP_COUNT],
		    struct tp_syms *rst, char *err, size_t len)
{
	for (int i = 0; i < TP_COUNT; i++) {
		int e = 0;
		if (load_one(root, i, &fmt[i], i == TP_SEND_RESET ? rst : NULL))
			e = errno;
		/* The core three are needed; the others refine the record. */
		if (fmt[i].id < 0 && (i == TP_SET_STATE || i == TP_DESTROY)) {
			snprintf(err, len, "tracepoint %s: %s", tp_path[i],
				 strerror(e ? e : ENOENT));
			return -1;
		}
	}
	return 0;
}

int tp_load(struct tp_format *fmt, struct tp_syms *rst, char *err, size_t len)
{
	static const char *const roots[] = {"/sys/kernel/tracing",
					    "/sys/kernel/debug/tracing"};
	char path[512];

	memset(rst, 0, sizeof(*rst));
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events", roots[i]);
		if (access(path, F_OK) == 0)
			return load_all(roots[i], fmt, rst, err, len);
	}
	char dir[] = "/tmp/hangup-tracefs.XXXXXX";
	if (!mkdtemp(dir)) {
		snprintf(err, len, "tracefs not mounted; mkdtemp: %s",
			 strerror(errno));
		return -1;
	}
	if (mount("nodev", dir, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0) {
		snprintf(err, len, "tracefs not mounted, and mounting it: %s",
			 strerror(errno));
		rmdir(dir);
		return -1;
	}
	int r = load_all(dir, fmt, rst, err, len);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return r;
}
