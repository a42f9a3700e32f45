/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/openssl-util.h"
#include "util/encode.h"
#include "util/fileio.h"
#include "util/json-util.h"
#include "util/secmem.h"

#define SIG_MEMBER ",\"sig\":\""

/* A record waiting for the group commit. */
struct pending {
	char *tail; /* the record's text from "event" on (render_tail) */
	char *head;
	struct sg_error *err;
	int rc;
	bool done;
	struct pending *next;
};

struct sg_audit {
	struct sg_crypto *crypto; /* borrowed; used by the committing thread only */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pending *queue, **tail;
	bool committing;
	int fd;
	char *path;
	EVP_PKEY *pkey; /* PEM signer */
	/* or a token key: its URI, which may hold a pin-value, in locked memory */
	struct sg_secmem *key_uri;
	struct sg_key_options kopts;
	char user[64], host[256];
	uid_t uid;
	bool syslog; /* copy records to syslog */
};

static const char *const event_names[] = {
	[SG_AUDIT_EVENT_VERDICT] = "verdict",
	[SG_AUDIT_EVENT_RELEASE_INTENT] = "release-intent",
	[SG_AUDIT_EVENT_RELEASED] = "released",
	[SG_AUDIT_EVENT_REFUSED] = "refused",
	[SG_AUDIT_EVENT_CHECKPOINT] = "checkpoint",
};

const char *
sg_audit_event_name(enum sg_audit_event_type type)
{
	if ((size_t)type >= sizeof(event_names) / sizeof(event_names[0]))
		return NULL;
	return event_names[type];
}

static int
ossl_fail(struct sg_error *err, const char *what)
{
	return sg_error_set(err, SG_E_CRYPTO, "%s failed", what);
}

static int
fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -1;
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

/*
 * The audit log is signed with ECDSA P-256 only (docs/audit.md): any other
 * key is a usage error, named with its curve, where it is loaded.
 */
static int
check_p256(EVP_PKEY *k, const char *what, const char *path, struct sg_error *err)
{
	char group[80];
	size_t len = 0;

	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
		return sg_error_set(err, SG_E_USAGE, "%s '%s' is a %s key, not an EC P-256 key",
				    what, path,
				    EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "?");
	if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   &len) != 1)
		snprintf(group, sizeof(group), "explicit curve parameters");
	if (strcmp(group, "prime256v1") && strcmp(group, "P-256"))
		return sg_error_set(
			err, SG_E_USAGE,
			"%s '%s' is an EC key on %s: the audit log is signed with P-256 "
			"(prime256v1) only",
			what, path, group);
	return 0;
}

