/*
 * output-json.c -- a scenario's result as one JSON object per line
 * (`hangup lab --json`): the scenario, every step with its snapshot, every
 * packet, every mismatch.
 */
#include "lab.h"

#include "cli.h"

#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>

/* s as a JSON string, escaped as the tool's other JSON is (events.c). */
static void json_str(const char *s)
{
	char buf[1024], *big = NULL;
	size_t n = cli_json_string(buf, sizeof(buf), s);

	if (n >= sizeof(buf) && (big = malloc(n + 1)) != NULL)
		cli_json_string(big, n + 1, s);
	fputs(big ? big : buf, stdout);
	free(big);
}

static void json_kv(const char *k, const char *v, int comma)
{
	printf("%s\"%s\":", comma ? "," : "", k);
	if (v)
		json_str(v);
	else
		printf("null");
}

/* One step, with its snapshot when it took one. */
static void json_step(const struct lab_step *s, int n)
{
	printf("%s{\"n\":%d,\"t_ms\":%.3f,\"t_end_ms\":%.3f", n > 1 ? "," : "",
	       n, s->t * 1e3, s->t_end * 1e3);
	json_kv("actor", s->actor, 1);
	json_kv("call", s->call, 1);
	json_kv("ret", s->ret, 1);
	printf(",\"value\":%ld", s->val);
	json_kv("errno", s->failed ? lab_errno_name(s->err) : NULL, 1);
	/* An io_uring completion: its error is in res, not in errno. */
	if (s->cqe)
		printf(",\"cqe\":{\"res\":%ld,\"flags\":%u,\"more\":%s}",
		       s->val, s->cqe_flags,
		       (s->cqe_flags & IORING_CQE_F_MORE) ? "true" : "false");
	if (s->stale) {
		json_kv("errno_before_call",
			s->stale_before ? lab_errno_name(s->stale_before) : "0",
			1);
		json_kv("stale_errno_after_success",
			s->stale_after ? lab_errno_name(s->stale_after) : "0",
			1);
	}
	if (s->snap) {
		struct lab_cells c;

		lab_step_cells(s, &c);
		json_kv("observed", s->obs, 1);
		json_kv("epoll", c.events, 1);
		json_kv("state", c.state, 1);
		printf(",\"outq\":%d,\"inq\":%d", s->outq, s->inq);
	}
	json_kv("hangup", s->hangup[0] ? s->hangup : NULL, 1);
	json_kv("note", s->note[0] ? s->note : NULL, 1);
	json_kv("expect", s->expect[0] ? s->expect : NULL, 1);
	printf(",\"ok\":%s}", s->ok ? "true" : "false");
}

/* Packet i, and whether nft dropped it. */
static void json_packet(const struct lab_result *r, int i)
{
	const struct lab_pkt *p = &r->pkts[i];
	char flags[64];

	lab_flags_str(p->flags, flags, sizeof(flags));
	printf("%s{\"t_ms\":%.3f,\"dir\":\"%s\",\"sport\":%u,"
	       "\"dport\":%u",
	       i ? "," : "", p->t * 1e3,
	       p->dir == 0 ? "client->server" : "server->client", p->sport,
	       p->dport);
	json_kv("flags", flags, 1);
	printf(",\"len\":%u,\"seq\":%u", p->len, p->seq);
	json_kv("data", p->len ? p->data : NULL, 1);
	printf(",\"dropped\":%s", lab_pkt_dropped(r, i) ? "true" : "false");
	printf("}");
}

static void json_count(const char *k, long long v)
{
	if (v < 0)
		printf(",\"%s\":null", k);
	else
		printf(",\"%s\":%lld", k, v);
}

/* --watch: "watch" is an array of watch's records (in its --json words)
 * with the capture's view beside each; "watch_note" says why there are
 * none, or that some were left out. */
static void json_watch(const struct lab_result *r)
{
	if (r->watch == LAB_WATCH_OFF)
		return;
	printf(",\"watch\":[");
	for (int i = 0; i < r->nwatch; i++) {
		const struct lab_watch_rec *x = &r->wrec[i];

		printf("%s{", i ? "," : "");
		json_kv("end", x->end, 0);
		json_kv("local", x->local, 1);
		json_kv("peer", x->peer, 1);
		json_kv("reason", x->reason, 1);
		json_kv("detail", x->detail[0] ? x->detail : NULL, 1);
		json_kv("rst_reason", x->rst_reason[0] ? x->rst_reason : NULL,
			1);
		json_kv("first_fin", x->first_fin, 1);
		json_kv("rst_first", x->rst_first, 1);
		printf(",\"rst_sent\":%s,\"rst_received\":%s",
		       x->rst_sent ? "true" : "false",
		       x->rst_received ? "true" : "false");
		json_count("bytes_in", x->bytes_in);
		json_count("bytes_out", x->bytes_out);
		printf(",\"capture\":{");
		json_kv("first_fin", x->cap_fin, 0);
		json_kv("rst_first", x->cap_rst, 1);
		printf(",\"bytes_in\":%lld,\"bytes_out\":%lld}", x->cap_in,
		       x->cap_out);
		printf(",\"ok\":%s}", x->ok ? "true" : "false");
	}
	printf("]");
	json_kv("watch_note", r->wnote[0] ? r->wnote : NULL, 1);
}

void lab_print_json(const struct lab_result *r)
{
	const struct lab_scenario *sc = &lab_scenarios[r->index];

	printf("{");
	json_kv("name", sc->name, 0);
	json_kv("family", sc->family, 1);
	json_kv("title", sc->title, 1);
	json_kv("expected", sc->expected, 1);
	json_kv("rule", sc->rule, 1);
	json_kv("verdict", lab_verdict_name(r->verdict), 1);
	json_kv("skip_reason", r->verdict == LAB_SKIP ? r->skip : NULL, 1);
	printf(",\"netns\":%s,\"seconds\":%.3f,\"captured\":%s",
	       sc->netns ? "true" : "false", r->secs,
	       r->capture == LAB_CAPTURE_ON ? "true" : "false");
	json_kv("capture_note", r->capture == LAB_CAPTURE_ON ? NULL : r->nocap,
		1);
	json_kv("client", r->client, 1);
	json_kv("server", r->server, 1);
	printf(",\"steps\":[");
	for (int i = 0; i < r->nsteps; i++)
		json_step(&r->steps[i], i + 1);
	printf("],\"packets\":[");
	for (int i = 0; i < r->npkts; i++)
		json_packet(r, i);
	printf("],\"mismatches\":[");
	for (int i = 0; i < r->nmis; i++) {
		if (i)
			putchar(',');
		json_str(r->mis[i]);
	}
	printf("]");
	json_watch(r);
	printf("}\n");
	fflush(stdout);
}
