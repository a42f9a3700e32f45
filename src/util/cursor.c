/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cursor.h"

#include <string.h>

void
sg_cur_init(struct sg_cur *c, const void *data, size_t len)
{
	c->base = data;
	c->len = data ? len : 0;
	c->pos = 0;
}

size_t
sg_cur_remaining(const struct sg_cur *c)
{
	return c->len - c->pos;
}

int
sg_cur_bytes(struct sg_cur *c, size_t n, const uint8_t **ret)
{
	if (n > c->len - c->pos)
		return SG_E_TRUNCATED;
	if (ret)
		*ret = c->base + c->pos;
	c->pos += n;
	return 0;
}

int
sg_cur_u8(struct sg_cur *c, uint8_t *ret)
{
	const uint8_t *p;
	int r;

	if ((r = sg_cur_bytes(c, 1, &p)) != 0)
		return r;
	*ret = p[0];
	return 0;
}

int
sg_cur_u16le(struct sg_cur *c, uint16_t *ret)
{
	const uint8_t *p;
	int r;

	if ((r = sg_cur_bytes(c, 2, &p)) != 0)
		return r;
	*ret = sg_get_u16le(p);
	return 0;
}

int
sg_cur_u32le(struct sg_cur *c, uint32_t *ret)
{
	const uint8_t *p;
	int r;

	if ((r = sg_cur_bytes(c, 4, &p)) != 0)
		return r;
	*ret = sg_get_u32le(p);
	return 0;
}

int
sg_cur_u64le(struct sg_cur *c, uint64_t *ret)
{
	const uint8_t *p;
	int r;

	if ((r = sg_cur_bytes(c, 8, &p)) != 0)
		return r;
	*ret = sg_get_u64le(p);
	return 0;
}

int
sg_cur_guid(struct sg_cur *c, uint8_t ret[16])
{
	const uint8_t *p;
	int r;

	if ((r = sg_cur_bytes(c, 16, &p)) != 0)
		return r;
	memcpy(ret, p, 16);
	return 0;
}

int
sg_cur_sub(const struct sg_cur *c, size_t off, size_t len, struct sg_cur *ret)
{
	if (off > c->len || len > c->len - off)
		return SG_E_TRUNCATED;
	sg_cur_init(ret, c->base + off, len);
	return 0;
}

int
sg_cur_seek(struct sg_cur *c, size_t off)
{
	if (off > c->len)
		return SG_E_TRUNCATED;
	c->pos = off;
	return 0;
}

void
sg_put_u16le(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

void
sg_put_u32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

void
sg_put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

uint16_t
sg_get_u16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t
sg_get_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

uint64_t
sg_get_u64le(const uint8_t *p)
{
	return (uint64_t)sg_get_u32le(p) | ((uint64_t)sg_get_u32le(p + 4) << 32);
}