int
sg_audit_open(struct sg_crypto *c, const char *path, const char *key_spec,
	      const struct sg_key_options *kopts, struct sg_audit **ret, struct sg_error *err)
{
	struct sg_audit *a = calloc(1, sizeof(*a));
	struct passwd *pw;
	bool created = false;
	int r;

	if (!a)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	a->crypto = c;
	a->fd = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->tail = &a->queue;
	if (kopts)
		a->kopts = *kopts;
	if (!(a->path = strdup(path)))
		goto nomem;
	if (!strncmp(key_spec, "pkcs11:", 7)) {
		size_t n = strlen(key_spec);

		if (!(a->key_uri = sg_secmem_new(n + 1)))
			goto nomem;
		memcpy(a->key_uri->data, key_spec, n + 1);
		/*
		 * Looked up and checked before the log exists, without a signature (no token
		 * operation, no extra PIN prompt): a token key that is missing, locked, not
		 * P-256 or not for signing fails here, not at the first record.
		 */
		if ((r = sg_key_ecdsa_check((const char *)a->key_uri->data, &a->kopts, err)) < 0) {
			sg_audit_close(a);
			return r;
		}
	} else {
		FILE *f = fopen(key_spec, "re");

		if (!f) {
			int e = errno;

			sg_audit_close(a);
			return sg_error_set(err, SG_E_IO, "cannot read audit key '%s': %s",
					    key_spec, strerror(e));
		}
		a->pkey = PEM_read_PrivateKey_ex(f, NULL, NULL, NULL, sg_crypto_libctx(c), NULL);
		fclose(f);
		if (!a->pkey) {
			sg_audit_close(a);
			return sg_error_set(err, SG_E_KEY,
					    "audit key '%s' is not a PEM EC (P-256) private key",
					    key_spec);
		}
		if ((r = check_p256(a->pkey, "audit key", key_spec, err)) < 0) {
			sg_audit_close(a);
			return r;
		}
	}
	a->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (a->fd >= 0)
		created = true;
	else if (errno == EEXIST)
		a->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (a->fd < 0 || (created && (fsync(a->fd) < 0 || fsync_dir(path) < 0))) {
		int e = errno;

		sg_audit_close(a);
		/* The output policy (fileio.h): never through a symbolic link. */
		if (e == ELOOP)
			return sg_error_set(
				err, SG_E_IO,
				"refusing to write audit log '%s': it is a symbolic link", path);
		return sg_error_set(err, SG_E_IO, "cannot open audit log '%s': %s", path,
				    strerror(e));
	}
	if (created) {
		/* O_WRONLY was for O_EXCL; reading the tail needs O_RDWR. */
		close(a->fd);
		a->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (a->fd < 0) {
			int e = errno;

			sg_audit_close(a);
			return sg_error_set(err, SG_E_IO, "cannot open audit log '%s': %s", path,
					    strerror(e));
		}
	}
	a->uid = getuid();
	pw = getpwuid(a->uid);
	snprintf(a->user, sizeof(a->user), "%s", pw ? pw->pw_name : "?");
	if (gethostname(a->host, sizeof(a->host) - 1) < 0)
		snprintf(a->host, sizeof(a->host), "?");
	/*
	 * Without a syslog socket, syslog(3) would try to connect again for every
	 * record (two system calls each, for nothing): copy only where one exists.
	 */
	a->syslog = access(_PATH_LOG, W_OK) == 0;
	if (a->syslog)
		openlog("sevgate", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	*ret = a;
	return 0;
nomem:
	sg_audit_close(a);
	return sg_error_set(err, SG_E_NOMEM, "out of memory");
}

void
sg_audit_close(struct sg_audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	EVP_PKEY_free(a->pkey);
	sg_secmem_free(a->key_uri); /* wiped */
	free(a->path);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static struct json_object *
hex_or_null(const uint8_t *p, size_t len)
{
	char buf[2 * 64 + 1];

	if (!p || len > 64)
		return NULL;
	sg_hex_encode(p, len, buf);
	return json_object_new_string(buf);
}

/*
 * Free text from outside as a record holds it: at most SG_AUDIT_TEXT_MAX
 * bytes, the marker included: a longer text keeps its first
 * SG_AUDIT_TEXT_MAX - strlen(SG_AUDIT_TRUNCATED) bytes, cut before a UTF-8
 * character that would cross that point (at most 3 continuation bytes
 * back), then SG_AUDIT_TRUNCATED. Never a reason to refuse a record.
 */
static struct json_object *
text_or_null(const char *s)
{
	struct json_object *o;
	size_t n;
	char *buf;

	if (!s)
		return NULL;
	if ((n = strlen(s)) <= SG_AUDIT_TEXT_MAX)
		return json_object_new_string(s);
	n = SG_AUDIT_TEXT_MAX - (sizeof(SG_AUDIT_TRUNCATED) - 1);
	for (int k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; k++)
		n--;
	if (!(buf = malloc(n + sizeof(SG_AUDIT_TRUNCATED))))
		return NULL;
	memcpy(buf, s, n);
	memcpy(buf + n, SG_AUDIT_TRUNCATED, sizeof(SG_AUDIT_TRUNCATED));
	o = json_object_new_string(buf);
	free(buf);
	return o;
}

static void
add(struct json_object *o, const char *k, struct json_object *v)
{
	if (json_object_object_add(o, k, v) != 0)
		json_object_put(v);
}

/*
 * The record from "event" on, without its sig member, members in the
 * documented order, as one JSON object's text. Made by the caller's thread
 * before the record is queued: only seq, time and prev (and the signature)
 * wait for the log's turn, which is one record after the other.
 */
static char *
render_tail(const struct sg_audit_actor *act, const struct sg_audit_event *ev)
{
	_cleanup_(sg_json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *in = json_object_new_object();
	struct json_object *sec = json_object_new_array(), *keys = json_object_new_array();
	struct json_object *actor = json_object_new_object();
	char mb64[SG_B64_ENCODED_LEN(48) + 1];

	add(o, "event", json_object_new_string(sg_audit_event_name(ev->event)));
	add(o, "guest", text_or_null(ev->guest));
	add(o, "manifest_sha256", hex_or_null(ev->manifest_sha256, 32));
	add(in, "firmware", hex_or_null(ev->firmware_sha256, 32));
	add(in, "kernel", hex_or_null(ev->kernel_sha256, 32));
	add(in, "initrd", hex_or_null(ev->initrd_sha256, 32));
	add(in, "cmdline", hex_or_null(ev->cmdline_sha256, 32));
	add(o, "inputs", in);
	if (ev->measurement)
		sg_base64_encode(ev->measurement, 48, mb64);
	add(o, "measurement", ev->measurement ? json_object_new_string(mb64) : NULL);
	add(o, "api_major", ev->have_platform ? json_object_new_int(ev->api_major) : NULL);
	add(o, "api_minor", ev->have_platform ? json_object_new_int(ev->api_minor) : NULL);
	add(o, "build_id", ev->have_platform ? json_object_new_int(ev->build_id) : NULL);
	add(o, "policy", ev->have_platform ? json_object_new_int64(ev->policy) : NULL);
	add(o, "launch_digest", hex_or_null(ev->launch_digest, 32));
	add(o, "verdict", ev->verdict ? json_object_new_string(ev->verdict) : NULL);
	for (size_t i = 0; i < ev->nsecrets; i++) {
		struct json_object *s = json_object_new_object();

		add(s, "guid", json_object_new_string(ev->secrets[i].guid));
		add(s, "length", json_object_new_int64((int64_t)ev->secrets[i].length));
		json_object_array_add(sec, s);
	}
	add(o, "secrets", sec);
	for (size_t i = 0; i < ev->nkeys; i++)
		json_object_array_add(keys, text_or_null(ev->keys[i]));
	add(o, "keys", keys);
	if (ev->reason)
		add(o, "reason", text_or_null(ev->reason));
	add(actor, "uid", json_object_new_int64(act->uid));
	add(actor, "user", text_or_null(act->user));
	add(actor, "host", text_or_null(act->host));
	add(o, "actor", actor);
	add(o, "sevgate_version", json_object_new_string(SEVGATE_VERSION));
	/* The format's version: after the members of version 0, as every member added later. */
	add(o, "v", json_object_new_int(SG_AUDIT_VERSION));
	return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
}

/*
 * The signed form of a record: seq, time and prev, then @tail (render_tail)
 * without its '{'. Returns its length, or -1 (out of memory).
 */
static int
signed_form(unsigned long long seq, const struct tm *when, const char *prev, const char *tail,
	    char **ret)
{
	char now[32];

	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", when);
	return asprintf(ret, "{\"seq\":%llu,\"time\":\"%s\",\"prev\":\"%s\",%s", seq, now, prev,
			tail + 1);
}

int
sg_audit_render(const struct sg_audit_event *ev, const struct sg_audit_actor *actor,
		unsigned long long seq, time_t when, const char *prev, char **ret,
		struct sg_error *err)
{
	_cleanup_(sg_freep) char *tail = NULL;
	struct tm tm;

	*ret = NULL;
	if (!sg_audit_event_name(ev->event))
		return sg_error_set(err, SG_E_INTERNAL, "not an audit event (%d)", (int)ev->event);
	if (!gmtime_r(&when, &tm))
		return sg_error_set(err, SG_E_USAGE, "a record time out of range");
	if (!(tail = render_tail(actor, ev)) || signed_form(seq, &tm, prev, tail, ret) < 0)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	return 0;
}

static int
sign(struct sg_audit *a, const char *line, size_t len, char **ret_b64, struct sg_error *err)
{
	uint8_t der[128];
	size_t derlen = sizeof(der);
	int r;

	if (a->pkey) {
		_cleanup_(sg_evp_md_ctx_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();

		r = md &&
		    EVP_DigestSignInit_ex(md, NULL, "SHA2-256", sg_crypto_libctx(a->crypto), NULL,
					  a->pkey, NULL) == 1 &&
		    EVP_DigestSign(md, der, &derlen, (const uint8_t *)line, len) == 1;
		if (!r)
			return ossl_fail(err, "signing the audit record");
	} else {
		uint8_t digest[SG_SHA256_LEN];

		if ((r = sg_sha256(a->crypto, line, len, digest, err)) < 0 ||
		    (r = sg_key_ecdsa_sign((const char *)a->key_uri->data, &a->kopts, digest, der,
					   &derlen, err)) < 0)
			return r;
	}
	*ret_b64 = malloc(SG_B64_ENCODED_LEN(derlen) + 1);
	if (!*ret_b64)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	sg_base64_encode(der, derlen, *ret_b64);
	return 0;
}

/*
 * Under the lock: the last complete record's seq and hash. A torn last line
 * (a crash mid-write, before its fsync) is cut off, exactly back to the last
 * newline: it recorded nothing that happened. Bytes after the last newline
 * that no record could be (more than SG_AUDIT_LINE_MAX) are not a torn
 * record but damage: refused, with the file left as it is.
 */
static int
read_tail(struct sg_audit *a, unsigned long long *ret_seq, char ret_prev[SG_AUDIT_HEAD_HEX + 1],
	  struct sg_error *err)
{
	/* The longest torn line, then the longest record and the newline before it. */
	const size_t window = 2 * (size_t)SG_AUDIT_LINE_MAX + 1;
	struct stat st;
	_cleanup_(sg_freep) char *buf = NULL;
	size_t want, got = 0, end, start;
	off_t off;
	uint8_t h[SG_SHA256_LEN];
	int r;

	memset(ret_prev, '0', SG_AUDIT_HEAD_HEX);
	ret_prev[SG_AUDIT_HEAD_HEX] = '\0';
	*ret_seq = 0;
	if (fstat(a->fd, &st) < 0)
		return sg_error_set(err, SG_E_IO, "cannot stat audit log: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sg_error_set(err, SG_E_IO, "audit log '%s' is not a regular file", a->path);
	if (st.st_size == 0)
		return 0;
	want = (uintmax_t)st.st_size < window ? (size_t)st.st_size : window;
	off = st.st_size - (off_t)want;
	if (!(buf = malloc(want + 1)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	while (got < want) {
		ssize_t n = pread(a->fd, buf + got, want - got, off + (off_t)got);

		if (n <= 0)
			return sg_error_set(err, SG_E_IO, "cannot read audit log: %s",
					    n < 0 ? strerror(errno) : "short read");
		got += (size_t)n;
	}
	end = want;
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	if (want - end > SG_AUDIT_LINE_MAX) {
		/* "More than" only when the file is longer than what was read. */
		if (end == 0 && (uintmax_t)st.st_size > want)
			return sg_error_set(
				err, SG_E_FORMAT,
				"audit log '%s' ends in more than %zu bytes after its last "
				"newline: not a torn record; the log is left as it is",
				a->path, want);
		return sg_error_set(
			err, SG_E_FORMAT,
			"audit log '%s' ends in %zu bytes after its last newline: not a "
			"torn record; the log is left as it is",
			a->path, want - end);
	}
	if (end > 0) {
		start = end - 1;
		while (start > 0 && buf[start - 1] != '\n')
			start--;
		if ((start == 0 && off != 0) || end - start > SG_AUDIT_LINE_MAX)
			return sg_error_set(err, SG_E_FORMAT,
					    "audit log's last record is longer than %d bytes",
					    SG_AUDIT_LINE_MAX);
		buf[end - 1] = '\0';
		_cleanup_(sg_json_object_putp) struct json_object *o = NULL;
		struct json_object *seq;

		if (!memchr(buf + start, '\0', end - 1 - start))
			o = json_tokener_parse(buf + start);
		if (!o || !json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, "seq", &seq))
			return sg_error_set(err, SG_E_FORMAT,
					    "audit log's last record is not a record");
		*ret_seq = json_object_get_uint64(seq);
		if ((r = sg_sha256(a->crypto, buf + start, end - 1 - start, h, err)) < 0)
			return r;
		sg_hex_encode(h, sizeof(h), ret_prev);
	}
	/* end == 0 here: the file is only a torn first record; start afresh. */
	if (end < want && ftruncate(a->fd, off + (off_t)end) < 0)
		return sg_error_set(err, SG_E_IO, "cannot cut the torn end of the audit log: %s",
				    strerror(errno));
	return 0;
}

/*
 * Where a failure of the whole group is reported: the error of the first
 * record that has no outcome yet (NULL if none has one to report to).
 */
static struct sg_error *
group_err(struct pending *batch)
{
	for (struct pending *p = batch; p; p = p->next)
		if (p->rc == 0 && p->err)
			return p->err;
	return NULL;
}

/*
 * The group failed with @code, reported in @reported (group_err): every
 * record without an outcome gets it, with the same message.
 */
static void
fail_group(struct pending *batch, int code, const struct sg_error *reported)
{
	for (struct pending *p = batch; p; p = p->next) {
		if (p->rc < 0)
			continue;
		p->rc = code;
		if (p->err && p->err != reported)
			sg_error_set(p->err, code, "%s", reported ? reported->msg : "");
	}
}

/*
 * Write @batch under the file lock, chained and signed one after the other,
 * then one fdatasync for all of them (group commit). Each record's outcome
 * goes to its pending entry.
 */
static void
commit(struct sg_audit *a, struct pending *batch)
{
	char prev[SG_AUDIT_HEAD_HEX + 1];
	unsigned long long seq;
	struct sg_error *err = group_err(batch);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	off_t start_size = 0;
	int r;

	if (flock(a->fd, LOCK_EX) < 0) {
		r = sg_error_set(err, SG_E_IO, "cannot lock audit log: %s", strerror(errno));
		goto fail_all;
	}
	if ((r = read_tail(a, &seq, prev, err)) < 0)
		goto unlock_fail;
	if ((start_size = lseek(a->fd, 0, SEEK_END)) < 0) {
		r = sg_error_set(err, SG_E_IO, "cannot seek audit log: %s", strerror(errno));
		goto unlock_fail;
	}
	for (struct pending *p = batch; p; p = p->next) {
		char *u = NULL;
		size_t ulen, need = 0;
		char *sig = NULL;
		uint8_t h[SG_SHA256_LEN];
		time_t t = time(NULL);
		struct tm tm;
		int ul;

		if (p->rc < 0)
			continue; /* its text could not be made: not written */
		gmtime_r(&t, &tm);
		/* The tail is a whole object: its '{' gives way to the three members before it. */
		if ((ul = signed_form(seq + 1, &tm, prev, p->tail, &u)) < 0) {
			p->rc = sg_error_set(p->err, SG_E_NOMEM, "out of memory");
			continue;
		}
		ulen = (size_t)ul;
		p->rc = sign(a, u, ulen, &sig, p->err);
		/* The line: u without its '}', the sig member, '"}' and '\n'. */
		if (p->rc == 0 &&
		    (need = ulen - 1 + strlen(SIG_MEMBER) + strlen(sig) + 3) > SG_AUDIT_LINE_MAX)
			p->rc = sg_error_set(
				p->err, SG_E_LIMIT,
				"an audit record of %zu bytes is longer than the log's "
				"%d-byte bound: not written",
				need, SG_AUDIT_LINE_MAX);
		if (p->rc == 0) {
			need += 1; /* snprintf's NUL */
			if (cap - len < need) {
				size_t ncap = (cap + need) * 2;
				char *n = realloc(buf, ncap);

				if (!n) {
					p->rc = sg_error_set(p->err, SG_E_NOMEM, "out of memory");
					goto next;
				}
				buf = n;
				cap = ncap;
			}
			/* The signed bytes are the line with its ,"sig":"..." member removed. */
			size_t start = len;

			len += (size_t)snprintf(buf + len, cap - len, "%.*s" SIG_MEMBER "%s\"}\n",
						(int)(ulen - 1), u, sig);
			if ((p->rc = sg_sha256(a->crypto, buf + start, len - start - 1, h,
					       p->err)) == 0) {
				sg_hex_encode(h, sizeof(h), prev);
				if (p->head)
					memcpy(p->head, prev, SG_AUDIT_HEAD_HEX + 1);
				seq++;
			} else {
				len = start;
			}
		}
next:
		free(sig);
		free(u);
	}
	if (len && (sg_write_all(a->fd, buf, len) < 0 || fdatasync(a->fd) < 0)) {
		/* Reported in the first record still written (the others may have failed). */
		err = group_err(batch);
		r = sg_error_set(err, SG_E_IO, "cannot write audit log '%s': %s", a->path,
				 strerror(errno));
		/*
		 * Part of it may be on disk: cut back, so no record claims an
		 * intent whose secret we are about to withhold.
		 */
		if (ftruncate(a->fd, start_size) == 0)
			(void)fdatasync(a->fd);
		goto unlock_fail;
	}
	flock(a->fd, LOCK_UN);
	for (size_t off = 0; a->syslog && off < len;) {
		char *nl = memchr(buf + off, '\n', len - off);

		syslog(LOG_INFO, "%.*s", (int)(nl - (buf + off)), buf + off);
		off = (size_t)(nl - buf) + 1;
	}
	free(buf);
	return;
unlock_fail:
	flock(a->fd, LOCK_UN);
fail_all:
	free(buf);
	fail_group(batch, r, err);
}

int
sg_audit_append_many(struct sg_audit *a, struct sg_audit_entry *entries, size_t n)
{
	const struct sg_audit_actor actor = { .uid = a->uid, .user = a->user, .host = a->host };
	struct pending one, *ps;
	int rc = 0;

	if (n == 0)
		return 0;
	ps = n == 1 ? &one : calloc(n, sizeof(*ps));
	if (!ps) {
		for (size_t i = 0; i < n; i++)
			entries[i].rc = sg_error_set(entries[i].err, SG_E_NOMEM, "out of memory");
		return SG_E_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sg_audit_event *ev = entries[i].ev;

		ps[i] = (struct pending){ .head = entries[i].head,
					  .err = entries[i].err,
					  .next = i + 1 < n ? &ps[i + 1] : NULL };
		if (!sg_audit_event_name(ev->event))
			ps[i].rc = sg_error_set(ps[i].err, SG_E_INTERNAL, "not an audit event (%d)",
						(int)ev->event);
		else if (!(ps[i].tail = render_tail(&actor, ev)))
			ps[i].rc = sg_error_set(ps[i].err, SG_E_NOMEM, "out of memory");
	}
	/*
	 * Group commit: whoever finds no commit under way writes everything queued
	 * so far with one fdatasync; the others wait for their records to be
	 * durable. Our n records are queued together, so one commit takes them all.
	 */
	pthread_mutex_lock(&a->mu);
	*a->tail = &ps[0];
	a->tail = &ps[n - 1].next;
	while (!ps[n - 1].done) {
		if (a->committing) {
			pthread_cond_wait(&a->cv, &a->mu);
			continue;
		}
		struct pending *batch = a->queue;

		a->queue = NULL;
		a->tail = &a->queue;
		a->committing = true;
		pthread_mutex_unlock(&a->mu);
		commit(a, batch);
		pthread_mutex_lock(&a->mu);
		for (struct pending *p = batch, *next; p; p = next) {
			next = p->next;
			p->done = true;
		}
		a->committing = false;
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
	for (size_t i = 0; i < n; i++) {
		if ((entries[i].rc = ps[i].rc) < 0 && rc == 0)
			rc = ps[i].rc;
		free(ps[i].tail);
	}
	if (ps != &one)
		free(ps);
	return rc;
}

int
sg_audit_append(struct sg_audit *a, const struct sg_audit_event *ev, char *ret_head,
		struct sg_error *err)
{
	struct sg_audit_entry e = { .ev = ev, .head = ret_head, .err = err };

	return sg_audit_append_many(a, &e, 1);
}

int
sg_audit_checkpoint(struct sg_audit *a, char *ret_head, struct sg_error *err)
{
	struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_CHECKPOINT };

	return sg_audit_append(a, &ev, ret_head, err);
}

enum sg_audit_line
sg_audit_read_line(FILE *f, char *buf, size_t *ret_len, bool skip_long)
{
	size_t n = 0;
	int c;

	*ret_len = 0;
	buf[0] = '\0';
	while ((c = getc_unlocked(f)) != EOF) {
		if (n == SG_AUDIT_LINE_MAX) {
			while (skip_long && c != '\n' && (c = getc_unlocked(f)) != EOF)
				;
			if (ferror(f))
				return SG_AUDIT_LINE_ERROR;
			buf[n] = '\0';
			*ret_len = n;
			return SG_AUDIT_LINE_LONG;
		}
		buf[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (c == EOF && ferror(f))
		return SG_AUDIT_LINE_ERROR;
	buf[n] = '\0';
	*ret_len = n;
	if (c == '\n')
		return SG_AUDIT_LINE_OK;
	return n ? SG_AUDIT_LINE_TORN : SG_AUDIT_LINE_EOF;
}

static int
load_pubkey(struct sg_crypto *c, const char *path, EVP_PKEY **ret, struct sg_error *err)
{
	_cleanup_(sg_evp_pkey_freep) EVP_PKEY *pkey = NULL;
	FILE *f = fopen(path, "re");
	int r;

	if (!f)
		return sg_error_set(err, SG_E_KEY, "cannot read public key '%s': %s", path,
				    strerror(errno));
	pkey = PEM_read_PUBKEY_ex(f, NULL, NULL, NULL, sg_crypto_libctx(c), NULL);
	fclose(f);
	if (!pkey)
		return sg_error_set(err, SG_E_KEY, "cannot read public key '%s'", path);
	if ((r = check_p256(pkey, "public key", path, err)) < 0)
		return r;
	*ret = SG_TAKE_PTR(pkey);
	return 0;
}

static bool
sig_ok(struct sg_crypto *c, EVP_PKEY *pub, const char *msg, size_t len, const char *b64)
{
	uint8_t der[160];
	size_t derlen = 0;
	_cleanup_(sg_evp_md_ctx_freep) EVP_MD_CTX *md = NULL;

	if (sg_base64_decode(b64, der, sizeof(der), &derlen, "sig", NULL) < 0)
		return false;
	md = EVP_MD_CTX_new();
	return md &&
	       EVP_DigestVerifyInit_ex(md, NULL, "SHA2-256", sg_crypto_libctx(c), NULL, pub,
				       NULL) == 1 &&
	       EVP_DigestVerify(md, der, derlen, (const uint8_t *)msg, len) == 1;
}

int
sg_audit_verify(struct sg_crypto *c, const char *path, const char *pubkey_pem,
		const char *expect_head, size_t *ret_count, char *ret_head, struct sg_error *err)
{
	_cleanup_(sg_evp_pkey_freep) EVP_PKEY *pub = NULL;
	FILE *f = fopen(path, "re");
	char *line = malloc(SG_AUDIT_LINE_MAX + 1), prev[SG_AUDIT_HEAD_HEX + 1];
	size_t count = 0, lineno = 0, len;
	unsigned long long want_seq = 1;
	enum sg_audit_line got;
	int r = 0;

	memset(prev, '0', SG_AUDIT_HEAD_HEX);
	prev[SG_AUDIT_HEAD_HEX] = '\0';
	if (!f || !line) {
		r = sg_error_set(err, f ? SG_E_NOMEM : SG_E_IO, "cannot read '%s': %s", path,
				 strerror(errno));
		if (f)
			fclose(f);
		free(line);
		return r;
	}
	if ((r = load_pubkey(c, pubkey_pem, &pub, err)) < 0) {
		fclose(f);
		free(line);
		return r;
	}
	while (r == 0 && (got = sg_audit_read_line(f, line, &len, false)) != SG_AUDIT_LINE_EOF &&
	       got != SG_AUDIT_LINE_ERROR) {
		char *sig, *end;
		uint8_t h[SG_SHA256_LEN];

		lineno++;
		if (got == SG_AUDIT_LINE_LONG) {
			r = sg_error_set(err, SG_E_MISMATCH, "line %zu: longer than %d bytes",
					 lineno, SG_AUDIT_LINE_MAX);
			break;
		}
		if (got == SG_AUDIT_LINE_TORN) {
			/* A torn last record: written by a writer that died before its fsync. */
			break;
		}
		if (memchr(line, '\0', len)) {
			/* Text after a NUL would be outside what the checks below read. */
			r = sg_error_set(err, SG_E_MISMATCH,
					 "line %zu: not a signed audit record (a NUL byte)",
					 lineno);
			break;
		}
		line[--len] = '\0';
		sig = strstr(line, SIG_MEMBER);
		for (char *next = sig; next; next = strstr(next + 1, SIG_MEMBER))
			sig = next;
		if (!sig || len < 2 || line[len - 1] != '}' || line[len - 2] != '"') {
			r = sg_error_set(err, SG_E_MISMATCH, "line %zu: not a signed audit record",
					 lineno);
			break;
		}
		/* The signed form: the line without its ,"sig":"..." member. */
		*sig = '\0';
		end = line + len - 2;
		*end = '\0';
		{
			_cleanup_(sg_freep) char *signed_line = NULL;
			_cleanup_(sg_json_object_putp) struct json_object *o = NULL;
			struct json_object *v;

			if (asprintf(&signed_line, "%s}", line) < 0) {
				r = sg_error_set(err, SG_E_NOMEM, "out of memory");
				break;
			}
			o = json_tokener_parse(signed_line);
			if (!o || !json_object_object_get_ex(o, "seq", &v) ||
			    json_object_get_uint64(v) != want_seq) {
				r = sg_error_set(
					err, SG_E_MISMATCH,
					"record at line %zu: seq is not %llu (a record was "
					"deleted, inserted or reordered)",
					lineno, want_seq);
			} else if (!json_object_object_get_ex(o, "prev", &v) ||
				   !json_object_get_string(v) ||
				   strcmp(json_object_get_string(v), prev)) {
				r = sg_error_set(
					err, SG_E_MISMATCH,
					"record %llu (line %zu): prev does not match the record "
					"before it",
					want_seq, lineno);
			} else if (!sig_ok(c, pub, signed_line, strlen(signed_line),
					   sig + strlen(SIG_MEMBER))) {
				r = sg_error_set(
					err, SG_E_MISMATCH,
					"record %llu (line %zu): signature does not verify",
					want_seq, lineno);
			}
		}
		if (r < 0)
			break;
		/* Restore the full line to chain the next record to it. */
		*sig = ',';
		*end = '"';
		if ((r = sg_sha256(c, line, len, h, err)) < 0)
			break;
		sg_hex_encode(h, sizeof(h), prev);
		count++;
		want_seq++;
	}
	if (r == 0 && got == SG_AUDIT_LINE_ERROR)
		r = sg_error_set(err, SG_E_IO, "cannot read '%s': %s", path, strerror(errno));
	free(line);
	fclose(f);
	if (r < 0)
		return r;
	if (expect_head && strcasecmp(expect_head, prev))
		return sg_error_set(
			err, SG_E_MISMATCH,
			"the last record (seq %zu) is not the expected head: records were "
			"cut from the end",
			count);
	if (ret_count)
		*ret_count = count;
	if (ret_head)
		memcpy(ret_head, prev, SG_AUDIT_HEAD_HEX + 1);
	return 0;
}

/* Member @k of @o as text, whatever its JSON type (a non-string as its JSON text); NULL if null. */
static const char *
member(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

int
sg_audit_summary_parse(const char *line, size_t len, struct sg_audit_summary *ret,
		       struct sg_error *err)
{
	_cleanup_(sg_json_object_putp) struct json_object *o = NULL;
	struct json_object *seq, *secrets;
	struct sg_audit_summary s = { 0 };

	*ret = s;
	if (!memchr(line, '\0', len))
		o = json_tokener_parse(line);
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "seq", &seq))
		return sg_error_set(err, SG_E_FORMAT, "not a record");
	s.seq = json_object_get_string(seq);
	s.time = member(o, "time");
	s.event = member(o, "event");
	s.guest = member(o, "guest");
	s.verdict = member(o, "verdict");
	s.launch_digest = member(o, "launch_digest");
	s.reason = member(o, "reason");
	if (json_object_object_get_ex(o, "secrets", &secrets) &&
	    json_object_is_type(secrets, json_type_array) &&
	    (s.nsecrets = json_object_array_length(secrets)) > 0) {
		if (!(s.secrets = calloc(s.nsecrets, sizeof(*s.secrets))))
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		for (size_t i = 0; i < s.nsecrets; i++) {
			struct json_object *e = json_object_array_get_idx(secrets, i);

			s.secrets[i].guid = member(e, "guid");
			s.secrets[i].length = member(e, "length");
		}
	}
	s.record = SG_TAKE_PTR(o);
	*ret = s;
	return 0;
}

void
sg_audit_summary_clear(struct sg_audit_summary *s)
{
	json_object_put(s->record);
	free(s->secrets);
	*s = (struct sg_audit_summary){ 0 };
}
