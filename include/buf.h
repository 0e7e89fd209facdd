/*
 * buf - a growable byte buffer with a hard limit
 *
 * SYNOPSIS
 *	struct buf b = BUF_INIT(limit);
 *	int  buf_append(struct buf *b, const void *data, size_t len);
 *	int  buf_append_str(struct buf *b, const char *s);
 *	int  buf_reserve(struct buf *b, size_t len);
 *	void buf_reset(struct buf *b);
 *	void buf_free(struct buf *b);
 *
 * DESCRIPTION
 *	A buffer owns its bytes; data is always NUL-terminated after len so it can
 *	be read as a string (it may also hold NUL bytes of its own). Growth is
 *	geometric and checked for size_t overflow; buf_reserve makes room for len
 *	more bytes at once, when the caller knows about how much will come. buf_reset keeps the
 *allocation for reuse (one message after another on a connection); buf_free releases it.
 *
 * DIAGNOSTICS
 *	buf_append and buf_reserve return 0, or -1 when the result would exceed
 *	the limit (errno EFBIG) or memory is exhausted (errno ENOMEM); the buffer
 *	is then unchanged. A limit of 0 means SIZE_MAX.
 */
#ifndef MTAHOOKS_BUF_H
#define MTAHOOKS_BUF_H

#include <stddef.h>

struct buf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes in use, not counting the terminating NUL */
	size_t cap;   /* bytes allocated */
	size_t limit; /* most bytes len may reach; 0 = no limit */
};

#define BUF_INIT(lim)                                                                              \
	{                                                                                          \
		NULL, 0, 0, (lim)                                                                  \
	}

/* buf_append - append len bytes, keeping a NUL after them */
int buf_append(struct buf *b, const void *data, size_t len);
/* buf_append_str - append a C string without its NUL */
int buf_append_str(struct buf *b, const char *s);
/* buf_reserve - room for len more bytes (and the NUL) without growing again */
int buf_reserve(struct buf *b, size_t len);
/* buf_reset - forget the contents, keep the memory */
void buf_reset(struct buf *b);
/* buf_free - release the memory; the buffer is empty and reusable after */
void buf_free(struct buf *b);

#endif
