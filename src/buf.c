/* buf.c - a growable byte buffer with a hard limit (see include/buf.h) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* buf_grow - room for len more bytes and the NUL: exactly (exact) or doubling */
static int buf_grow(struct buf *b, size_t len, int exact)
{
	size_t limit = b->limit ? b->limit : SIZE_MAX - 1;
	size_t want, cap;
	char *p;

	if (len > limit || b->len > limit - len) {
		errno = EFBIG;
		return -1;
	}
	want = b->len + len + 1;
	if (want <= b->cap)
		return 0;
	cap = exact ? want : b->cap ? b->cap : 256;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	if ((p = realloc(b->data, cap)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (b->data == NULL)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

/* buf_reserve - room for len more bytes (and the NUL) without growing again */
int buf_reserve(struct buf *b, size_t len)
{
	return buf_grow(b, len, 1);
}

/* buf_append - append len bytes, keeping a NUL after them */
int buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len, 0) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/* buf_append_str - append a C string without its NUL */
int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* buf_reset - forget the contents, keep the memory */
void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* buf_free - release the memory; the buffer is empty and reusable after */
void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
