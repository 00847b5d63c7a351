/*
 * vtl_initiator: a minimal SSC (tape) initiator on libiscsi, for bench/vtl_vs_tgt.sh.
 *
 *   vtl_initiator [--compress] write URL BLOCKSIZE COUNT
 *       REWIND; COUNT WRITE(6) variable blocks of BLOCKSIZE (the first 8 bytes of block n
 *       hold n, big-endian; the rest is random and never repeats, so neither compression
 *       nor deduplication gains anything); WRITE FILEMARKS(6) 1
 *       without IMMED, so the time includes making the data durable.
 *   vtl_initiator read URL BLOCKSIZE COUNT
 *       REWIND; COUNT READ(6) variable blocks, each checked to be block n.
 *   vtl_initiator [--by-space] locate URL N COUNT [BLOCKSIZE]
 *       REWIND; COUNT times: LOCATE(10) to a random block below N (the same sequence on
 *       every run), READ(6) one block of BLOCKSIZE (default 262144, the size written) and
 *       check it is that block. --by-space positions
 *       with SPACE(6) over blocks from where the last read left the tape instead.
 *       Exits 3 if the device refuses LOCATE as an unknown command.
 *   vtl_initiator [--compress] writefiles URL BLOCKSIZE FILE...
 *       REWIND; each FILE in BLOCKSIZE blocks (the last may be shorter), each followed by a
 *       WRITE FILEMARKS(6) 1 without IMMED.
 *
 * --compress sets DCE in the data compression mode page (0Fh) by MODE SENSE(6) + MODE
 * SELECT(6) before writing. URL is iscsi://HOST:PORT/IQN/LUN. The last line printed is
 * "RESULT <value> <unit>". Any CHECK CONDITION not expected is fatal, with its sense.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define INITIATOR "iqn.2026-01.invalid.bench:vtl-initiator"
#define EXIT_NO_LOCATE 3

static struct iscsi_context *iscsi;
static int lun;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vtl_initiator: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The raw sense bytes of a CHECK CONDITION (libiscsi keeps the data segment in datain:
 * a 2-byte length, then the sense). */
static void print_sense(FILE *f, struct scsi_task *t)
{
	fprintf(f, "sense key %s (0x%x), asc/ascq 0x%04x (%s)", scsi_sense_key_str(t->sense.key),
		t->sense.key, t->sense.ascq, scsi_sense_ascq_str(t->sense.ascq));
	if (t->datain.data && t->datain.size > 2) {
		int n = get_be(t->datain.data, 2);

		if (n > t->datain.size - 2)
			n = t->datain.size - 2;
		fprintf(f, ", bytes:");
		for (int i = 0; i < n; i++)
			fprintf(f, " %02x", t->datain.data[2 + i]);
	}
}

static const char *op_name(uint8_t op)
{
	switch (op) {
	case 0x00: return "TEST UNIT READY";
	case 0x01: return "REWIND";
	case 0x08: return "READ(6)";
	case 0x0a: return "WRITE(6)";
	case 0x10: return "WRITE FILEMARKS(6)";
	case 0x11: return "SPACE(6)";
	case 0x15: return "MODE SELECT(6)";
	case 0x1a: return "MODE SENSE(6)";
	case 0x2b: return "LOCATE(10)";
	default: return "command";
	}
}

/* Runs one command; dies on a transport error. The caller owns the task. */
static struct scsi_task *run(uint8_t *cdb, int cdb_len, int dir, uint8_t *buf, int len)
{
	struct scsi_task *t = scsi_create_task(cdb_len, cdb, dir, len);
	struct iscsi_data out = { .size = len, .data = buf };

	if (!t)
		die("out of memory");
	if (dir == SCSI_XFER_READ && len > 0 && scsi_task_add_data_in_buffer(t, len, buf))
		die("scsi_task_add_data_in_buffer: %s", iscsi_get_error(iscsi));
	if (!iscsi_scsi_command_sync(iscsi, lun, t, dir == SCSI_XFER_WRITE ? &out : NULL))
		die("%s: transport error: %s", op_name(cdb[0]), iscsi_get_error(iscsi));
	return t;
}

/* Runs one command that must end GOOD. */
static void must(uint8_t *cdb, int cdb_len, int dir, uint8_t *buf, int len, const char *what)
{
	struct scsi_task *t = run(cdb, cdb_len, dir, buf, len);

	if (t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "vtl_initiator: %s (%s) failed, status 0x%x: ", what,
			op_name(cdb[0]), t->status);
		if (t->status == SCSI_STATUS_CHECK_CONDITION)
			print_sense(stderr, t);
		fprintf(stderr, "\n");
		exit(1);
	}
	scsi_free_scsi_task(t);
}

