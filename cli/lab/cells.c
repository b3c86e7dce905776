/*
 * cells.c -- a step's cells as every output shows them (the events, the
 * TCP state, the queues, errno), written once for the terminal table, its
 * compact form, the markdown table and JSON.
 */
#include "lab.h"

#include "hangup.h"

#include <stdio.h>

void lab_state_text(const struct lab_step *s, char *buf, size_t size)
{
	if (!s->snap)
		snprintf(buf, size, "%s", "");
	else if (s->state == -1)
		snprintf(buf, size, "unix");
	else if (s->state == -2)
		snprintf(buf, size, "n/a");
	else
		snprintf(buf, size, "%s", hu_tcp_state_name(s->state));
}

static void queues_text(const struct lab_step *s, char *buf, size_t size)
{
	if (!s->snap)
		buf[0] = '\0';
	else if (s->outq < 0 || s->inq < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%d/%d", s->outq, s->inq);
}

const char *lab_step_errno(const struct lab_step *s)
{
	if (s->failed)
		return lab_errno_name(s->err);
	if (s->stale)
		return s->stale_after ? lab_errno_name(s->stale_after) : "0";
	return NULL;
}

/* errno only for a failed call; for the myth steps, the stale value after
 * a success, labelled. */
static void errno_text(const struct lab_step *s, char *buf, size_t size)
{
	const char *e = lab_step_errno(s);

	snprintf(buf, size, "%s%s", e && !s->failed ? "stale: " : "",
		 e ? e : "");
}

void lab_step_cells(const struct lab_step *s, struct lab_cells *c)
{
	if (s->snap)
		lab_events_str(s->events, c->events, sizeof(c->events));
	else
		c->events[0] = '\0';
	lab_state_text(s, c->state, sizeof(c->state));
	queues_text(s, c->queues, sizeof(c->queues));
	errno_text(s, c->err, sizeof(c->err));
}