static void login(const char *url_text)
{
	struct iscsi_url *url;
	int tries;

	iscsi = iscsi_create_context(INITIATOR);
	if (!iscsi)
		die("iscsi_create_context failed");
	url = iscsi_parse_full_url(iscsi, url_text);
	if (!url)
		die("bad URL %s: %s", url_text, iscsi_get_error(iscsi));
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	/* A lost connection ends the run, loudly: no silent reconnects, no endless waits. */
	iscsi_set_noautoreconnect(iscsi, 1);
	iscsi_set_timeout(iscsi, 120);
	lun = url->lun;
	if (iscsi_full_connect_sync(iscsi, url->portal, lun))
		die("login to %s failed: %s", url_text, iscsi_get_error(iscsi));
	iscsi_destroy_url(url);

	/* A new I_T nexus sees unit attentions (power on, medium changed): TEST UNIT READY
	 * until GOOD. */
	for (tries = 0;; tries++) {
		uint8_t cdb[6] = { 0x00 };
		struct scsi_task *t = run(cdb, 6, SCSI_XFER_NONE, NULL, 0);
		int good = t->status == SCSI_STATUS_GOOD;

		if (!good && (tries >= 5 || t->status != SCSI_STATUS_CHECK_CONDITION ||
			      t->sense.key != SCSI_SENSE_UNIT_ATTENTION)) {
			fprintf(stderr, "vtl_initiator: the drive is not ready after %d tries: ",
				tries + 1);
			print_sense(stderr, t);
			fprintf(stderr, "\n");
			exit(1);
		}
		scsi_free_scsi_task(t);
		if (good)
			break;
	}
}

static void logout(void)
{
	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
}

static void rewind_tape(void)
{
	uint8_t cdb[6] = { 0x01 };

	must(cdb, 6, SCSI_XFER_NONE, NULL, 0, "rewind");
}

static void write_filemark(void)
{
	uint8_t cdb[6] = { 0x10, 0, 0, 0, 1, 0 }; /* no IMMED: a sync point */

	must(cdb, 6, SCSI_XFER_NONE, NULL, 0, "write filemark");
}

static void write_block(uint8_t *buf, uint32_t len)
{
	uint8_t cdb[6] = { 0x0a, 0 }; /* FIXED = 0: one variable block of len bytes */

	put_be(cdb + 2, len, 3);
	must(cdb, 6, SCSI_XFER_WRITE, buf, len, "write");
}

static void read_block(uint8_t *buf, uint32_t len, uint64_t want)
{
	uint8_t cdb[6] = { 0x08, 0 }; /* FIXED = 0, SILI = 0 */
	uint64_t got;

	put_be(cdb + 2, len, 3);
	must(cdb, 6, SCSI_XFER_READ, buf, len, "read");
	got = get_be(buf, 8);
	if (got != want)
		die("read block %" PRIu64 " but it holds block %" PRIu64, want, got);
}

/* MODE SENSE(6) of page 0Fh, DCE set, MODE SELECT(6) back (PF = 1). */
static void set_compression(void)
{
	uint8_t sense_cdb[6] = { 0x1a, 0, 0x0f, 0, 255, 0 };
	uint8_t select_cdb[6] = { 0x15, 0x10, 0, 0, 0, 0 };
	uint8_t buf[255];
	struct scsi_task *t = run(sense_cdb, 6, SCSI_XFER_READ, buf, sizeof(buf));
	int len, bdl, page;

	if (t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "vtl_initiator: MODE SENSE(6) of page 0Fh failed: ");
		print_sense(stderr, t);
		fprintf(stderr, "\n");
		exit(1);
	}
	len = buf[0] + 1;
	scsi_free_scsi_task(t);
	bdl = buf[3];
	page = 4 + bdl;
	if (len < page + 16 || (buf[page] & 0x3f) != 0x0f)
		die("MODE SENSE(6) returned no data compression page");
	buf[0] = 0;            /* mode data length: reserved in MODE SELECT */
	buf[page] &= 0x3f;     /* PS: reserved in MODE SELECT */
	buf[page + 2] |= 0x80; /* DCE */
	select_cdb[4] = len;
	must(select_cdb, 6, SCSI_XFER_WRITE, buf, len, "set DCE");
}

/* The data of the write mode: random bytes that go on from block to block, so neither
 * compression nor deduplication gains anything. */
static void fill_random(uint8_t *buf, size_t len)
{
	static uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
}

static uint32_t parse_u32(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0 || v > 0xffffff)
		die("bad %s: %s", what, s);
	return v;
}

static void result(double value, const char *unit)
{
	printf("RESULT %.1f %s\n", value, unit);
}

int main(int argc, char **argv)
{
	int compress = 0, by_space = 0;
	const char *mode;

	while (argc > 1 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "--compress"))
			compress = 1;
		else if (!strcmp(argv[1], "--by-space"))
			by_space = 1;
		else
			die("unknown option %s", argv[1]);
		argv++, argc--;
	}
	if (argc < 5)
		die("usage: [--compress] write|read URL BLOCKSIZE COUNT | [--by-space] locate URL N COUNT [BLOCKSIZE] | [--compress] writefiles URL BLOCKSIZE FILE...");
	mode = argv[1];
	login(argv[2]);

	if (!strcmp(mode, "write") || !strcmp(mode, "read")) {
		uint32_t bs = parse_u32(argv[3], "block size"), count = parse_u32(argv[4], "count");
		uint8_t *buf = malloc(bs);
		int writing = mode[0] == 'w';
		double t0, secs;

		if (!buf || bs < 8)
			die("bad block size");
		if (writing && compress)
			set_compression();
		rewind_tape();
		t0 = now();
		for (uint32_t n = 0; n < count; n++) {
			if (writing) {
				fill_random(buf, bs);
				put_be(buf, n, 8);
				write_block(buf, bs);
			} else {
				read_block(buf, bs, n);
			}
		}
		if (writing)
			write_filemark();
		secs = now() - t0;
		fprintf(stderr, "%s: %u blocks of %u bytes in %.3f s\n", mode, count, bs, secs);
		result((double)count * bs / secs / 1e6, "MB/s");
	} else if (!strcmp(mode, "locate")) {
		uint32_t n = parse_u32(argv[3], "N"), count = parse_u32(argv[4], "count");
		uint32_t bs = argc > 5 ? parse_u32(argv[5], "block size") : 262144;
		uint8_t *buf = malloc(bs);
		uint64_t pos = 0; /* the block the tape is before */
		double t0, secs;

		if (!buf)
			die("out of memory");
		srand48(42); /* the same blocks on every target and round */
		rewind_tape();
		t0 = now();
		for (uint32_t i = 0; i < count; i++) {
			uint64_t want = lrand48() % n;

			if (by_space) {
				int64_t d = (int64_t)want - (int64_t)pos;
				uint8_t cdb[6] = { 0x11, 0x00 }; /* SPACE(6), code 0: blocks */

				put_be(cdb + 2, (uint64_t)d & 0xffffff, 3);
				if (d)
					must(cdb, 6, SCSI_XFER_NONE, NULL, 0, "space");
			} else {
				uint8_t cdb[10] = { 0x2b, 0 }; /* LOCATE(10), BT = 0, partition 0 */
				struct scsi_task *t;

				put_be(cdb + 3, want, 4);
				t = run(cdb, 10, SCSI_XFER_NONE, NULL, 0);
				if (t->status == SCSI_STATUS_CHECK_CONDITION &&
				    t->sense.key == SCSI_SENSE_ILLEGAL_REQUEST &&
				    t->sense.ascq == 0x2000) {
					fprintf(stderr, "vtl_initiator: LOCATE(10) is not supported: ");
					print_sense(stderr, t);
					fprintf(stderr, "\n");
					return EXIT_NO_LOCATE;
				}
				if (t->status != SCSI_STATUS_GOOD) {
					fprintf(stderr, "vtl_initiator: LOCATE(10) to %" PRIu64 " failed: ",
						want);
					print_sense(stderr, t);
					fprintf(stderr, "\n");
					return 1;
				}
				scsi_free_scsi_task(t);
			}
			read_block(buf, bs, want);
			pos = want + 1;
		}
		secs = now() - t0;
		fprintf(stderr, "locate%s: %u positionings + reads in %.3f s\n",
			by_space ? " (by SPACE)" : "", count, secs);
		result(count / secs, "ops/s");
	} else if (!strcmp(mode, "writefiles")) {
		uint32_t bs = parse_u32(argv[3], "block size");
		uint8_t *buf = malloc(bs);
		uint64_t total = 0;
		double t0, secs;

		if (!buf)
			die("out of memory");
		if (compress)
			set_compression();
		rewind_tape();
		t0 = now();
		for (int f = 4; f < argc; f++) {
			int fd = open(argv[f], O_RDONLY);
			ssize_t got = 0;

			if (fd < 0)
				die("%s: %s", argv[f], strerror(errno));
			for (;;) {
				size_t have = 0;

				while (have < bs && (got = read(fd, buf + have, bs - have)) > 0)
					have += got;
				if (got < 0)
					die("%s: %s", argv[f], strerror(errno));
				if (have == 0)
					break;
				write_block(buf, have);
				total += have;
				if (have < bs)
					break;
			}
			close(fd);
			write_filemark();
		}
		secs = now() - t0;
		fprintf(stderr, "writefiles: %" PRIu64 " bytes in %d files in %.3f s (%.1f MB/s)\n",
			total, argc - 4, secs, total / secs / 1e6);
		printf("BYTES %" PRIu64 "\n", total);
		result(total / secs / 1e6, "MB/s");
	} else {
		die("unknown mode %s", mode);
	}
	logout();
	return 0;
}
