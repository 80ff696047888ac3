/*
 * Entropy coding of baseline JPEG (ITU-T T.81) between a stream and planes of quantized DCT
 * coefficients: the lossless re-tiling's codec (cytotile.importer.retile), without libjpeg.
 *
 *   decode(stream, planes) -> quantization tables     (Huffman decoding, Annex F.2.2)
 *   encode(planes, sampling, mcus, tables) -> bytes   (Huffman coding, Annex F.1.2)
 *   encode_edge(planes, sampling, mcus, exact_mcus, tables) -> (bytes, bytes)
 *                                                     (encode's padded and exact edge tiles)
 *   gather(planes, sampling, mcus, counts) -> None    (the symbols encode would emit, counted)
 *   count(stream, counts), prepare(sets) -> tables    (a tile's symbols counted; tables parsed)
 *   transcode(stream, planes, tables[, choice]) -> (quant, bits, records)
 *                                                     (decode, each block's AC bits kept: coded
 *                                                     with the tables, or the source's copied)
 *   assemble(stores, grid, origin, ..., tables[, which[, head]]) -> bytes
 *                                                     (an output tile from transcoded blocks)
 *   half(planes, sampling, quant, ycc, out[, counts])  (pixels at half scale: level 1)
 *   halve(src, dst), histogram(pixels, counts, weight) (the lower tiers' 2x2 means, counts)
 *
 * A plane is an int16 buffer of shape (rows, cols, 64): one block of 64 coefficients in natural
 * (row-major) order per (row, col), the last axis contiguous, the others any strides. The work
 * is done without the GIL, on local state only: threads run in parallel (decode's headers are
 * read with it: its cache of Huffman tables). Every read of the stream and every write of a
 * plane is bounds-checked; bad input is a ValueError.
 *
 * Plain C99, the Python C-API and libc only (the import Lambda has no libjpeg).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
/* pthread_create as old glibc defines it (2.34 moved it into libc, under a new version): the
 * module must load on the Lambda's glibc (tests/importer/test_jpegdct.py). */
#if defined(__GLIBC__) && defined(__x86_64__)
__asm__(".symver pthread_create, pthread_create@GLIBC_2.2.5");
#elif defined(__GLIBC__) && defined(__aarch64__)
__asm__(".symver pthread_create, pthread_create@GLIBC_2.17");
#endif
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h> /* compiler intrinsics (no library): a block's non-zero mask */
#endif

#define MAX_COMPONENTS 4
#define MAX_BLOCKS_IN_MCU 10 /* B.2.3: an interleaved MCU holds at most 10 blocks */
#define LOOKAHEAD 10 /* bits resolved by one table lookup when decoding (9: 7-15% slower) */

/* Position in a block (natural order) of the k-th coefficient in zig-zag order (Figure A.6). */
static const uint8_t ZIGZAG[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

/* Errors found without the GIL: a message, raised as ValueError once the GIL is back. */
typedef struct {
    char msg[160];
    int failed;
} errmsg_t;

static int fail(errmsg_t *err, const char *fmt, ...)
{
    if (!err->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->failed = 1;
    }
    return -1;
}

/* Magnitude category of a value (the number of bits of |v|, F.1.2.1.1 / F.1.2.2.1). */
static inline int category(int v)
{
    unsigned a = (unsigned)(v < 0 ? -v : v);
#if defined(__GNUC__)
    return a ? 32 - __builtin_clz(a) : 0;
#else
    int n = 0;
    while (a) {
        n++;
        a >>= 1;
    }
    return n;
#endif
}

/* category() without a branch on 0 (a DC difference often is 0: the branch went either way),
 * for |v| < 2^31. */
static inline int category_dc(int v)
{
#if defined(__GNUC__)
    return 31 - __builtin_clz((unsigned)(v < 0 ? -v : v) << 1 | 1);
#else
    return category(v);
#endif
}

/* category() of a value known not to be 0 (an AC coefficient coded): no test of 0. */
static inline int category_nz(int v)
{
#if defined(__GNUC__)
    return 32 - __builtin_clz((unsigned)(v < 0 ? -v : v));
#else
    return category(v);
#endif
}

/* Index of the lowest 1-bit of a non-zero word. */
static inline int lowest_bit(uint64_t x)
{
#if defined(__GNUC__)
    return __builtin_ctzll(x);
#else
    int n = 0;
    while (!(x & 1)) {
        n++;
        x >>= 1;
    }
    return n;
#endif
}

static inline void zero_block(int16_t *blk)
{
#if defined(__SSE2__) /* memset (or a loop) of 128 bytes compiles to "rep stos": slow */
    const __m128i zero = _mm_setzero_si128();
    _mm_storeu_si128((__m128i *)blk, zero);
    _mm_storeu_si128((__m128i *)(blk + 8), zero);
    _mm_storeu_si128((__m128i *)(blk + 16), zero);
    _mm_storeu_si128((__m128i *)(blk + 24), zero);
    _mm_storeu_si128((__m128i *)(blk + 32), zero);
    _mm_storeu_si128((__m128i *)(blk + 40), zero);
    _mm_storeu_si128((__m128i *)(blk + 48), zero);
    _mm_storeu_si128((__m128i *)(blk + 56), zero);
#else
    memset(blk, 0, 64 * sizeof *blk);
#endif
}

/* ---------------------------------------------------------------------------------------------
 * Coefficient planes (buffer protocol views)
 */
typedef struct {
    char *base;
    Py_ssize_t rows, cols; /* in blocks */
    Py_ssize_t s0, s1;     /* byte strides of rows and columns */
} plane_t;

static inline int16_t *plane_block(const plane_t *p, Py_ssize_t by, Py_ssize_t bx)
{
    return (int16_t *)(p->base + by * p->s0 + bx * p->s1);
}

/* Gets the buffer of planes[k] (writable for decode) and checks it is int16 (rows, cols, 64)
 * with a contiguous, aligned last axis. On failure, a ValueError is set and -1 returned. */
static int plane_open(PyObject *obj, int writable, Py_ssize_t k, Py_buffer *view, plane_t *out)
{
    int flags = writable ? PyBUF_RECORDS : PyBUF_RECORDS_RO;
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "plane %zd: not a%s int16 array", k,
                     writable ? " writable" : "n");
        return -1;
    }
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    if (view->itemsize != 2 || strcmp(f, "h") != 0 || view->ndim != 3 || view->shape[2] != 64) {
        PyErr_Format(PyExc_ValueError, "plane %zd: not an int16 array of shape (rows, cols, 64)",
                     k);
        goto bad;
    }
    if (view->strides[2] != 2 || ((uintptr_t)view->buf | (uintptr_t)view->strides[0] |
                                  (uintptr_t)view->strides[1]) % 2) {
        PyErr_Format(PyExc_ValueError, "plane %zd: the last axis is not contiguous", k);
        goto bad;
    }
    out->base = view->buf;
    out->rows = view->shape[0];
    out->cols = view->shape[1];
    out->s0 = view->strides[0];
    out->s1 = view->strides[1];
    return 0;
bad:
    PyBuffer_Release(view);
    return -1;
}

/* Opens every plane of the sequence `planes` (n of them); releases all on failure. */
static int planes_open(PyObject *seq, int writable, Py_buffer *views, plane_t *planes,
                       Py_ssize_t *n)
{
    if (!PyTuple_Check(seq) && !PyList_Check(seq)) {
        PyErr_SetString(PyExc_ValueError, "planes: a tuple of arrays is expected");
        return -1;
    }
    *n = PySequence_Fast_GET_SIZE(seq);
    if (*n < 1 || *n > MAX_COMPONENTS) {
        PyErr_Format(PyExc_ValueError, "planes: 1 to %d expected, %zd given", MAX_COMPONENTS,
                     *n);
        return -1;
    }
    for (Py_ssize_t k = 0; k < *n; k++) {
        if (plane_open(PySequence_Fast_GET_ITEM(seq, k), writable, k, &views[k], &planes[k]) <
            0) {
            while (k--)
                PyBuffer_Release(&views[k]);
            return -1;
        }
    }
    return 0;
}

static void planes_close(Py_buffer *views, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++)
        PyBuffer_Release(&views[k]);
}

/* ---------------------------------------------------------------------------------------------
 * Huffman decoding tables (Annex C; the decoding procedure of F.2.2.3)
 */
typedef struct {
    int defined;
    int nvals;
    uint8_t vals[256];     /* HUFFVAL: the symbols, by increasing code length */
    int32_t mincode[17];   /* per code length: the first code, */
    int32_t maxcode[17];   /* the last one (-1: no code of this length), */
    int32_t valptr[17];    /* the index in vals of the first code's symbol */
    uint16_t look[1 << LOOKAHEAD]; /* next LOOKAHEAD bits -> (length << 8 | symbol) of the code
                                      they start with, 0 when that code is longer */
    int16_t fast[1 << LOOKAHEAD]; /* next LOOKAHEAD bits -> value * 256 | run << 4 | bits
                                     used, when they hold a code and all its extra bits and the
                                     value is within -128..127 (AC's EOB, DC's category 0:
                                     value 0, the code's length); else 0. DC: categories 0..11
                                     only (run 0) */
} dhuff_t;

/* Builds the tables from BITS (counts[l]: codes of length l, 1..16) and HUFFVAL (Annex C:
 * canonical codes, consecutive within a length, shifted left by one at each next length). */
static int dhuff_build(dhuff_t *t, const uint8_t *counts, const uint8_t *vals, int nvals, int ac)
{
    memset(t, 0, sizeof *t);
    memcpy(t->vals, vals, (size_t)nvals);
    t->nvals = nvals;
    int32_t code = 0;
    int p = 0;
    for (int len = 1; len <= 16; len++, code <<= 1) {
        t->valptr[len] = p;
        t->mincode[len] = code;
        t->maxcode[len] = counts[len - 1] ? code + counts[len - 1] - 1 : -1;
        for (int i = 0; i < counts[len - 1]; i++, p++, code++) {
            if (code >= (1 << len))
                return -1; /* more codes than the length can hold */
            if (len <= LOOKAHEAD) {
                int shift = LOOKAHEAD - len;
                for (int j = 0; j < (1 << shift); j++)
                    t->look[(code << shift) | j] = (uint16_t)(len << 8 | vals[p]);
            }
        }
    }
    for (int i = 0; i < (1 << LOOKAHEAD); i++) {
        int len = t->look[i] >> 8, r = (t->look[i] >> 4) & 15, size = t->look[i] & 15;
        if (len != 0 && (t->look[i] & 0xFF) == 0x00) { /* EOB, DC 0: value 0 (no other has) */
            t->fast[i] = (int16_t)len;
            continue;
        }
        if (len == 0 || size == 0 || len + size > LOOKAHEAD || (!ac && (t->look[i] & 0xFF) > 11))
            continue;
        int v = (i >> (LOOKAHEAD - len - size)) & ((1 << size) - 1);
        if (v < (1 << (size - 1))) /* EXTEND (F.2.2.1) */
            v -= (1 << size) - 1;
        if (v >= -128 && v <= 127)
            t->fast[i] = (int16_t)(v * 256 + (r << 4 | (len + size)));
    }
    t->defined = 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Bit reader of entropy-coded data (F.2.2.5): a 0xFF data byte is followed by a stuffed 0x00,
 * which is dropped; any other byte after 0xFF makes a marker, where the data ends. Past the end
 * (a marker, or the end of the buffer) the reader supplies zero bits and counts them as `pad`:
 * consuming any of them means the data ended too early.
 */
enum { STOP_NONE, STOP_MARKER, STOP_END };

typedef struct {
    const uint8_t *p, *end; /* next byte; end of the buffer */
    uint64_t acc;           /* bits read ahead, left-aligned (the first one is bit 63): `bits`
                               of them (a lookup is a shift by a constant); below, zeros or
                               the next byte's own first bits (br_fill) */
    int bits;
    int pad;                /* the last `pad` bits read ahead are zeros past the end of the data */
    int stop;               /* why the data ended: STOP_MARKER leaves p at the marker's 0xFF */
} breader_t;

/* The 8 bytes at p as a big-endian word (its first byte the top one). */
static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(w);
#else
    w = 0;
    for (int i = 0; i < 8; i++)
        w = w << 8 | p[i];
    return w;
#endif
}

/* br_fill's byte-by-byte path: up to a 0xFF (stuffed or a marker) or the end of the buffer.
 * The reader by value: its callers' copy never leaves registers for it. */
static breader_t br_fill_slow(breader_t reader)
{
    breader_t *br = &reader;
    while (br->bits <= 56) {
        unsigned b = 0;
        if (br->stop == STOP_NONE) {
            if (br->p >= br->end) {
                br->stop = STOP_END;
            } else if (*br->p != 0xFF) {
                b = *br->p++;
            } else if (br->p + 1 >= br->end) {
                br->stop = STOP_END;
            } else if (br->p[1] == 0x00) {
                b = 0xFF;
                br->p += 2;
            } else {
                br->stop = STOP_MARKER;
            }
        }
        if (br->stop != STOP_NONE)
            br->pad += 8;
        br->acc |= (uint64_t)b << (56 - br->bits);
        br->bits += 8;
    }
    return reader;
}

/* Tops up the reader to 56 bits or more (it holds 63 at most: a caller consumes bits after
 * each fill). Without a branch on the bits held in the usual case, the next 8 bytes holding no
 * 0xFF: they are all or'ed in below the bits held, whole bytes counted; the part of a byte
 * not counted is that byte's own top bits, or'ed in again at the next fill (reading on from
 * it byte by byte too: no 0xFF before it). Else byte by byte. */
static inline void br_fill(breader_t *br)
{
    if (br->stop == STOP_NONE && br->end - br->p >= 8) {
        uint64_t w = load_be64(br->p);
        uint64_t x = ~w; /* a zero byte of x is a 0xFF of w */
        if (((x - 0x0101010101010101u) & ~x & 0x8080808080808080u) == 0) {
            br->acc |= w >> br->bits;
            br->p += (63 - br->bits) >> 3; /* whole bytes that fit: 0 to 7 */
            br->bits |= 56;                /* bits + 8 * those */
            return;
        }
    }
    if (br->bits <= 56)
        *br = br_fill_slow(*br);
}

/* br_fill for data without stuffing or markers (copy mode's unstuffed scan: unstuff_scan): any
 * byte is data; past the end, zero bits counted as `pad`. */
static inline void br_fill_plain(breader_t *br)
{
    if (br->end - br->p >= 8) {
        uint64_t w = load_be64(br->p);
        br->acc |= w >> br->bits;
        br->p += (63 - br->bits) >> 3;
        br->bits |= 56;
        return;
    }
    while (br->bits <= 56) {
        unsigned b = 0;
        if (br->p < br->end)
            b = *br->p++;
        else
            br->pad += 8;
        br->acc |= (uint64_t)b << (56 - br->bits);
        br->bits += 8;
    }
}

/* Bits of the data consumed so far (base: its first byte; the zeros past its end included),
 * for br_fill_plain's reader. */
static inline uint32_t br_position(const breader_t *br, const uint8_t *base)
{
    return (uint32_t)((size_t)(br->p - base) * 8 + (size_t)br->pad - (size_t)br->bits);
}

/* The next n bits (1 <= n <= 16), left in the reader. */
static inline unsigned br_peek(const breader_t *br, int n)
{
    return (unsigned)(br->acc >> (64 - n));
}

static inline void br_skip(breader_t *br, int n)
{
    br->acc <<= n;
    br->bits -= n;
}

/* RECEIVE(s) then EXTEND (F.2.2.1): s bits as a signed value (leading 0: negative). */
static inline int br_receive_extend(breader_t *br, int s)
{
    if (s == 0)
        return 0;
    int v = (int)br_peek(br, s);
    br_skip(br, s);
    return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v;
}

/* DECODE (F.2.2.3): the next symbol, or -1 if the bits are no code of the table. Needs at
 * least 16 bits in the reader. */
static inline int br_decode(breader_t *br, const dhuff_t *t)
{
    unsigned e = t->look[br_peek(br, LOOKAHEAD)];
    if (e) {
        br_skip(br, (int)(e >> 8));
        return (int)(e & 0xFF);
    }
    unsigned bits16 = br_peek(br, 16);
    for (int len = LOOKAHEAD + 1; len <= 16; len++) {
        int32_t code = (int32_t)(bits16 >> (16 - len));
        if (code <= t->maxcode[len]) {
            int32_t i = t->valptr[len] + code - t->mincode[len];
            if (i < 0 || i >= t->nvals)
                return -1;
            br_skip(br, len);
            return t->vals[i];
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Stream headers (B.2): SOI, tables and miscellaneous segments, the frame, the scan header
 */
typedef struct {
    int id, h, v, tq, td, ta;
    Py_ssize_t bw, bh; /* blocks of the component inside the image (A.2.1 / A.2.3) */
} comp_t;

typedef struct {
    dhuff_t dc[4], ac[4];
    uint16_t qt[4][64]; /* natural order */
    int qt_defined[4];
    int restart;        /* restart interval in MCUs, 0 if none */
    int width, height, ncomp, hmax, vmax;
    comp_t comp[MAX_COMPONENTS];
    int nscan;
    int scan[MAX_COMPONENTS]; /* the scan's components (indexes in comp), in its order */
    Py_ssize_t mcux, mcuy;
    const uint8_t *data; /* the entropy-coded data, after the scan header */
} jpeg_t;

static int parse_dqt(jpeg_t *j, const uint8_t *s, size_t n, errmsg_t *err)
{
    while (n > 0) {
        int pq = s[0] >> 4, tq = s[0] & 15;
        size_t size = 1 + 64 * (size_t)(pq + 1);
        if (pq > 1 || tq > 3)
            return fail(err, "corrupt: DQT precision %d, table %d", pq, tq);
        if (n < size)
            return fail(err, "corrupt: DQT segment too short");
        for (int k = 0; k < 64; k++) /* the values come in zig-zag order */
            j->qt[tq][ZIGZAG[k]] = pq ? (uint16_t)(s[1 + 2 * k] << 8 | s[2 + 2 * k]) : s[1 + k];
        j->qt_defined[tq] = 1;
        s += size;
        n -= size;
    }
    return 0;
}

/* The tables built last, by their DHT bytes: the tiles of a level share theirs, built once
 * instead of once a tile (the lookup tables' 1024 entries each: a few us a tile). Used with the
 * GIL held only (decode parses the headers before releasing it). */
#define DHT_CACHE 8
typedef struct {
    int len; /* of key: the class, BITS and HUFFVAL (0: empty) */
    uint8_t key[1 + 16 + 256];
    dhuff_t table;
} dht_cached_t;
static dht_cached_t dht_cache[DHT_CACHE];
static int dht_next;

/* The table of a DHT definition at seg (Tc/Th, BITS, HUFFVAL of `total` symbols) into t. */
static int dhuff_get(dhuff_t *t, const uint8_t *seg, int total, int tc)
{
    int len = 1 + 16 + total;
    for (int i = 0; i < DHT_CACHE; i++) {
        const dht_cached_t *c = &dht_cache[i];
        if (c->len == len && c->key[0] == tc && memcmp(c->key + 1, seg + 1, (size_t)len - 1) == 0) {
            memcpy(t, &c->table, sizeof *t);
            return 0;
        }
    }
    if (dhuff_build(t, seg + 1, seg + 17, total, tc) < 0)
        return -1;
    dht_cached_t *c = &dht_cache[dht_next];
    dht_next = (dht_next + 1) % DHT_CACHE;
    c->len = len;
    c->key[0] = (uint8_t)tc;
    memcpy(c->key + 1, seg + 1, (size_t)len - 1);
    memcpy(&c->table, t, sizeof *t);
    return 0;
}

static int parse_dht(jpeg_t *j, const uint8_t *s, size_t n, errmsg_t *err)
{
    while (n > 0) {
        if (n < 17)
            return fail(err, "corrupt: DHT segment too short");
        int tc = s[0] >> 4, th = s[0] & 15, total = 0;
        if (tc > 1 || th > 3)
            return fail(err, "corrupt: DHT class %d, table %d", tc, th);
        for (int l = 0; l < 16; l++)
            total += s[1 + l];
        if (total > 256 || n < 17 + (size_t)total)
            return fail(err, "corrupt: DHT segment too short or over 256 symbols");
        if (dhuff_get(tc ? &j->ac[th] : &j->dc[th], s, total, tc) < 0)
            return fail(err, "corrupt: DHT table %d:%d has more codes than fit", tc, th);
        s += 17 + total;
        n -= 17 + (size_t)total;
    }
    return 0;
}

static int parse_sof(jpeg_t *j, const uint8_t *s, size_t n, errmsg_t *err)
{
    if (j->ncomp)
        return fail(err, "corrupt: two frame headers");
    if (n < 6)
        return fail(err, "corrupt: SOF segment too short");
    if (s[0] != 8)
        return fail(err, "unsupported: %d-bit samples (8 only)", s[0]);
    j->height = s[1] << 8 | s[2];
    j->width = s[3] << 8 | s[4];
    int nf = s[5];
    if (j->height == 0 || j->width == 0)
        return fail(err, "unsupported: frame size of 0 (%dx%d)", j->width, j->height);
    if (nf < 1 || nf > MAX_COMPONENTS || n != 6 + 3 * (size_t)nf)
        return fail(err, "unsupported or corrupt: %d components", nf);
    j->hmax = j->vmax = 1;
    for (int k = 0; k < nf; k++) {
        comp_t *c = &j->comp[k];
        c->id = s[6 + 3 * k];
        c->h = s[7 + 3 * k] >> 4;
        c->v = s[7 + 3 * k] & 15;
        c->tq = s[8 + 3 * k];
        if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq > 3)
            return fail(err, "corrupt: component %d sampling %dx%d, table %d", k, c->h, c->v,
                        c->tq);
        for (int i = 0; i < k; i++)
            if (j->comp[i].id == c->id)
                return fail(err, "corrupt: two components of id %d", c->id);
        j->hmax = c->h > j->hmax ? c->h : j->hmax;
        j->vmax = c->v > j->vmax ? c->v : j->vmax;
    }
    for (int k = 0; k < nf; k++) { /* A.1.1: a component is ceil(X * h / hmax) samples wide */
        comp_t *c = &j->comp[k];
        c->bw = (((Py_ssize_t)j->width * c->h + j->hmax - 1) / j->hmax + 7) / 8;
        c->bh = (((Py_ssize_t)j->height * c->v + j->vmax - 1) / j->vmax + 7) / 8;
    }
    j->ncomp = nf;
    return 0;
}

static int parse_sos(jpeg_t *j, const uint8_t *s, size_t n, errmsg_t *err)
{
    if (!j->ncomp)
        return fail(err, "corrupt: a scan before the frame header");
    int ns = n ? s[0] : 0;
    if (ns < 1 || n != 4 + 2 * (size_t)ns)
        return fail(err, "corrupt: SOS segment length");
    if (ns != j->ncomp)
        return fail(err, "unsupported: non-interleaved scan (%d of %d components)", ns,
                     j->ncomp);
    const uint8_t *t = s + 1 + 2 * ns; /* Ss, Se, Ah:Al */
    if (t[0] != 0 || t[1] != 63 || t[2] != 0)
        return fail(err, "unsupported: progressive scan (Ss %d, Se %d, Ah:Al 0x%02X)", t[0],
                    t[1], t[2]);
    int blocks = 0;
    for (int i = 0; i < ns; i++) {
        int k = 0;
        while (k < j->ncomp && j->comp[k].id != s[1 + 2 * i])
            k++;
        if (k == j->ncomp)
            return fail(err, "corrupt: scan component %d is not in the frame", s[1 + 2 * i]);
        for (int m = 0; m < i; m++)
            if (j->scan[m] == k)
                return fail(err, "corrupt: scan component %d twice", s[1 + 2 * i]);
        comp_t *c = &j->comp[k];
        c->td = s[2 + 2 * i] >> 4;
        c->ta = s[2 + 2 * i] & 15;
        if (c->td > 3 || c->ta > 3 || !j->dc[c->td].defined || !j->ac[c->ta].defined)
            return fail(err, "corrupt: Huffman tables %d/%d of component %d not defined", c->td,
                        c->ta, k);
        if (!j->qt_defined[c->tq])
            return fail(err, "corrupt: quantization table %d not defined", c->tq);
        j->scan[i] = k;
        blocks += c->h * c->v;
    }
    j->nscan = ns;
    if (ns == 1) { /* A.2.2: a single component's MCU is one block, the image its size */
        j->comp[0].h = j->comp[0].v = 1;
        j->mcux = j->comp[0].bw;
        j->mcuy = j->comp[0].bh;
    } else {
        if (blocks > MAX_BLOCKS_IN_MCU)
            return fail(err, "corrupt: %d blocks in an MCU (10 at most)", blocks);
        j->mcux = (j->width + 8 * j->hmax - 1) / (8 * j->hmax);
        j->mcuy = (j->height + 8 * j->vmax - 1) / (8 * j->vmax);
    }
    return 0;
}

/* Reads the segments up to and including the scan header; j->data is then the scan's data. */
static int parse_headers(jpeg_t *j, const uint8_t *buf, size_t len, errmsg_t *err)
{
    if (len < 2 || buf[0] != 0xFF || buf[1] != 0xD8)
        return fail(err, "corrupt: not a JPEG stream (no SOI)");
    size_t pos = 2;
    for (;;) {
        if (pos < len && buf[pos] != 0xFF)
            return fail(err, "corrupt: no marker at byte %zu", pos);
        while (pos < len && buf[pos] == 0xFF) /* B.1.1.2: fill bytes before a marker */
            pos++;
        if (pos < len && buf[pos] == 0xD9)
            return fail(err, "corrupt: EOI before any scan");
        if (pos + 3 > len)
            return fail(err, "truncated: the stream ends before the scan");
        int m = buf[pos];
        size_t seglen = (size_t)buf[pos + 1] << 8 | buf[pos + 2];
        if (seglen < 2)
            return fail(err, "corrupt: marker 0x%02X: segment length %zu", m, seglen);
        if (pos + 1 + seglen > len)
            return fail(err, "truncated: the stream ends inside a marker segment");
        const uint8_t *s = buf + pos + 3;
        size_t n = seglen - 2;
        pos += 1 + seglen;
        int rc = 0;
        if (m == 0xDB) {
            rc = parse_dqt(j, s, n, err);
        } else if (m == 0xC4) {
            rc = parse_dht(j, s, n, err);
        } else if (m == 0xDD) {
            if (n != 2)
                return fail(err, "corrupt: DRI segment length");
            j->restart = s[0] << 8 | s[1];
        } else if (m == 0xC0 || m == 0xC1) {
            rc = parse_sof(j, s, n, err);
        } else if (m == 0xDA) {
            if (parse_sos(j, s, n, err) < 0)
                return -1;
            j->data = buf + pos;
            return 0;
        } else if ((m >= 0xE0 && m <= 0xEF) || m == 0xFE) {
            /* APPn, COM: skipped */
        } else if (m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE) {
            return fail(err, "unsupported: progressive JPEG (SOF%d)", m - 0xC0);
        } else if (m >= 0xC9 && m <= 0xCF) { /* SOF9..SOF15 and DAC */
            return fail(err, "unsupported: arithmetic coding (marker 0x%02X)", m);
        } else if (m >= 0xC3 && m <= 0xC8) {
            return fail(err, "unsupported: lossless or hierarchical JPEG (SOF%d)", m - 0xC0);
        } else {
            return fail(err, "unsupported: marker 0x%02X before the scan", m);
        }
        if (rc < 0)
            return -1;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Scan decoding
 */
static int truncated(const breader_t *br, errmsg_t *err)
{
    return fail(err, br->stop == STOP_MARKER
                         ? "truncated: the scan data ends at a marker before its last MCU"
                         : "truncated: the stream ends before the last MCU");
}

static int decode_block(breader_t *reader, const dhuff_t *dc, const dhuff_t *ac, int16_t *pred,
                        int16_t *blk, errmsg_t *err);

/* At the end of a restart interval (F.2.2.5, B.2.5): the data ends (within its last byte's
 * padding) at RSTn, n the interval's number modulo 8; the reader restarts after it. */
static int restart(breader_t *br, int n, errmsg_t *err)
{
    br_fill(br);
    if (br->stop == STOP_END)
        return fail(err, "truncated: the stream ends before RST%d", n);
    if (br->stop != STOP_MARKER || br->bits - br->pad >= 8)
        return fail(err, "corrupt: data where RST%d is due", n);
    const uint8_t *p = br->p;
    while (p < br->end && *p == 0xFF)
        p++;
    if (p >= br->end)
        return fail(err, "truncated: the stream ends before RST%d", n);
    if (*p != 0xD0 + n)
        return fail(err, "corrupt: marker 0x%02X where RST%d is due", *p, n);
    br->p = p + 1;
    br->acc = 0;
    br->bits = br->pad = 0;
    br->stop = STOP_NONE;
    return 0;
}

/* A block of an MCU (B.2.3: each component's v x h blocks, row-major, in the scan's order):
 * the MCU as one loop of a fixed count, its branches predicted. */
typedef struct {
    const dhuff_t *dc, *ac;
    int k, cv, ch, v, h; /* component; its blocks an MCU (v, h); this one's row and column */
} slot_t;

/* The scan's MCU as slots (each component's v x h blocks, in the scan's order): their count. */
static int scan_slots(const jpeg_t *j, slot_t *slots)
{
    int nslots = 0;
    for (int i = 0; i < j->nscan; i++) {
        int k = j->scan[i];
        const comp_t *c = &j->comp[k];
        for (int v = 0; v < c->v; v++)
            for (int h = 0; h < c->h; h++) {
                slot_t *slot = &slots[nslots++];
                slot->dc = &j->dc[c->td];
                slot->ac = &j->ac[c->ta];
                slot->k = k, slot->cv = c->v, slot->ch = c->h, slot->v = v, slot->h = h;
            }
    }
    return nslots;
}

/* Slot o's block of MCU (mx, my) in its component's plane, or scratch when it falls outside
 * (the plane holds only the image's part of a partial MCU). */
static inline int16_t *slot_block(const plane_t *planes, const slot_t *o, Py_ssize_t mx,
                                  Py_ssize_t my, int16_t *scratch)
{
    const plane_t *pl = &planes[o->k];
    Py_ssize_t by = my * o->cv + o->v, bx = mx * o->ch + o->h;
    return by < pl->rows && bx < pl->cols ? plane_block(pl, by, bx) : scratch;
}

/* A scan walked MCU by MCU (decode_scan, transcode_scan, copy_scan): each component's DC
 * prediction, the MCU's slots, and where blocks outside their plane go. */
typedef struct {
    int16_t pred[MAX_COMPONENTS];
    int16_t scratch[64];
    slot_t slots[MAX_BLOCKS_IN_MCU];
    int nslots;
} walk_t;

static void walk_begin(const jpeg_t *j, walk_t *s)
{
    memset(s->pred, 0, sizeof s->pred);
    s->nslots = scan_slots(j, s->slots);
}

/* Before MCU `mcu`: past a restart interval's end, its RSTn read and the predictions reset. */
static inline int scan_restart(const jpeg_t *j, breader_t *br, Py_ssize_t mcu, int16_t *pred,
                               errmsg_t *err)
{
    if (j->restart && mcu > 0 && mcu % j->restart == 0) {
        if (restart(br, (int)((mcu / j->restart - 1) & 7), err) < 0)
            return -1;
        memset(pred, 0, MAX_COMPONENTS * sizeof *pred);
    }
    return 0;
}

static int decode_scan(const jpeg_t *j, const uint8_t *end, const plane_t *planes,
                       errmsg_t *err)
{
    breader_t br = {j->data, end, 0, 0, 0, STOP_NONE};
    walk_t s;
    Py_ssize_t mcu = 0;
    walk_begin(j, &s);
    for (Py_ssize_t my = 0; my < j->mcuy; my++) {
        for (Py_ssize_t mx = 0; mx < j->mcux; mx++, mcu++) {
            if (scan_restart(j, &br, mcu, s.pred, err) < 0)
                return -1;
            for (int b = 0; b < s.nslots; b++) {
                const slot_t *o = &s.slots[b];
                int16_t *blk = slot_block(planes, o, mx, my, s.scratch);
                if (decode_block(&br, o->dc, o->ac, &s.pred[o->k], blk, err) < 0)
                    return -1;
            }
        }
    }
    return 0;
}

/* The headers and the planes checked against them: with the GIL (the tables' cache). */
static int decode_headers(jpeg_t *j, const uint8_t *buf, size_t len, const plane_t *planes,
                          Py_ssize_t nplanes, errmsg_t *err)
{
    if (parse_headers(j, buf, len, err) < 0)
        return -1;
    if (nplanes != j->ncomp)
        return fail(err, "%zd planes for the stream's %d components", nplanes, j->ncomp);
    for (int k = 0; k < j->ncomp; k++)
        if (planes[k].rows < j->comp[k].bh || planes[k].cols < j->comp[k].bw)
            return fail(err, "plane %d too small: %zdx%zd blocks, the component has %zdx%zd", k,
                        planes[k].rows, planes[k].cols, j->comp[k].bh, j->comp[k].bw);
    return 0;
}

static PyObject *py_decode(PyObject *self, PyObject *args)
{
    Py_buffer stream, views[MAX_COMPONENTS];
    plane_t planes[MAX_COMPONENTS];
    PyObject *seq;
    Py_ssize_t n;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*O:decode", &stream, &seq))
        return NULL;
    if (planes_open(seq, 1, views, planes, &n) < 0) {
        PyBuffer_Release(&stream);
        return NULL;
    }
    jpeg_t *j = calloc(1, sizeof *j);
    errmsg_t err = {{0}, 0};
    if (j && decode_headers(j, stream.buf, (size_t)stream.len, planes, n, &err) == 0) {
        Py_BEGIN_ALLOW_THREADS
        decode_scan(j, (const uint8_t *)stream.buf + stream.len, planes, &err);
        Py_END_ALLOW_THREADS
    }
    planes_close(views, n);
    PyBuffer_Release(&stream);
    PyObject *result = NULL;
    if (!j) {
        PyErr_NoMemory();
    } else if (err.failed) {
        PyErr_SetString(PyExc_ValueError, err.msg);
    } else {
        uint8_t qt[4 * 64 * 2];
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 64; i++) {
                qt[2 * (64 * t + i)] = (uint8_t)(j->qt[t][i] & 0xFF);
                qt[2 * (64 * t + i) + 1] = (uint8_t)(j->qt[t][i] >> 8);
            }
        result = PyBytes_FromStringAndSize((const char *)qt, sizeof qt);
    }
    free(j);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * Encoding (F.1.2) and symbol counting
 */
typedef struct {
    uint32_t code[256];
    uint8_t size[256]; /* 0: the symbol has no code */
} ehuff_t;

/* Zig-zag index of each position of a block (the inverse of ZIGZAG). */
static const uint8_t UNZIGZAG[64] = {
    0,  1,  5,  6,  14, 15, 27, 28, 2,  4,  7,  13, 16, 26, 29, 42, 3,  8,  12, 17, 25, 30,
    41, 43, 9,  11, 18, 24, 31, 40, 44, 53, 10, 19, 23, 32, 39, 45, 52, 54, 20, 22, 33, 38,
    46, 51, 55, 60, 21, 34, 37, 47, 50, 56, 59, 61, 35, 36, 48, 49, 57, 58, 62, 63,
};

/* ZIGZAG_BITS[r][b]: the bits, in zig-zag order, of row r's coefficients set in b (natural
 * order within the row): a block's natural mask in zig-zag order is 8 lookups, independent. */
static uint64_t ZIGZAG_BITS[8][256];

static void zigzag_init(void)
{
    for (int r = 0; r < 8; r++)
        for (int b = 0; b < 256; b++) {
            uint64_t m = 0;
            for (int j = 0; j < 8; j++)
                if (b >> j & 1)
                    m |= (uint64_t)1 << UNZIGZAG[8 * r + j];
            ZIGZAG_BITS[r][b] = m;
        }
}

/* The natural-order mask `natural` in zig-zag order. */
static inline uint64_t zigzag_mask(uint64_t natural)
{
    return (ZIGZAG_BITS[0][natural & 0xFF] | ZIGZAG_BITS[1][natural >> 8 & 0xFF]) |
           (ZIGZAG_BITS[2][natural >> 16 & 0xFF] | ZIGZAG_BITS[3][natural >> 24 & 0xFF]) |
           ((ZIGZAG_BITS[4][natural >> 32 & 0xFF] | ZIGZAG_BITS[5][natural >> 40 & 0xFF]) |
            (ZIGZAG_BITS[6][natural >> 48 & 0xFF] | ZIGZAG_BITS[7][natural >> 56]));
}

/* Bit i set when the block's coefficient i (natural order) is not 0. */
static inline uint64_t nonzero_mask(const int16_t *blk)
{
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    uint64_t zeros = 0; /* unrolled by hand (-O2 keeps the loop: a branch a quarter) */
#define NONZERO_QUARTER(i)                                                                     \
    do {                                                                                       \
        __m128i a = _mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(blk + (i))), zero);      \
        __m128i b = _mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(blk + (i) + 8)), zero);  \
        zeros |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_packs_epi16(a, b)) << (i);          \
    } while (0)
    NONZERO_QUARTER(0);
    NONZERO_QUARTER(16);
    NONZERO_QUARTER(32);
    NONZERO_QUARTER(48);
#undef NONZERO_QUARTER
    return ~zeros;
#else
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++)
        mask |= (uint64_t)(blk[i] != 0) << i;
    return mask;
#endif
}

/* Bit writer (F.1.2.3): whole bytes out, each 0xFF followed by a stuffed 0x00 (a scan); or, for
 * transcode's bit strings (copied into a scan later), not stuffed: PUT_BITS. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint64_t acc; /* pending bits: the low `bits` ones, first bit highest */
    int bits;
} bwriter_t;

/* Room for `more` bytes; -1 when out of memory. */
static int bw_reserve(bwriter_t *w, size_t more)
{
    if (w->len + more <= w->cap)
        return 0;
    size_t cap = w->cap * 2 > w->len + more ? w->cap * 2 : w->len + more;
    uint8_t *buf = realloc(w->buf, cap);
    if (!buf)
        return -1;
    w->buf = buf;
    w->cap = cap;
    return 0;
}

static inline void bw_flush(bwriter_t *w)
{
    while (w->bits >= 8) {
        uint8_t b = (uint8_t)(w->acc >> (w->bits - 8));
        w->buf[w->len++] = b;
        if (b == 0xFF)
            w->buf[w->len++] = 0x00;
        w->bits -= 8;
    }
}

/* Appends the low `size` bits of `value` (size <= 27; the caller reserved the room). */
static inline void bw_put(bwriter_t *w, uint32_t value, int size)
{
    w->acc = (w->acc << size) | value;
    w->bits += size;
    if (w->bits < 32)
        return;
    uint32_t word = (uint32_t)(w->acc >> (w->bits - 32)), x = ~word;
    if (((x - 0x01010101u) & ~x & 0x80808080u) == 0) { /* no 0xFF byte: 4 bytes at once */
        uint8_t *out = w->buf + w->len;
        out[0] = (uint8_t)(word >> 24);
        out[1] = (uint8_t)(word >> 16);
        out[2] = (uint8_t)(word >> 8);
        out[3] = (uint8_t)word;
        w->len += 4;
        w->bits -= 32;
    } else {
        bw_flush(w);
    }
}

/* F.1.2.2: the AC coefficients of `blk` (natural order) as the symbols that code them, in
 * zig-zag order: each run of 16 zeros before a value as ZRL, SYM(0xF0, 0, 0); each value v as
 * SYM(run << 4 | s, s, v), s its magnitude category; EOB, SYM(0x00, 0, 0), when zeros end the
 * block. `natural`: its non-zero AC coefficients (nonzero_mask, bit 0 cleared). A value out of
 * baseline's range: TOO_LARGE(v, s). The one walk of encode_block, ac_bits and count_block,
 * each with its own SYM (a macro: the same code as written out in each, no call a symbol). */
#define AC_SYMBOLS(blk, natural, SYM, TOO_LARGE)                                                \
    do {                                                                                       \
        uint64_t nonzero_ = (natural) ? zigzag_mask(natural) : 0;                              \
        int last_ = 0;                                                                         \
        while (nonzero_) {                                                                     \
            int k_ = lowest_bit(nonzero_);                                                     \
            nonzero_ &= nonzero_ - 1;                                                          \
            int v_ = (blk)[ZIGZAG[k_]], run_ = k_ - last_ - 1;                                 \
            last_ = k_;                                                                        \
            for (; run_ > 15; run_ -= 16)                                                      \
                SYM(0xF0, 0, 0);                                                               \
            int s_ = category_nz(v_);                                                          \
            if (s_ > 10)                                                                       \
                TOO_LARGE(v_, s_);                                                             \
            SYM(run_ << 4 | s_, s_, v_);                                                       \
        }                                                                                      \
        if (last_ < 63)                                                                        \
            SYM(0x00, 0, 0);                                                                   \
    } while (0)

/* The s low bits of v's code after its symbol (F.1.2.1.1: a negative v as v - 1). */
static inline uint32_t extra_bits(int v, int s)
{
    return (uint32_t)(v < 0 ? v - 1 : v) & ((1u << s) - 1);
}

#define AC_TOO_LARGE "AC coefficient %d out of range (magnitude category %d > 10)"

/* The error of an AC symbol the tables give no code. */
static int no_ac_code(errmsg_t *err, int sym)
{
    const char *name = sym == 0x00 ? " (EOB)" : sym == 0xF0 ? " (ZRL)" : "";
    return fail(err, "AC symbol 0x%02X%s has no code", sym, name);
}

/* gather's block: its DC category (F.1.2.1, the difference from the component's previous DC)
 * and AC symbols counted, into dc_n and ac_n (256 each). */
static __attribute__((noinline)) int count_block(int64_t *dc_n, int64_t *ac_n,
                                                 const int16_t *blk, int *pred, errmsg_t *err)
{
    int diff = blk[0] - *pred;
    int s = category(diff);
    *pred = blk[0];
    if (s > 11)
        return fail(err, "DC difference %d out of range (magnitude category %d > 11)", diff, s);
    dc_n[s]++;
#define COUNT(sym, s, v) (ac_n[sym]++)
#define COUNT_TOO_LARGE(v, s) return fail(err, AC_TOO_LARGE, v, s)
    AC_SYMBOLS(blk, nonzero_mask(blk) & ~(uint64_t)1, COUNT, COUNT_TOO_LARGE);
#undef COUNT
#undef COUNT_TOO_LARGE
    return 0;
}

/* 8 bytes at p, the first the word's top byte. */
static inline void STORE_BE64(uint8_t *p, uint64_t word)
{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    word = __builtin_bswap64(word);
    memcpy(p, &word, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(word >> (56 - 8 * i));
#endif
}

/* encode_block: the symbols written, the writer's state in locals (registers: the bytes
 * written through a uint8_t pointer would make the compiler reload a structure's fields after
 * each one). Up to 63 bits pending (size <= 32): when a symbol's bits do not fit, acc is
 * completed with their first ones and its 8 bytes go out at once (with STUFF, byte by byte
 * when one of them is 0xFF): a branch taken every ten symbols or so, not every four. STUFF 0:
 * a bit string copied into a scan later (transcode's), never stuffed. */
#define PUT_BITS(value, size, STUFF)                                                           \
    do {                                                                                       \
        int size_ = (size);                                                                    \
        uint64_t value_ = (value);                                                             \
        if (bits + size_ < 64) {                                                               \
            acc = acc << size_ | value_;                                                       \
            bits += size_;                                                                     \
        } else {                                                                               \
            int rest_ = bits + size_ - 64; /* bits left over: 0 to 31 */                       \
            uint64_t word_ = acc << (64 - bits) | value_ >> rest_, x_ = ~word_;                \
            if (!(STUFF) || ((x_ - 0x0101010101010101u) & ~x_ & 0x8080808080808080u) == 0) {  \
                STORE_BE64(out, word_);                                                        \
                out += 8;                                                                      \
            } else {                                                                           \
                for (int sh_ = 56; sh_ >= 0; sh_ -= 8) {                                       \
                    uint8_t b_ = (uint8_t)(word_ >> sh_);                                      \
                    *out++ = b_;                                                               \
                    if (b_ == 0xFF)                                                            \
                        *out++ = 0x00;                                                         \
                }                                                                              \
            }                                                                                  \
            acc = value_; /* its low rest_ bits (above them: shifted out before use) */        \
            bits = rest_;                                                                      \
        }                                                                                      \
    } while (0)
#define ENC_PUT(value, size) PUT_BITS(value, size, 1)
#define TW_PUT(value, size) PUT_BITS(value, size, 0)

/* ---------------------------------------------------------------------------------------------
 * Transcoding: a source tile's AC symbols coded with the output's tables as they are decoded,
 * kept as each block's bit string (transcode); each output tile then assembled from the bit
 * strings of the blocks it covers, only their DC differences coded again (assemble).
 */

/* A transcoded block: its DC value and its AC bit string: where it ends (in bits) and its
 * length (1654 bits at most: 63 symbols of 26 bits, an EOB of 16), TB_WHOLE set when the
 * bits from the previous block's end are its own DC code then its AC bits, its DC difference
 * from the component's previous block coded with the output's DC table (copied: the source's
 * tables are the output's; not the component's first block of a restart interval): a run of
 * such blocks after their components' previous ones is copied whole by assemble. */
typedef struct {
    int16_t dc;
    uint16_t len;
    uint32_t end;
} tblock_t;

#define TB_WHOLE 0x8000u
#define TB_LEN(r) ((r).len & 0x7FFFu)

/* Worst case of a block's AC bit string in bytes: 63 symbols of 26 bits, an EOB, the 8-byte
 * flush. */
#define TBLOCK_BYTES_MAX (63 * 26 / 8 + 16)

/* ---------------------------------------------------------------------------------------------
 * One block's entropy-coded data (F.2.2.1, F.2.2.2) read three ways: decoded (its DC difference
 * then its AC coefficients, into blk: zeroed first, natural order; pred is the component's DC
 * prediction), transcoded (decoded, and its AC symbols coded at once with an output table, as
 * a bit string: zero runs only before a value, canonical, as encode_block codes them) or counted
 * (decoded, its DC category and AC symbols counted as gather counts them) or copied (decoded
 * from an unstuffed scan, the source's own AC codes kept: where its AC bits start and end
 * recorded). One function, its mode a constant at each call (always inlined: each mode compiled
 * on its own).
 */
enum { SCAN_DECODE, SCAN_TRANSCODE, SCAN_COUNT, SCAN_COPY };

typedef struct {
    const ehuff_t *oac;    /* transcoding: the output's AC table, */
    const uint64_t *tt;    /* its codes by the next LOOKAHEAD bits (tt_build), */
    bwriter_t *w;          /* the bit strings, */
    tblock_t *rec;         /* the block's record; */
    int64_t *dc_n, *ac_n;  /* counting: DC categories and AC symbols, */
    int *last_dc;          /* the component's previous DC (gather's prediction: no restarts) */
    const uint8_t *base;   /* copying: the unstuffed scan's first byte */
} scan_out_t;

static inline __attribute__((always_inline)) int scan_block(breader_t *reader, const dhuff_t *dc,
                                                            const dhuff_t *ac, int16_t *pred,
                                                            int16_t *blk, const int mode,
                                                            const scan_out_t *o, errmsg_t *err)
{
    breader_t local = *reader, *br = &local; /* its fields in registers */
    uint8_t *out = mode == SCAN_TRANSCODE ? o->w->buf + o->w->len : NULL;
    uint64_t acc = mode == SCAN_TRANSCODE ? o->w->acc : 0;
    int bits = mode == SCAN_TRANSCODE ? o->w->bits : 0;
    uint32_t start = mode == SCAN_TRANSCODE ? (uint32_t)(o->w->len * 8 + (size_t)bits) : 0;
    int zrl = 0, rc = 0, s, k, odd; /* zrl: ZRLs read, not yet coded (a value may follow) */
    zero_block(blk);
    if (mode == SCAN_COPY)
        br_fill_plain(br);
    else
        br_fill(br);
    int diff = dc->fast[br_peek(br, LOOKAHEAD)];
    if (diff) { /* a short code and a small difference */
        br_skip(br, diff & 15);
        diff = (diff - (diff & 0xFF)) / 256;
    } else {
        s = br_decode(br, dc);
        if (s < 0) {
            rc = fail(err, "corrupt: a DC code does not decode");
            goto done;
        }
        if (s > 11) {
            rc = fail(err, "corrupt: DC magnitude category %d > 11", s);
            goto done;
        }
        diff = br_receive_extend(br, s);
    }
    *pred = (int16_t)(uint16_t)(*pred + diff);
    blk[0] = *pred;
    if (mode == SCAN_TRANSCODE || mode == SCAN_COPY)
        o->rec->dc = *pred;
    if (mode == SCAN_COPY)
        start = br_position(br, o->base);
    if (mode == SCAN_COUNT) {
        int c = category(*pred - *o->last_dc);
        *o->last_dc = *pred;
        if (c > 11) {
            rc = fail(err, "DC difference out of range (magnitude category %d > 11)", c);
            goto done;
        }
        o->dc_n[c]++;
    }
    /* a fill holds two symbols (16-bit code and 11 extra bits at most each): one every other
     * symbol, the DC's the first */
    for (k = 1, odd = 1; k < 64; k++, odd ^= 1) {
        if (!odd) {
            if (mode == SCAN_COPY)
                br_fill_plain(br);
            else
                br_fill(br);
        }
        unsigned window = br_peek(br, LOOKAHEAD);
        int r, v, fast = ac->fast[window];
        uint64_t coded = mode == SCAN_TRANSCODE ? o->tt[window] : 1;
        if (fast && (coded || (unsigned)fast < 256)) { /* a short code and a small value (or
                                                          EOB): both at once */
            br_skip(br, fast & 15);
            if ((unsigned)fast < 256)
                break; /* EOB */
            k += (fast >> 4) & 15;
            if (k > 63) {
                rc = fail(err, "corrupt: coefficient index past 63");
                goto done;
            }
            v = (fast - (fast & 0xFF)) / 256;
            blk[ZIGZAG[k]] = (int16_t)v;
            if (mode == SCAN_DECODE || mode == SCAN_COPY)
                continue;
            r = (fast >> 4) & 15;
        } else {
            if (fast) { /* its output code is not in tt: coded below */
                br_skip(br, fast & 15);
                r = (fast >> 4) & 15;
                v = (fast - (fast & 0xFF)) / 256;
            } else {
                int rs = br_decode(br, ac);
                if (rs < 0) {
                    rc = fail(err, "corrupt: an AC code does not decode");
                    goto done;
                }
                r = rs >> 4;
                s = rs & 15;
                if (s == 0) {
                    if (r != 15)
                        break; /* EOB: the remaining coefficients are zero */
                    k += 15;   /* ZRL: 16 zeros */
                    zrl++;
                    if (k > 63) {
                        rc = fail(err, "corrupt: coefficient index past 63");
                        goto done;
                    }
                    continue;
                }
                if (s > 10) {
                    rc = fail(err, "corrupt: AC magnitude category %d > 10", s);
                    goto done;
                }
                v = br_receive_extend(br, s);
            }
            k += r;
            if (k > 63) {
                rc = fail(err, "corrupt: coefficient index past 63");
                goto done;
            }
            blk[ZIGZAG[k]] = (int16_t)v;
            if (mode == SCAN_DECODE || mode == SCAN_COPY)
                continue;
            coded = 0;
        }
        if (mode == SCAN_COUNT) {
            o->ac_n[0xF0] += zrl;
            zrl = 0;
            o->ac_n[r << 4 | category_nz(v)]++;
            continue;
        }
        for (; zrl; zrl--) {
            if (!o->oac->size[0xF0]) {
                rc = no_ac_code(err, 0xF0);
                goto done;
            }
            TW_PUT(o->oac->code[0xF0], o->oac->size[0xF0]);
        }
        if (!coded) {
            s = category_nz(v);
            int sym = r << 4 | s;
            if (!o->oac->size[sym]) {
                rc = no_ac_code(err, sym);
                goto done;
            }
            coded = (uint64_t)(o->oac->code[sym] << s | extra_bits(v, s)) << 8 |
                    (uint64_t)(o->oac->size[sym] + s);
        }
        TW_PUT(coded >> 8, (int)(coded & 0xFF));
    }
    if ((mode == SCAN_TRANSCODE || mode == SCAN_COUNT) && (k < 63 || blk[ZIGZAG[63]] == 0)) {
        /* zeros end the block */
        if (mode == SCAN_COUNT) {
            o->ac_n[0x00]++;
        } else {
            if (!o->oac->size[0x00]) {
                rc = no_ac_code(err, 0x00);
                goto done;
            }
            TW_PUT(o->oac->code[0x00], o->oac->size[0x00]);
        }
    }
    if (br->bits < br->pad) {
        rc = truncated(br, err);
        goto done;
    }
    *reader = local;
    if (mode == SCAN_COPY) {
        o->rec->end = br_position(br, o->base);
        o->rec->len = (uint16_t)(o->rec->end - start);
    }
done:
    if (mode == SCAN_TRANSCODE) {
        o->w->len = (size_t)(out - o->w->buf);
        o->w->acc = acc;
        o->w->bits = bits;
        o->rec->end = (uint32_t)(o->w->len * 8 + (size_t)bits);
        o->rec->len = (uint16_t)(o->rec->end - start);
    }
    return rc;
}

static int decode_block(breader_t *reader, const dhuff_t *dc, const dhuff_t *ac, int16_t *pred,
                        int16_t *blk, errmsg_t *err)
{
    return scan_block(reader, dc, ac, pred, blk, SCAN_DECODE, NULL, err);
}

/* Inlined into its two callers (called from both, GCC keeps one out-of-line copy: 5% slower). */
static inline __attribute__((always_inline)) int encode_block(bwriter_t *w, const ehuff_t *dc,
                                                              const ehuff_t *ac,
                                                              const int16_t *blk, int *pred,
                                                              errmsg_t *err)
{
    uint8_t *out = w->buf + w->len;
    uint64_t acc = w->acc;
    int bits = w->bits, rc = 0;
    int diff = blk[0] - *pred;
    int s = category_dc(diff);
    *pred = blk[0];
    if (s > 11) {
        rc = fail(err, "DC difference %d out of range (magnitude category %d > 11)", diff, s);
        goto done;
    }
    if (!dc->size[s]) {
        rc = fail(err, "DC symbol %d has no code", s);
        goto done;
    }
    uint32_t dc_value = dc->code[s] << s | extra_bits(diff, s);
    int dc_size = dc->size[s] + s;
    uint64_t natural = nonzero_mask(blk) & ~(uint64_t)1;
    if (!natural && ac->size[0x00]) { /* DC only (most blocks): DC and EOB at once (43 bits at
                                         most: 27 and 16, one put of 32 at most) */
        if (dc_size + ac->size[0x00] <= 32) {
            ENC_PUT((uint64_t)dc_value << ac->size[0x00] | ac->code[0x00],
                    dc_size + ac->size[0x00]);
        } else {
            ENC_PUT(dc_value, dc_size);
            ENC_PUT(ac->code[0x00], ac->size[0x00]);
        }
        goto done;
    }
    ENC_PUT(dc_value, dc_size);
#define ENC_SYM(sym, s, v)                                                                     \
    do {                                                                                       \
        int sym_ = (sym);                                                                      \
        if (!ac->size[sym_]) {                                                                 \
            rc = no_ac_code(err, sym_);                                                        \
            goto done;                                                                         \
        }                                                                                      \
        ENC_PUT(ac->code[sym_] << (s) | extra_bits(v, s), ac->size[sym_] + (s));               \
    } while (0)
#define ENC_TOO_LARGE(v, s)                                                                    \
    do {                                                                                       \
        rc = fail(err, AC_TOO_LARGE, v, s);                                                    \
        goto done;                                                                             \
    } while (0)
    AC_SYMBOLS(blk, natural, ENC_SYM, ENC_TOO_LARGE);
#undef ENC_SYM
#undef ENC_TOO_LARGE
done:
    w->len = (size_t)(out - w->buf);
    w->acc = acc;
    w->bits = bits;
    return rc;
}

/* encode_edge's blocks in both tiles: their AC symbols (F.1.2.2) coded once, as a bit string
 * written to both streams (each block's DC coded for each: its predictions differ where the
 * exact tile's MCU rows end). 63 symbols of 26 bits and an EOB at most: 52 words. */
#define AC_WORDS 53
typedef struct {
    uint32_t word[AC_WORDS]; /* whole 32-bit words, the first bit highest */
    int words, tail_bits;    /* then the low tail_bits bits of tail */
    uint32_t tail;
} acbits_t;

static int ac_bits(const ehuff_t *ac, const int16_t *blk, acbits_t *o, errmsg_t *err)
{
    uint64_t acc = 0;
    int bits = 0, words = 0;
#define AC_PUT(value, size)                                                                    \
    do {                                                                                       \
        acc = (acc << (size)) | (value);                                                       \
        bits += (size);                                                                        \
        if (bits >= 32) {                                                                      \
            bits -= 32;                                                                        \
            o->word[words++] = (uint32_t)(acc >> bits);                                        \
        }                                                                                      \
    } while (0)
#define BITS_SYM(sym, s, v)                                                                    \
    do {                                                                                       \
        int sym_ = (sym);                                                                      \
        if (!ac->size[sym_])                                                                   \
            return no_ac_code(err, sym_);                                                      \
        AC_PUT(ac->code[sym_] << (s) | extra_bits(v, s), ac->size[sym_] + (s));                \
    } while (0)
#define BITS_TOO_LARGE(v, s) return fail(err, AC_TOO_LARGE, v, s)
    AC_SYMBOLS(blk, nonzero_mask(blk) & ~(uint64_t)1, BITS_SYM, BITS_TOO_LARGE);
#undef BITS_SYM
#undef BITS_TOO_LARGE
#undef AC_PUT
    o->words = words;
    o->tail_bits = bits;
    o->tail = (uint32_t)(acc & ((1u << bits) - 1)); /* bits < 32 */
    return 0;
}

/* The DC difference's code and extra bits (F.1.2.1) as one value of *size bits. */
static int dc_bits(const ehuff_t *dc, int diff, uint32_t *value, int *size, errmsg_t *err)
{
    int s = category_dc(diff);
    if (s > 11)
        return fail(err, "DC difference %d out of range (magnitude category %d > 11)", diff, s);
    if (!dc->size[s])
        return fail(err, "DC symbol %d has no code", s);
    *value = dc->code[s] << s | extra_bits(diff, s);
    *size = dc->size[s] + s;
    return 0;
}

/* A block's DC bits then its AC bit string, into w (the room reserved). */
static void put_block_bits(bwriter_t *w, uint32_t dc_value, int dc_size, const acbits_t *a)
{
    uint8_t *out = w->buf + w->len;
    uint64_t acc = w->acc;
    int bits = w->bits;
    ENC_PUT(dc_value, dc_size);
    for (int i = 0; i < a->words; i++)
        ENC_PUT(a->word[i], 32); /* ENC_PUT takes up to 32 bits */
    ENC_PUT(a->tail, a->tail_bits);
    w->len = (size_t)(out - w->buf);
    w->acc = acc;
    w->bits = bits;
}

/* F.1.2.3: the last byte padded with 1-bits. */
static int bw_finish(bwriter_t *w, errmsg_t *err)
{
    if (bw_reserve(w, 16) < 0)
        return fail(err, "out of memory");
    bw_flush(w); /* encode's writer: up to 63 bits pending */
    int pad = (8 - w->bits % 8) % 8;
    bw_put(w, (1u << pad) - 1, pad);
    bw_flush(w);
    return 0;
}

/* The arguments encode and gather share. */
typedef struct {
    Py_ssize_t n;
    Py_buffer views[MAX_COMPONENTS];
    plane_t planes[MAX_COMPONENTS];
    int h[MAX_COMPONENTS], v[MAX_COMPONENTS];
    long mcux, mcuy;
} coding_t;

/* Worst case of a block's bytes: up to 63 bits pending and 64 symbols of 27 bits at most
 * (16-bit code, 11 extra bits), each byte possibly stuffed. */
#define BLOCK_BYTES_MAX (2 * ((63 + 64 * 27 + 7) / 8))

/* The MCUs in raster order, each component's h x v blocks row-major within the MCU. ehuff and
 * counts: per component (one of them NULL). */
static inline __attribute__((always_inline)) int code_mcus(const coding_t *a, bwriter_t *w,
                                                           const ehuff_t (*tables)[2],
                                                           int64_t (*counts)[2][256],
                                                           errmsg_t *err)
{
    int pred[MAX_COMPONENTS] = {0};
    struct {
        int k, v, h; /* component; the block's row and column in the MCU */
    } slots[MAX_BLOCKS_IN_MCU];
    int nslots = 0; /* the MCU's blocks as one loop of a fixed count: branches predicted */
    for (Py_ssize_t k = 0; k < a->n; k++)
        for (int j = 0; j < a->v[k]; j++)
            for (int i = 0; i < a->h[k]; i++) {
                slots[nslots].k = (int)k, slots[nslots].v = j, slots[nslots].h = i;
                nslots++;
            }
    for (long my = 0; my < a->mcuy; my++) {
        for (long mx = 0; mx < a->mcux; mx++) {
            if (w && bw_reserve(w, (size_t)nslots * BLOCK_BYTES_MAX) < 0)
                return fail(err, "out of memory");
            for (int b = 0; b < nslots; b++) {
                int k = slots[b].k;
                const int16_t *blk = plane_block(&a->planes[k], my * a->v[k] + slots[b].v,
                                                 mx * a->h[k] + slots[b].h);
                if (w ? encode_block(w, &tables[k][0], &tables[k][1], blk, &pred[k], err)
                      : count_block(counts[k][0], counts[k][1], blk, &pred[k], err))
                    return -1;
            }
        }
    }
    return w ? bw_finish(w, err) : 0;
}

/* code_mcus specialized for each: encode's loop without gather's tests (2.5% faster), gather's
 * calling count_block out of line (inlined there: 15-20% slower, measured). */
static int encode_mcus(const coding_t *a, bwriter_t *w, const ehuff_t (*tables)[2],
                       errmsg_t *err)
{
    return code_mcus(a, w, tables, NULL, err);
}

static int gather_mcus(const coding_t *a, int64_t (*counts)[2][256], errmsg_t *err)
{
    return code_mcus(a, NULL, NULL, counts, err);
}

/* encode_edge: the padded tile's MCUs, and within them the exact tile's first ex x ey (both in
 * raster order), each block's symbols coded once (but for a DC of a different prediction). */
static int code_edge(const coding_t *a, long ex, long ey, bwriter_t *wp, bwriter_t *we,
                     const ehuff_t (*tables)[2], errmsg_t *err)
{
    int pred_p[MAX_COMPONENTS] = {0}, pred_e[MAX_COMPONENTS] = {0};
    int slot_k[MAX_BLOCKS_IN_MCU], slot_v[MAX_BLOCKS_IN_MCU], slot_h[MAX_BLOCKS_IN_MCU];
    int nslots = 0;
    for (Py_ssize_t k = 0; k < a->n; k++)
        for (int j = 0; j < a->v[k]; j++)
            for (int i = 0; i < a->h[k]; i++, nslots++)
                slot_k[nslots] = (int)k, slot_v[nslots] = j, slot_h[nslots] = i;
    acbits_t ac;
    for (long my = 0; my < a->mcuy; my++) {
        for (long mx = 0; mx < a->mcux; mx++) {
            int both = mx < ex && my < ey;
            if (bw_reserve(wp, (size_t)nslots * BLOCK_BYTES_MAX) < 0 ||
                (both && bw_reserve(we, (size_t)nslots * BLOCK_BYTES_MAX) < 0))
                return fail(err, "out of memory");
            for (int b = 0; b < nslots; b++) {
                int k = slot_k[b];
                const int16_t *blk = plane_block(&a->planes[k], my * a->v[k] + slot_v[b],
                                                 mx * a->h[k] + slot_h[b]);
                if (!both) {
                    if (encode_block(wp, &tables[k][0], &tables[k][1], blk, &pred_p[k], err))
                        return -1;
                    continue;
                }
                uint32_t dc_p, dc_e;
                int size_p, size_e;
                if (dc_bits(&tables[k][0], blk[0] - pred_p[k], &dc_p, &size_p, err) < 0 ||
                    dc_bits(&tables[k][0], blk[0] - pred_e[k], &dc_e, &size_e, err) < 0 ||
                    ac_bits(&tables[k][1], blk, &ac, err) < 0)
                    return -1;
                pred_p[k] = pred_e[k] = blk[0];
                put_block_bits(wp, dc_p, size_p, &ac);
                put_block_bits(we, dc_e, size_e, &ac);
            }
        }
    }
    return bw_finish(wp, err) < 0 ? -1 : bw_finish(we, err);
}

/* A sequence of two ints. */
static int int_pair(PyObject *obj, const char *what, long *a, long *b)
{
    PyObject *seq = PySequence_Fast(obj, what);
    if (!seq)
        return -1;
    int rc = -1;
    if (PySequence_Fast_GET_SIZE(seq) != 2) {
        PyErr_Format(PyExc_ValueError, "%s: a pair of ints is expected", what);
    } else {
        *a = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, 0));
        *b = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, 1));
        rc = PyErr_Occurred() ? -1 : 0;
    }
    Py_DECREF(seq);
    return rc;
}

/* Opens the planes and checks sampling and mcus against them; on failure an exception is set
 * and nothing stays open. */
static int coding_open(coding_t *a, PyObject *planes, PyObject *sampling, PyObject *mcus)
{
    if (planes_open(planes, 0, a->views, a->planes, &a->n) < 0)
        return -1;
    if (!PyTuple_Check(sampling) || PyTuple_GET_SIZE(sampling) != a->n) {
        PyErr_Format(PyExc_ValueError, "sampling: a tuple of %zd (h, v) pairs is expected", a->n);
        goto bad;
    }
    int blocks = 0;
    for (Py_ssize_t k = 0; k < a->n; k++) {
        long h, v;
        if (int_pair(PyTuple_GET_ITEM(sampling, k), "sampling", &h, &v) < 0)
            goto bad;
        if (h < 1 || h > 4 || v < 1 || v > 4 || (a->n == 1 && (h != 1 || v != 1))) {
            PyErr_Format(PyExc_ValueError, "sampling of component %zd: %ldx%ld", k, h, v);
            goto bad;
        }
        a->h[k] = (int)h;
        a->v[k] = (int)v;
        blocks += (int)(h * v);
    }
    if (blocks > MAX_BLOCKS_IN_MCU) {
        PyErr_Format(PyExc_ValueError, "sampling: %d blocks in an MCU (10 at most)", blocks);
        goto bad;
    }
    if (int_pair(mcus, "mcus", &a->mcux, &a->mcuy) < 0)
        goto bad;
    if (a->mcux < 1 || a->mcuy < 1 || a->mcux > 65536 || a->mcuy > 65536) {
        PyErr_Format(PyExc_ValueError, "mcus: %ldx%ld", a->mcux, a->mcuy);
        goto bad;
    }
    for (Py_ssize_t k = 0; k < a->n; k++) {
        if (a->planes[k].rows < a->mcuy * a->v[k] || a->planes[k].cols < a->mcux * a->h[k]) {
            PyErr_Format(PyExc_ValueError,
                         "plane %zd too small: %zdx%zd blocks, the MCUs need %ldx%ld", k,
                         a->planes[k].rows, a->planes[k].cols, a->mcuy * a->v[k],
                         a->mcux * a->h[k]);
            goto bad;
        }
    }
    return 0;
bad:
    if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_Format(PyExc_ValueError, "bad sampling or mcus argument");
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    planes_close(a->views, a->n);
    return -1;
}

/* tables[k] = (dc_codes, dc_sizes, ac_codes, ac_sizes) into t[k][0] (DC) and t[k][1] (AC). */
static int tables_read(PyObject *tables, Py_ssize_t n, ehuff_t (*t)[2])
{
    if (!PyTuple_Check(tables) || PyTuple_GET_SIZE(tables) != n) {
        PyErr_Format(PyExc_ValueError, "tables: a tuple of %zd table tuples is expected", n);
        return -1;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *four = PyTuple_GET_ITEM(tables, k);
        if (!PyTuple_Check(four) || PyTuple_GET_SIZE(four) != 4) {
            PyErr_Format(PyExc_ValueError, "tables[%zd]: (dc_codes, dc_sizes, ac_codes, "
                         "ac_sizes) expected", k);
            return -1;
        }
        for (int c = 0; c < 2; c++) {
            Py_buffer codes, sizes;
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(four, 2 * c), &codes, PyBUF_SIMPLE) < 0)
                return -1;
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(four, 2 * c + 1), &sizes, PyBUF_SIMPLE) < 0) {
                PyBuffer_Release(&codes);
                return -1;
            }
            int ok = codes.len == 1024 && sizes.len == 256;
            const uint8_t *cb = codes.buf, *sb = sizes.buf;
            if (ok) { /* every entry checked, without a branch on each */
                ehuff_t *e = &t[k][c];
                uint32_t bad = 0;
                memcpy(e->size, sb, 256);
                for (int s = 0; s < 256; s++) {
                    uint32_t code = (uint32_t)cb[4 * s] | (uint32_t)cb[4 * s + 1] << 8 |
                                    (uint32_t)cb[4 * s + 2] << 16 | (uint32_t)cb[4 * s + 3] << 24;
                    e->code[s] = code;
                    bad |= (uint32_t)(sb[s] > 16) | (code >> (sb[s] & 31)); /* sizes <= 16 */
                }
                ok = bad == 0;
            }
            PyBuffer_Release(&codes);
            PyBuffer_Release(&sizes);
            if (!ok) {
                PyErr_Format(PyExc_ValueError, "tables[%zd]: %s codes: 1024 bytes of codes and "
                             "256 sizes <= 16, each code within its size, expected", k,
                             c ? "AC" : "DC");
                return -1;
            }
        }
    }
    return 0;
}

static PyObject *py_encode(PyObject *self, PyObject *args)
{
    PyObject *planes, *sampling, *mcus, *tables;
    coding_t a;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO:encode", &planes, &sampling, &mcus, &tables))
        return NULL;
    if (coding_open(&a, planes, sampling, mcus) < 0)
        return NULL;
    ehuff_t(*t)[2] = malloc(sizeof(ehuff_t[MAX_COMPONENTS][2]));
    if (!t) {
        planes_close(a.views, a.n);
        return PyErr_NoMemory();
    }
    if (tables_read(tables, a.n, t) < 0) {
        free(t);
        planes_close(a.views, a.n);
        return NULL;
    }
    bwriter_t w = {NULL, 0, 0, 0, 0};
    errmsg_t err = {{0}, 0};
    Py_BEGIN_ALLOW_THREADS
    encode_mcus(&a, &w, (const ehuff_t(*)[2])t, &err);
    Py_END_ALLOW_THREADS
    planes_close(a.views, a.n);
    free(t);
    PyObject *result = NULL;
    if (err.failed)
        PyErr_SetString(PyExc_ValueError, err.msg);
    else
        result = PyBytes_FromStringAndSize((const char *)w.buf, (Py_ssize_t)w.len);
    free(w.buf);
    return result;
}

static PyObject *py_encode_edge(PyObject *self, PyObject *args)
{
    PyObject *planes, *sampling, *mcus, *exact, *tables;
    coding_t a;
    long ex, ey;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO:encode_edge", &planes, &sampling, &mcus, &exact, &tables))
        return NULL;
    if (coding_open(&a, planes, sampling, mcus) < 0)
        return NULL;
    ehuff_t(*t)[2] = NULL;
    if (int_pair(exact, "exact_mcus", &ex, &ey) < 0 || ex < 1 || ey < 1 || ex > a.mcux ||
        ey > a.mcuy) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "exact_mcus: a pair within 1x1 to %ldx%ld expected",
                     a.mcux, a.mcuy);
        goto fail;
    }
    t = malloc(sizeof(ehuff_t[MAX_COMPONENTS][2]));
    if (!t) {
        PyErr_NoMemory();
        goto fail;
    }
    if (tables_read(tables, a.n, t) < 0)
        goto fail;
    bwriter_t wp = {NULL, 0, 0, 0, 0}, we = {NULL, 0, 0, 0, 0};
    errmsg_t err = {{0}, 0};
    Py_BEGIN_ALLOW_THREADS
    code_edge(&a, ex, ey, &wp, &we, (const ehuff_t(*)[2])t, &err);
    Py_END_ALLOW_THREADS
    planes_close(a.views, a.n);
    free(t);
    PyObject *result = NULL;
    if (err.failed)
        PyErr_SetString(PyExc_ValueError, err.msg);
    else
        result = Py_BuildValue("y#y#", (const char *)wp.buf, (Py_ssize_t)wp.len,
                               (const char *)we.buf, (Py_ssize_t)we.len);
    free(wp.buf);
    free(we.buf);
    return result;
fail:
    free(t);
    planes_close(a.views, a.n);
    return NULL;
}

/* counts: a writable int64 array of shape (n, 2, 256), any strides. */
static int counts_open(PyObject *obj, Py_ssize_t n, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_RECORDS) < 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "counts: not a writable int64 array");
        return -1;
    }
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    if (view->itemsize != 8 || (strcmp(f, "q") != 0 && strcmp(f, "l") != 0) ||
        view->ndim != 3 || view->shape[0] != n || view->shape[1] != 2 || view->shape[2] != 256 ||
        ((uintptr_t)view->buf | (uintptr_t)view->strides[0] | (uintptr_t)view->strides[1] |
         (uintptr_t)view->strides[2]) % 8) {
        PyErr_Format(PyExc_ValueError, "counts: an aligned int64 array of shape (%zd, 2, 256) "
                     "expected", n);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *py_gather(PyObject *self, PyObject *args)
{
    PyObject *planes, *sampling, *mcus, *counts_obj;
    coding_t a;
    Py_buffer cv;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO:gather", &planes, &sampling, &mcus, &counts_obj))
        return NULL;
    if (coding_open(&a, planes, sampling, mcus) < 0)
        return NULL;
    if (counts_open(counts_obj, a.n, &cv) < 0) {
        planes_close(a.views, a.n);
        return NULL;
    }
    int64_t(*counts)[2][256] = calloc(MAX_COMPONENTS, sizeof *counts);
    errmsg_t err = {{0}, 0};
    if (counts) {
        Py_BEGIN_ALLOW_THREADS
        if (gather_mcus(&a, counts, &err) == 0) {
            for (Py_ssize_t k = 0; k < a.n; k++)
                for (int c = 0; c < 2; c++)
                    for (int s = 0; s < 256; s++)
                        *(int64_t *)((char *)cv.buf + k * cv.strides[0] + c * cv.strides[1] +
                                     s * cv.strides[2]) += counts[k][c][s];
        }
        Py_END_ALLOW_THREADS
    }
    planes_close(a.views, a.n);
    PyBuffer_Release(&cv);
    if (!counts)
        return PyErr_NoMemory();
    free(counts);
    if (err.failed) {
        PyErr_SetString(PyExc_ValueError, err.msg);
        return NULL;
    }
    Py_RETURN_NONE;
}



/* The stream's blocks counted (scan_block's SCAN_COUNT) into counts[k] (per component). */
static int count_scan(const jpeg_t *j, const uint8_t *end, int64_t (*counts)[2][256],
                      errmsg_t *err)
{
    breader_t br = {j->data, end, 0, 0, 0, STOP_NONE};
    int16_t pred[MAX_COMPONENTS] = {0}, blk[64];
    int last_dc[MAX_COMPONENTS] = {0};
    Py_ssize_t mcu = 0;
    slot_t slots[MAX_BLOCKS_IN_MCU];
    scan_out_t outs[MAX_BLOCKS_IN_MCU];
    int nslots = scan_slots(j, slots);
    for (int b = 0; b < nslots; b++) {
        int k = slots[b].k;
        outs[b] = (scan_out_t){NULL, NULL, NULL, NULL, counts[k][0], counts[k][1], &last_dc[k], NULL};
    }
    for (; mcu < j->mcux * j->mcuy; mcu++) {
        if (scan_restart(j, &br, mcu, pred, err) < 0)
            return -1;
        for (int b = 0; b < nslots; b++)
            if (scan_block(&br, slots[b].dc, slots[b].ac, &pred[slots[b].k], blk, SCAN_COUNT,
                           &outs[b], err) < 0)
                return -1;
    }
    return 0;
}

static PyObject *py_count(PyObject *self, PyObject *args)
{
    Py_buffer stream, cv;
    PyObject *counts_obj;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*O:count", &stream, &counts_obj))
        return NULL;
    jpeg_t *j = calloc(1, sizeof *j);
    int64_t(*counts)[2][256] = calloc(MAX_COMPONENTS, sizeof *counts);
    errmsg_t err = {{0}, 0};
    PyObject *result = NULL;
    if (!j || !counts) {
        PyErr_NoMemory();
        goto out;
    }
    if (parse_headers(j, stream.buf, (size_t)stream.len, &err) < 0) {
        PyErr_SetString(PyExc_ValueError, err.msg);
        goto out;
    }
    if (counts_open(counts_obj, j->ncomp, &cv) < 0)
        goto out;
    Py_BEGIN_ALLOW_THREADS
    if (count_scan(j, (const uint8_t *)stream.buf + stream.len, counts, &err) == 0)
        for (int k = 0; k < j->ncomp; k++)
            for (int c = 0; c < 2; c++)
                for (int s = 0; s < 256; s++)
                    *(int64_t *)((char *)cv.buf + k * cv.strides[0] + c * cv.strides[1] +
                                 s * cv.strides[2]) += counts[k][c][s];
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&cv);
    if (err.failed)
        PyErr_SetString(PyExc_ValueError, err.msg);
    else
        result = Py_NewRef(Py_None);
out:
    PyBuffer_Release(&stream);
    free(j);
    free(counts);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * Pixels at half scale from the coefficients, and uint8 strips halved and counted (the lower
 * tiers of the serving pyramid, cytotile.importer.levelone): no libjpeg decode a second time.
 */

/* u8 image (rows, cols, bands): the last two axes contiguous, rows any stride. */
typedef struct {
    uint8_t *base;
    Py_ssize_t rows, cols, bands, stride;
} image_t;

static int image_open(PyObject *obj, int writable, const char *what, Py_buffer *view,
                      image_t *out)
{
    if (PyObject_GetBuffer(obj, view, writable ? PyBUF_RECORDS : PyBUF_RECORDS_RO) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s: not a%s uint8 array", what, writable ? " writable" : "");
        return -1;
    }
    const char *f = view->format ? view->format : "B";
    if (view->itemsize != 1 || (strcmp(f, "B") != 0 && strcmp(f, "=B") != 0 &&
                                strcmp(f, "<B") != 0 && strcmp(f, "@B") != 0) ||
        view->ndim != 3 || view->shape[2] < 1 || view->shape[2] > MAX_COMPONENTS ||
        view->strides[2] != 1 || view->strides[1] != view->shape[2] || view->strides[0] < 0) {
        PyErr_Format(PyExc_ValueError, "%s: a uint8 array (rows, cols, 1..%d bands) with "
                     "contiguous pixels expected", what, MAX_COMPONENTS);
        PyBuffer_Release(view);
        return -1;
    }
    out->base = view->buf;
    out->rows = view->shape[0];
    out->cols = view->shape[1];
    out->bands = view->shape[2];
    out->stride = view->strides[0];
    return 0;
}

/* IDCT_FULL[x][u]: sample x of the 1-D basis function u (A.3.3, C(u)/2 folded in); IDCT_HALF:
 * the mean of samples 2i and 2i+1 (a 2x2 box mean of the 2-D block is both axes' pair means).
 * The same by columns, 4 samples a vector (GCC/Clang vector extensions: SSE, NEON or scalar). */
typedef float v4f __attribute__((vector_size(16)));
static float IDCT_FULL[8][8], IDCT_HALF[4][8];
/* FOLD[w]: tan(w pi / 16): IDCT_HALF[.][8 - w] = -FOLD[w] * IDCT_HALF[.][w] (w = 1..3), and
 * IDCT_HALF[.][4] = 0 (a pair's mean of cos((2x + 1) u pi / 16) is cos((4i + 2) u pi / 16)
 * cos(u pi / 16)): a block's box means take 4 terms a row and a column, not 8. */
static float FOLD[4];
static v4f BASIS_FULL[8][2], BASIS_HALF[8];

static void idct_init(void)
{
    const double pi = 3.14159265358979323846;
    for (int x = 0; x < 8; x++)
        for (int u = 0; u < 8; u++)
            IDCT_FULL[x][u] = (float)((u ? 0.5 : 0.5 / sqrt(2.0)) * cos((2 * x + 1) * u * pi / 16));
    for (int i = 0; i < 4; i++)
        for (int u = 0; u < 8; u++)
            IDCT_HALF[i][u] = (IDCT_FULL[2 * i][u] + IDCT_FULL[2 * i + 1][u]) / 2;
    for (int w = 1; w < 4; w++)
        FOLD[w] = (float)tan(w * pi / 16);
    for (int u = 0; u < 8; u++)
        for (int x = 0; x < 4; x++) {
            BASIS_HALF[u][x] = IDCT_HALF[x][u];
            BASIS_FULL[u][0][x] = IDCT_FULL[x][u];
            BASIS_FULL[u][1][x] = IDCT_FULL[x + 4][u];
        }
}

static inline uint8_t clamp_round(float v)
{
    int i = (int)(v + 0.5f); /* any v < 0.5 gives i <= 0: clamped to 0 */
    return (uint8_t)(i < 0 ? 0 : i > 255 ? 255 : i);
}

/* The n x n pixels (n = 4: the block's 2x2 box means; 8: the block itself) of a block,
 * dequantized by q, level-shifted; written at out, rows `stride` bytes apart. Only the
 * non-zero coefficients are visited (blocks are sparse): each adds its coefficient times its
 * basis row to its row's horizontal transform; then the rows up to the last non-zero one are
 * combined vertically, 4 pixels a vector. */
static inline __attribute__((always_inline)) void block_pixels(const int16_t *blk,
                                                               const float *q, const int n,
                                                               uint8_t *out, Py_ssize_t stride,
                                                               const v4f *basis,
                                                               const float (*vert)[8],
                                                               const int fold)
{
    uint64_t mask = nonzero_mask(blk);
    if (mask <= 1) { /* DC only (or nothing): flat; IDCT_FULL[.][0] squared is 1/8 */
        uint8_t row[8];
        memset(row, clamp_round(blk[0] * q[0] / 8 + 128), sizeof row);
        for (int y = 0; y < n; y++)
            memcpy(out + y * stride, row, n);
        return;
    }
    /* the non-zero coefficients' extent: rows (vertical frequencies) and columns; every
     * coefficient inside is transformed (no branch on each one: they are unpredictable) */
    uint64_t across = mask | mask >> 32;
    across |= across >> 16;
    across |= across >> 8;
    int rows = (63 - __builtin_clzll(mask)) / 8 + 1;
    int cols = 31 - __builtin_clz((unsigned)(across & 0xFF)) + 1;
    /* 4 or 8 of each (zeros beyond the extent): sums as trees of independent products, not
     * one chain of additions (each waits for the last: the transform's latency) */
    int rows4 = rows <= 4 ? 4 : 8, wide = cols > 4;
    v4f t[8][2], zero = {0, 0, 0, 0};
#define TERM(u, h) (c[u] * (n == 4 ? basis[u] : BASIS_FULL[u][h]))
    for (int v = rows; v < rows4; v++) /* zeros (their transforms would be) */
        for (int h = 0; h < n / 4; h++)
            t[v][h] = zero;
    for (int v = 0; v < rows; v++) {
        const int16_t *row = blk + 8 * v;
        const float *qr = q + 8 * v;
        float c[8]; /* the row dequantized */
#if defined(__SSE2__)
        __m128i raw = _mm_loadu_si128((const __m128i *)row);
        __m128i sign = _mm_srai_epi16(raw, 15);
        v4f lo = (v4f)_mm_cvtepi32_ps(_mm_unpacklo_epi16(raw, sign));
        v4f hi = (v4f)_mm_cvtepi32_ps(_mm_unpackhi_epi16(raw, sign));
        lo *= *(const v4f *)qr;
        hi *= *(const v4f *)(qr + 4);
        memcpy(c, &lo, sizeof lo);
        memcpy(c + 4, &hi, sizeof hi);
#else
        for (int u = 0; u < 8; u++)
            c[u] = row[u] * qr[u];
#endif
        if (fold && wide) { /* the box means' basis: u = 8 - w is -tan(w pi/16) times w's */
            c[1] -= FOLD[1] * c[7];
            c[2] -= FOLD[2] * c[6];
            c[3] -= FOLD[3] * c[5];
        }
        for (int h = 0; h < n / 4; h++) {
            v4f a = TERM(0, h) + TERM(1, h); /* the terms beyond cols: zeros, dropped exactly */
            if (cols > 2 || (fold && wide))
                a += TERM(2, h) + TERM(3, h);
            if (wide && !fold)
                a += (TERM(4, h) + TERM(5, h)) + (TERM(6, h) + TERM(7, h));
            t[v][h] = a;
        }
    }
#undef TERM
    const float(*m)[8] = n == 4 ? vert : (const float(*)[8])IDCT_FULL;
    v4f base = {128, 128, 128, 128};
    int tall = rows4 == 8;
    if (fold && tall) /* as the rows were folded */
        for (int v = 1; v < 4; v++)
            t[v][0] -= FOLD[v] * t[8 - v][0];
    for (int y = 0; y < n; y++)
        for (int h = 0; h < n / 4; h++) {
            const float *my = m[y];
            v4f s = my[0] * t[0][h] + my[1] * t[1][h];
            if (rows > 2 || (fold && tall))
                s += my[2] * t[2][h] + my[3] * t[3][h];
            if (tall && !fold)
                s += (my[4] * t[4][h] + my[5] * t[5][h]) + (my[6] * t[6][h] + my[7] * t[7][h]);
            s += base;
            uint8_t *o = out + y * stride + 4 * h;
#if defined(__SSE2__) /* rounded to nearest (ties to even), saturated to 0..255 */
            __m128i w = _mm_cvtps_epi32((__m128)s);
            w = _mm_packs_epi32(w, w);
            uint32_t b = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(w, w));
            memcpy(o, &b, 4);
#else
            for (int x = 0; x < 4; x++)
                o[x] = clamp_round(s[x]);
#endif
        }
}

static void block_half(const int16_t *blk, const float *q, uint8_t *out, Py_ssize_t stride)
{
    block_pixels(blk, q, 4, out, stride, BASIS_HALF, (const float(*)[8])IDCT_HALF, 1);
}

static void block_full(const int16_t *blk, const float *q, uint8_t *out, Py_ssize_t stride)
{
    block_pixels(blk, q, 8, out, stride, NULL, NULL, 0);
}

/* block_half of a block the image's edge cuts at an odd pixel: its last pixel column (row),
 * 2 * col (2 * row) of the block, is paired with itself, not with the padding beyond: that
 * output column (row) is the IDCT's own at that pixel. col or row -1: not cut that way. */
static void block_half_edge(const int16_t *blk, const float *q, uint8_t *out, Py_ssize_t stride,
                            int col, int row)
{
    v4f basis[8];
    float vert[4][8];
    memcpy(basis, BASIS_HALF, sizeof basis);
    memcpy(vert, IDCT_HALF, sizeof vert);
    for (int u = 0; u < 8; u++) {
        if (col >= 0)
            basis[u][col] = IDCT_FULL[2 * col][u];
        if (row >= 0)
            vert[row][u] = IDCT_FULL[2 * row][u];
    }
    block_pixels(blk, q, 4, out, stride, basis, (const float(*)[8])vert, 0);
}

/* libjpeg's YCbCr -> RGB (JFIF, 16-bit fixed point, rounded), by tables as libjpeg does it;
 * LIMIT[v + 256] is v clamped to 0..255 (v in -256..511). */
static int CR_R[256], CB_B[256], CBCR_G[256][2];
static uint8_t LIMIT[768];

static void ycc_init(void)
{
    for (int i = 0; i < 256; i++) {
        int c = i - 128;
        CR_R[i] = (91881 * c + 32768) >> 16;
        CB_B[i] = (116130 * c + 32768) >> 16;
        CBCR_G[i][0] = -22554 * c;         /* Cb's part, */
        CBCR_G[i][1] = -46802 * c + 32768; /* Cr's and the rounding */
    }
    for (int v = -256; v < 512; v++)
        LIMIT[v + 256] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

#if defined(__SSE2__)
/* 8 pixels of ycc_init's conversion at once, the same integers: each product by a constant
 * over 16 bits is split, k * c = m * 65536 * c + (k - m * 65536) * c, the first part shifting
 * out exactly; the rest with the rounding's 32768 (as 2 * 16384) by one multiply-add of pairs. */
static inline __m128i ycc_term(__m128i a, __m128i b, __m128i k)
{
    __m128i lo = _mm_srai_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(a, b), k), 16);
    __m128i hi = _mm_srai_epi32(_mm_madd_epi16(_mm_unpackhi_epi16(a, b), k), 16);
    return _mm_packs_epi32(lo, hi);
}

/* 8 pixels of planar r, g, b (the low 8 bytes of each) interleaved into px: its 24 bytes as 4
 * stores of 8, pixels (r, g, b, 0) by unpacking, two at a time packed to 6 bytes; each store's
 * last 2 bytes are overwritten by the next one's, the last store's by the caller's next pixels
 * (px has at least 26 bytes). */
static inline void store_rgb8(__m128i r8, __m128i g8, __m128i b8, uint8_t *px)
{
    __m128i rg = _mm_unpacklo_epi8(r8, g8), b0 = _mm_unpacklo_epi8(b8, _mm_setzero_si128());
    __m128i quads[2] = {_mm_unpacklo_epi16(rg, b0), _mm_unpackhi_epi16(rg, b0)};
    for (int q = 0; q < 2; q++) {
        uint64_t two[2];
        memcpy(two, &quads[q], 16);
        for (int k = 0; k < 2; k++) {
            uint64_t u = (two[k] & 0xFFFFFFu) | ((two[k] >> 8) & 0xFFFFFF000000u);
            memcpy(px + 12 * q + 6 * k, &u, 8); /* little-endian: bytes r, g, b, r, g, b */
        }
    }
}

static inline void ycc_rgb8(const uint8_t *ys, const uint8_t *cbs, const uint8_t *crs,
                            uint8_t (*rgb)[8], uint8_t *px)
{
    const __m128i zero = _mm_setzero_si128(), two = _mm_set1_epi16(2);
    const __m128i c128 = _mm_set1_epi16(128);
    __m128i y = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)ys), zero);
    __m128i cb = _mm_sub_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)cbs), zero),
                               c128);
    __m128i cr = _mm_sub_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)crs), zero),
                               c128);
    /* R: 91881 = 65536 + 26345; B: 116130 = 2 * 65536 - 14942; G: -22554 cb - 46802 cr,
     * -46802 = -65536 + 18734 */
    __m128i r = _mm_add_epi16(cr, ycc_term(cr, two, _mm_set1_epi32(16384 << 16 | 26345)));
    __m128i b = _mm_add_epi16(_mm_add_epi16(cb, cb),
                              ycc_term(cb, two, _mm_set1_epi32(16384 << 16 | (-14942 & 0xFFFF))));
    __m128i g0 = _mm_madd_epi16(_mm_unpacklo_epi16(cb, cr),
                                _mm_set1_epi32(18734 << 16 | (-22554 & 0xFFFF)));
    __m128i g1 = _mm_madd_epi16(_mm_unpackhi_epi16(cb, cr),
                                _mm_set1_epi32(18734 << 16 | (-22554 & 0xFFFF)));
    const __m128i half = _mm_set1_epi32(32768);
    __m128i g = _mm_sub_epi16(_mm_packs_epi32(_mm_srai_epi32(_mm_add_epi32(g0, half), 16),
                                              _mm_srai_epi32(_mm_add_epi32(g1, half), 16)),
                              cr);
    /* y + term within -256..511: clamped to 0..255 by the saturating pack */
    __m128i r8 = _mm_packus_epi16(_mm_add_epi16(y, r), zero);
    __m128i g8 = _mm_packus_epi16(_mm_add_epi16(y, g), zero);
    __m128i b8 = _mm_packus_epi16(_mm_add_epi16(y, b), zero);
    _mm_storel_epi64((__m128i *)rgb[0], r8);
    _mm_storel_epi64((__m128i *)rgb[1], g8);
    _mm_storel_epi64((__m128i *)rgb[2], b8);
    store_rgb8(r8, g8, b8, px);
}
#endif

/* Histograms of a row's samples in HIST_SETS sets of bins, sample i of band k in set i % 4
 * (hist[(i % 4) * bands + k]): near-flat areas increment the same few bins over and over, four
 * chains of increments, not one. */
#define HIST_SETS 4

/* 8 samples of a band counted (h: the band's first set, sets `bands` apart); 8 equal samples
 * (flat areas) as one. */
static inline void count8(const uint8_t *c, uint32_t (*h)[256], Py_ssize_t bands)
{
    uint64_t w;
    memcpy(&w, c, 8);
    if (w == (w & 0xFF) * 0x0101010101010101u) {
        h[0][c[0]] += 8;
        return;
    }
    for (int x = 0; x < 8; x += 4) {
        h[0][c[x]]++, h[bands][c[x + 1]]++;
        h[2 * bands][c[x + 2]]++, h[3 * bands][c[x + 3]]++;
    }
}

/* A row of n pixels from its planar samples (y, cb, cr or the components as they are), each
 * sample counted in hist (HIST_SETS sets) when given. */
static void row_out(uint8_t *px, uint8_t *const *comp, Py_ssize_t bands, int ycc, Py_ssize_t n,
                    uint32_t (*hist)[256])
{
    Py_ssize_t i = 0;
    if (ycc) {
        const uint8_t *limit = LIMIT + 256, *ys = comp[0], *cbs = comp[1], *crs = comp[2];
#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        for (; i + 8 < n; i += 8, px += 24) { /* a pixel after the 8: the stores' overrun */
            uint8_t rgb[3][8];
            ycc_rgb8(ys + i, cbs + i, crs + i, rgb, px);
            for (int k = 0; hist && k < 3; k++)
                count8(rgb[k], hist + k, 3);
        }
#endif
        for (; i < n; i++, px += 3) {
            int y = ys[i], cb = cbs[i], cr = crs[i];
            uint8_t r = limit[y + CR_R[cr]];
            uint8_t g = limit[y + ((CBCR_G[cb][0] + CBCR_G[cr][1]) >> 16)];
            uint8_t b = limit[y + CB_B[cb]];
            px[0] = r, px[1] = g, px[2] = b;
            if (hist) {
                uint32_t(*h)[256] = hist + (i & 3) * 3;
                h[0][r]++, h[1][g]++, h[2][b]++;
            }
        }
        return;
    }
#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (bands == 3) /* RGB-coded (Aperio): interleaved 8 pixels at a time */
        for (; i + 8 < n; i += 8, px += 24) {
            store_rgb8(_mm_loadl_epi64((const __m128i *)(comp[0] + i)),
                       _mm_loadl_epi64((const __m128i *)(comp[1] + i)),
                       _mm_loadl_epi64((const __m128i *)(comp[2] + i)), px);
            for (int k = 0; hist && k < 3; k++)
                count8(comp[k] + i, hist + k, 3);
        }
#endif
    Py_ssize_t done = i;
    for (Py_ssize_t k = 0; k < bands; k++) {
        const uint8_t *c = comp[k];
        if (bands == 1)
            memcpy(px, c + done, n - done);
        else
            for (i = done; i < n; i++)
                px[(i - done) * bands + k] = c[i];
        i = done;
        for (; hist && i + 8 <= n; i += 8)
            count8(c + i, hist + k, bands);
        for (; hist && i < n; i++)
            hist[(i & 3) * bands + k][c[i]]++;
    }
}

/* counts: an aligned, writable int64 array (256, bands). */
static int histogram_open(PyObject *obj, Py_ssize_t bands, Py_buffer *cv)
{
    if (PyObject_GetBuffer(obj, cv, PyBUF_RECORDS) < 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "counts: not a writable int64 array");
        cv->buf = NULL;
        return -1;
    }
    const char *f = cv->format ? cv->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    if (cv->itemsize != 8 || (strcmp(f, "q") != 0 && strcmp(f, "l") != 0) || cv->ndim != 2 ||
        cv->shape[0] != 256 || cv->shape[1] != bands ||
        ((uintptr_t)cv->buf | (uintptr_t)cv->strides[0] | (uintptr_t)cv->strides[1]) % 8) {
        PyErr_SetString(PyExc_ValueError, "counts: an aligned int64 array (256, bands) expected");
        PyBuffer_Release(cv);
        cv->buf = NULL;
        return -1;
    }
    return 0;
}

/* counts[value, band] += weight * part[band][value]; part zeroed. */
static void histogram_add(const Py_buffer *cv, uint32_t (*part)[256], Py_ssize_t bands,
                          int64_t weight)
{
    for (Py_ssize_t b = 0; b < bands; b++)
        for (int v = 0; v < 256; v++) {
            *(int64_t *)((char *)cv->buf + v * cv->strides[0] + b * cv->strides[1]) +=
                weight * part[b][v];
            part[b][v] = 0;
        }
}

/* A half call's arguments, checked (half_open), its work without the GIL (half_run). */
typedef struct {
    const plane_t *planes;
    Py_ssize_t n;
    Py_buffer ov, cv; /* out; counts (cv.buf NULL: none) */
    image_t out;
    int ycc, size[MAX_COMPONENTS];
    long vmax;
    Py_ssize_t cut_bx, cut_by; /* the block column and row an odd edge cuts (-1: none), */
    int cut_col, cut_row;      /* and its output column or row there */
    float q[MAX_COMPONENTS][64] __attribute__((aligned(16))); /* as floats: vectors */
} half_t;

static void half_close(half_t *hf)
{
    if (hf->ov.buf)
        PyBuffer_Release(&hf->ov);
    if (hf->cv.buf)
        PyBuffer_Release(&hf->cv);
    hf->ov.buf = hf->cv.buf = NULL;
}

/* Checks half's arguments for the n planes (their views held by the caller); 0, or -1 with an
 * exception set (nothing held then). */
static int half_open(half_t *hf, const plane_t *planes, Py_ssize_t n, PyObject *sampling,
                     const Py_buffer *qv, int ycc, PyObject *out_obj, PyObject *counts_obj,
                     PyObject *edge_obj)
{
    long h[MAX_COMPONENTS], v[MAX_COMPONENTS], hmax = 0, vmax = 0;
    long edge_w = -1, edge_h = -1; /* the image's extent in the planes (pixels), if cut */
    memset(hf, 0, sizeof *hf);
    hf->planes = planes;
    hf->n = n;
    hf->ycc = ycc;
    if (image_open(out_obj, 1, "out", &hf->ov, &hf->out) < 0)
        return -1;
    const image_t *out = &hf->out;
    const char *bad = NULL;
    if (!PyTuple_Check(sampling) || PyTuple_GET_SIZE(sampling) != n)
        bad = "sampling: one (h, v) a plane expected";
    for (Py_ssize_t k = 0; !bad && k < n; k++) {
        if (int_pair(PyTuple_GET_ITEM(sampling, k), "sampling", &h[k], &v[k]) < 0)
            goto fail;
        if (h[k] < 1 || h[k] > 4 || v[k] < 1 || v[k] > 4)
            bad = "sampling: factors are 1 to 4";
        hmax = h[k] > hmax ? h[k] : hmax;
        vmax = v[k] > vmax ? v[k] : vmax;
    }
    if (!bad && qv->len != n * 128)
        bad = "quant: 64 little-endian uint16 a plane expected";
    if (!bad && (out->bands != n || (ycc && n != 3)))
        bad = "out: one band a plane (3 for YCbCr) expected";
    for (Py_ssize_t k = 0; !bad && k < n; k++) {
        if (hmax % h[k] || vmax % v[k] || hmax / h[k] != vmax / v[k] || hmax / h[k] > 2)
            bad = "sampling: only 1x1 or 2x2 upsampling at half scale";
        else {
            hf->size[k] = 4 * (int)(hmax / h[k]);
            if (planes[k].rows * hf->size[k] < out->rows ||
                planes[k].cols * hf->size[k] < out->cols)
                bad = "out: larger than the planes at half scale";
            else if (out->rows % (4 * vmax) || out->cols % (4 * hmax))
                bad = "out: not a whole number of MCUs";
        }
    }
    if (!bad && edge_obj != Py_None) {
        if (int_pair(edge_obj, "edge", &edge_w, &edge_h) < 0)
            goto fail;
        if (edge_w < 1 || edge_h < 1 || edge_w > 2 * out->cols || edge_h > 2 * out->rows)
            bad = "edge: the image's width and height within out's, at full scale, expected";
        else if ((edge_w % 2 || edge_h % 2) && hmax != 1) /* 2x2-sampled chroma: no pairs */
            bad = "edge: an odd edge only for components sampled in full";
    }
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        goto fail;
    }
    if (counts_obj != Py_None && histogram_open(counts_obj, n, &hf->cv) < 0)
        goto fail;
    hf->vmax = vmax;
    hf->cut_bx = edge_w > 0 && edge_w % 2 ? (edge_w - 1) / 8 : -1;
    hf->cut_by = edge_h > 0 && edge_h % 2 ? (edge_h - 1) / 8 : -1;
    hf->cut_col = hf->cut_bx < 0 ? -1 : (int)(((edge_w - 1) % 8) / 2);
    hf->cut_row = hf->cut_by < 0 ? -1 : (int)(((edge_h - 1) % 8) / 2);
    for (Py_ssize_t k = 0; k < n; k++)
        for (int i = 0; i < 64; i++)
            hf->q[k][i] = (float)(((const uint8_t *)qv->buf)[128 * k + 2 * i] |
                                  ((const uint8_t *)qv->buf)[128 * k + 2 * i + 1] << 8);
    return 0;
fail:
    half_close(hf);
    return -1;
}

/* half's work (no Python: runs without the GIL): -1 when out of memory. One MCU row at a
 * time, each component planar (4 * vmax rows), then the pixels. */
static int half_run(const half_t *hf)
{
    const Py_ssize_t n = hf->n, band = 4 * hf->vmax, cols = hf->out.cols;
    uint8_t *work = malloc((size_t)(n * band * cols));
    uint32_t(*hist)[256] = hf->cv.buf ? calloc((size_t)(HIST_SETS * n), sizeof *hist) : NULL;
    if (!work || (hf->cv.buf && !hist)) {
        free(work);
        free(hist);
        return -1;
    }
    for (Py_ssize_t top = 0; top < hf->out.rows; top += band) {
        for (Py_ssize_t k = 0; k < n; k++) {
            int sz = hf->size[k];
            for (Py_ssize_t r = 0; r < band / sz; r++) {
                uint8_t *o = work + (k * band + r * sz) * cols;
                Py_ssize_t by = top / sz + r;
                for (Py_ssize_t bx = 0; bx < cols / sz; bx++) {
                    const int16_t *blk = plane_block(&hf->planes[k], by, bx);
                    if (sz == 4 && (bx == hf->cut_bx || by == hf->cut_by))
                        block_half_edge(blk, hf->q[k], o + bx * sz, cols,
                                        bx == hf->cut_bx ? hf->cut_col : -1,
                                        by == hf->cut_by ? hf->cut_row : -1);
                    else
                        (sz == 4 ? block_half : block_full)(blk, hf->q[k], o + bx * sz, cols);
                }
            }
        }
        for (Py_ssize_t y = 0; y < band; y++) {
            uint8_t *comp[MAX_COMPONENTS];
            for (Py_ssize_t k = 0; k < n; k++)
                comp[k] = work + (k * band + y) * cols;
            row_out(hf->out.base + (top + y) * hf->out.stride, comp, n, hf->ycc, cols, hist);
        }
    }
    if (hist)
        for (int set = 0; set < HIST_SETS; set++)
            histogram_add(&hf->cv, hist + set * n, n, 1);
    free(work);
    free(hist);
    return 0;
}

static PyObject *py_half(PyObject *self, PyObject *args)
{
    PyObject *seq, *sampling, *out_obj, *counts_obj = Py_None, *edge_obj = Py_None;
    Py_buffer qv, views[MAX_COMPONENTS];
    plane_t planes[MAX_COMPONENTS];
    half_t hf;
    Py_ssize_t n;
    int ycc, failed;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOy*pO|OO:half", &seq, &sampling, &qv, &ycc, &out_obj,
                          &counts_obj, &edge_obj))
        return NULL;
    if (planes_open(seq, 0, views, planes, &n) < 0) {
        PyBuffer_Release(&qv);
        return NULL;
    }
    if (half_open(&hf, planes, n, sampling, &qv, ycc, out_obj, counts_obj, edge_obj) < 0) {
        planes_close(views, n);
        PyBuffer_Release(&qv);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    failed = half_run(&hf);
    Py_END_ALLOW_THREADS
    half_close(&hf);
    planes_close(views, n);
    PyBuffer_Release(&qv);
    if (failed)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* 2x2 means (rounded) of src into dst, ceil(rows / 2) x ceil(cols / 2): an odd last row or
 * column is paired with itself. */
static PyObject *py_halve(PyObject *self, PyObject *args)
{
    PyObject *src_obj, *dst_obj;
    Py_buffer sv, dv;
    image_t src, dst;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO:halve", &src_obj, &dst_obj))
        return NULL;
    if (image_open(src_obj, 0, "src", &sv, &src) < 0)
        return NULL;
    if (image_open(dst_obj, 1, "dst", &dv, &dst) < 0) {
        PyBuffer_Release(&sv);
        return NULL;
    }
    if (dst.bands != src.bands || dst.rows != (src.rows + 1) / 2 ||
        dst.cols != (src.cols + 1) / 2) {
        PyErr_SetString(PyExc_ValueError, "dst: (ceil(rows / 2), ceil(cols / 2), bands) expected");
    } else {
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t c = src.bands, pairs = src.cols / 2;
        for (Py_ssize_t y = 0; y < dst.rows; y++) {
            const uint8_t *a = src.base + 2 * y * src.stride;
            const uint8_t *b = 2 * y + 1 < src.rows ? a + src.stride : a;
            uint8_t *o = dst.base + y * dst.stride;
            if (c == 3) /* the usual case, unrolled */
                for (Py_ssize_t x = 0; x < pairs; x++, a += 6, b += 6, o += 3) {
                    o[0] = (uint8_t)((a[0] + a[3] + b[0] + b[3] + 2) >> 2);
                    o[1] = (uint8_t)((a[1] + a[4] + b[1] + b[4] + 2) >> 2);
                    o[2] = (uint8_t)((a[2] + a[5] + b[2] + b[5] + 2) >> 2);
                }
            else
                for (Py_ssize_t x = 0; x < pairs; x++, a += 2 * c, b += 2 * c, o += c)
                    for (Py_ssize_t k = 0; k < c; k++)
                        o[k] = (uint8_t)((a[k] + a[k + c] + b[k] + b[k + c] + 2) >> 2);
            if (src.cols % 2) /* a, b, o: past the pairs */
                for (Py_ssize_t k = 0; k < c; k++)
                    o[k] = (uint8_t)((2 * a[k] + 2 * b[k] + 2) >> 2);
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&sv);
    PyBuffer_Release(&dv);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* counts[value, band] += weight for every sample of the image. */
static PyObject *py_histogram(PyObject *self, PyObject *args)
{
    PyObject *img_obj, *counts_obj;
    Py_buffer iv, cv;
    image_t img;
    long long weight;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOL:histogram", &img_obj, &counts_obj, &weight))
        return NULL;
    if (image_open(img_obj, 0, "pixels", &iv, &img) < 0)
        return NULL;
    if (histogram_open(counts_obj, img.bands, &cv) < 0) {
        PyBuffer_Release(&iv);
        return NULL;
    }
    /* 32-bit partial counts, flushed before they could overflow */
    uint32_t(*part)[256] = calloc((size_t)img.bands, sizeof *part);
    if (!part) {
        PyErr_NoMemory();
    } else {
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t c = img.bands, row = img.cols * c, done = 0;
        for (Py_ssize_t y = 0; y < img.rows; y++) {
            const uint8_t *p = img.base + y * img.stride;
            if (c == 3)
                for (Py_ssize_t i = 0; i < row; i += 3) {
                    part[0][p[i]]++;
                    part[1][p[i + 1]]++;
                    part[2][p[i + 2]]++;
                }
            else
                for (Py_ssize_t i = 0; i < row; i++)
                    part[i % c][p[i]]++;
            done += img.cols;
            if (done > (1L << 30) || y == img.rows - 1) {
                histogram_add(&cv, part, c, weight);
                done = 0;
            }
        }
        Py_END_ALLOW_THREADS
        free(part);
    }
    PyBuffer_Release(&iv);
    PyBuffer_Release(&cv);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}


/* ---------------------------------------------------------------------------------------------
 * Module
 */
static int transcode_block(breader_t *reader, const dhuff_t *dc, const dhuff_t *ac,
                           int16_t *pred, int16_t *blk, const ehuff_t *oac,
                           const uint64_t *tt, bwriter_t *w, tblock_t *rec, errmsg_t *err)
{
    scan_out_t o = {oac, tt, w, rec, NULL, NULL, NULL, NULL};
    return scan_block(reader, dc, ac, pred, blk, SCAN_TRANSCODE, &o, err);
}

/* Copy mode (a source AC table the output's own: the source's AC bits kept as they are, no
 * symbol coded again). The scan's data is first unstuffed (unstuff_scan), then decoded from it
 * (copy_scan): each block's record says where its AC bits are in the unstuffed data, which is
 * the store assemble copies them from. */
static int copy_block(breader_t *reader, const dhuff_t *dc, const dhuff_t *ac, int16_t *pred,
                      int16_t *blk, const uint8_t *base, tblock_t *rec, errmsg_t *err)
{
    scan_out_t o = {NULL, NULL, NULL, rec, NULL, NULL, NULL, base};
    return scan_block(reader, dc, ac, pred, blk, SCAN_COPY, &o, err);
}

/* Whether the decoding table d codes every symbol as e does, and e no other. */
static int codes_same(const dhuff_t *d, const ehuff_t *e)
{
    int n = 0, coded = 0;
    for (int len = 1; len <= 16; len++) {
        for (int32_t code = d->mincode[len]; code <= d->maxcode[len]; code++, n++) {
            int sym = d->vals[d->valptr[len] + code - d->mincode[len]];
            if (e->size[sym] != len || e->code[sym] != (uint32_t)code)
                return 0;
        }
    }
    for (int sym = 0; sym < 256; sym++)
        coded += e->size[sym] != 0;
    return coded == n;
}

/* The entropy-coded data [data, end) into out (room for end - data + 8 bytes) without its
 * stuffed zeros (F.1.2.3) and restart markers: each interval after the first starts at rst[i]
 * (bytes in out; nrst of them at most, RSTn's n checked in turn, *found of them). The data
 * ends at any other marker (EOI), or at the end. Returns its length (8 zero bytes after it:
 * assemble reads 8 bytes at any bit), or -1. */
static Py_ssize_t unstuff_scan(const uint8_t *data, const uint8_t *end, uint8_t *out,
                               uint32_t *rst, Py_ssize_t nrst, Py_ssize_t *found, errmsg_t *err)
{
    uint8_t *o = out;
    const uint8_t *p = data;
    Py_ssize_t n = 0;
    while (p < end) {
        const uint8_t *ff = memchr(p, 0xFF, (size_t)(end - p));
        size_t run = (size_t)((ff ? ff : end) - p);
        memcpy(o, p, run);
        o += run;
        p += run;
        if (!ff)
            break;
        const uint8_t *q = ff + 1;
        if (q < end && *q == 0x00) { /* a stuffed 0xFF data byte */
            *o++ = 0xFF;
            p = q + 1;
            continue;
        }
        while (q < end && *q == 0xFF) /* fill bytes before a marker */
            q++;
        if (q >= end || *q < 0xD0 || *q > 0xD7 || n >= nrst)
            break; /* another marker, or a restart past the last interval: the data ends */
        if (*q != 0xD0 + (n & 7))
            return fail(err, "corrupt: marker 0x%02X where RST%d is due", *q, (int)(n & 7));
        rst[n++] = (uint32_t)(o - out);
        p = q + 1;
    }
    memset(o, 0, 8);
    *found = n;
    return (Py_ssize_t)(o - out);
}

/* decode_scan from the unstuffed data u (ulen bytes, intervals starting at rst[0..nrst)), each
 * block's AC bits recorded where they are (copy_block). */
static int copy_scan(const jpeg_t *j, const uint8_t *u, Py_ssize_t ulen, const uint32_t *rst,
                     Py_ssize_t nrst, const plane_t *planes, tblock_t *recs,
                     const int *dc_same, errmsg_t *err)
{
    breader_t br = {u, u + (nrst > 0 ? rst[0] : ulen), 0, 0, 0, STOP_NONE};
    walk_t s;
    Py_ssize_t mcu = 0;
    int seen[MAX_COMPONENTS] = {0}; /* a block of the component read in this interval */
    walk_begin(j, &s);
    for (Py_ssize_t my = 0; my < j->mcuy; my++) {
        for (Py_ssize_t mx = 0; mx < j->mcux; mx++, mcu++) {
            if (j->restart && mcu > 0 && mcu % j->restart == 0) { /* interval k ended */
                Py_ssize_t k = mcu / j->restart - 1;
                int rn = (int)(k & 7);
                if (k >= nrst)
                    return fail(err, "truncated: the scan data ends before RST%d", rn);
                if ((br.end - br.p) * 8 + (br.bits - br.pad) >= 8) /* more than its padding */
                    return fail(err, "corrupt: data where RST%d is due", rn);
                br.p = u + rst[k];
                br.end = u + (k + 1 < nrst ? rst[k + 1] : ulen);
                br.acc = 0;
                br.bits = br.pad = 0;
                memset(s.pred, 0, sizeof s.pred);
                memset(seen, 0, sizeof seen);
            }
            for (int b = 0; b < s.nslots; b++) {
                const slot_t *o = &s.slots[b];
                int16_t *blk = slot_block(planes, o, mx, my, s.scratch);
                if (copy_block(&br, o->dc, o->ac, &s.pred[o->k], blk, u, recs, err) < 0)
                    return -1;
                if (seen[o->k] && dc_same[o->k])
                    recs->len |= TB_WHOLE;
                seen[o->k] = 1;
                recs++;
            }
        }
    }
    return 0;
}

/* tt[window]: the output's code and extra bits (value << 8 | bits) of the AC symbol whose
 * code and value the next LOOKAHEAD bits hold (one of ac's fast entries), 0 when they hold
 * none or the output has no code for it. */
static void tt_build(uint64_t *tt, const dhuff_t *ac, const ehuff_t *oac)
{
    for (int i = 0; i < (1 << LOOKAHEAD); i++) {
        int fast = ac->fast[i];
        tt[i] = 0;
        if ((unsigned)fast < 256)
            continue;
        int r = (fast >> 4) & 15, v = (fast - (fast & 0xFF)) / 256, s = category_nz(v);
        int sym = r << 4 | s;
        if (oac->size[sym])
            tt[i] = (uint64_t)(oac->code[sym] << s | extra_bits(v, s)) << 8 |
                    (uint64_t)(oac->size[sym] + s);
    }
}

#define MAX_SETS 2

/* Which output table set codes each MCU of a source tile: the set of the output tile it falls
 * in, grid[row * cols + col] (a row or column past the grid: its last); grid NULL: set 0. */
typedef struct {
    const uint8_t *grid;
    long cols, rows;   /* the output tiles */
    long x0, y0;       /* the source tile's first MCU, in the level */
    long tile_x, tile_y; /* an output tile's MCUs */
} choice_t;

static inline int choice_set(const choice_t *c, Py_ssize_t mx, Py_ssize_t my)
{
    if (!c->grid)
        return 0;
    long col = (c->x0 + (long)mx) / c->tile_x, row = (c->y0 + (long)my) / c->tile_y;
    col = col < c->cols ? col : c->cols - 1;
    row = row < c->rows ? row : c->rows - 1;
    return c->grid[row * c->cols + col];
}

/* The transcoding's output tables: each set's AC table and tt of each component. */
typedef struct {
    int nsets;
    const ehuff_t *oac[MAX_SETS][MAX_COMPONENTS];
    const uint64_t *tt[MAX_SETS][MAX_COMPONENTS];
} ttables_t;

/* decode_scan with each block transcoded, with the set `choice` gives its MCU. */
static int transcode_scan(const jpeg_t *j, const uint8_t *end, const plane_t *planes,
                          const ttables_t *tab, const choice_t *choice, bwriter_t *w,
                          tblock_t *recs, errmsg_t *err)
{
    breader_t br = {j->data, end, 0, 0, 0, STOP_NONE};
    walk_t s;
    Py_ssize_t mcu = 0;
    walk_begin(j, &s);
    for (Py_ssize_t my = 0; my < j->mcuy; my++) {
        for (Py_ssize_t mx = 0; mx < j->mcux; mx++, mcu++) {
            if (scan_restart(j, &br, mcu, s.pred, err) < 0)
                return -1;
            if (bw_reserve(w, (size_t)s.nslots * TBLOCK_BYTES_MAX) < 0)
                return fail(err, "out of memory");
            int set = choice_set(choice, mx, my);
            if (set >= tab->nsets)
                return fail(err, "choice: set %d of %d", set, tab->nsets);
            for (int b = 0; b < s.nslots; b++) {
                const slot_t *o = &s.slots[b];
                int16_t *blk = slot_block(planes, o, mx, my, s.scratch);
                if (transcode_block(&br, o->dc, o->ac, &s.pred[o->k], blk, tab->oac[set][o->k],
                                    tab->tt[set][o->k], w, recs++, err) < 0)
                    return -1;
            }
        }
    }
    /* the pending bits out, then 8 bytes of slack: assemble reads 8 bytes at any bit */
    if (bw_reserve(w, 16) < 0)
        return fail(err, "out of memory");
    STORE_BE64(w->buf + w->len, w->bits ? w->acc << (64 - w->bits) : 0);
    memset(w->buf + w->len + 8, 0, 8);
    w->len += 16;
    return 0;
}

/* choice: None, or (grid, cols, rows, x0, y0, tile_x, tile_y) (choice_t). */
static int choice_read(PyObject *obj, Py_buffer *view, choice_t *c)
{
    memset(c, 0, sizeof *c);
    view->buf = NULL;
    if (obj == Py_None)
        return 0;
    PyObject *grid;
    if (!PyArg_ParseTuple(obj, "Ollllll:choice", &grid, &c->cols, &c->rows, &c->x0, &c->y0,
                          &c->tile_x, &c->tile_y))
        return -1;
    if (PyObject_GetBuffer(grid, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (c->cols < 1 || c->rows < 1 || c->tile_x < 1 || c->tile_y < 1 || c->x0 < 0 || c->y0 < 0 ||
        view->len != c->cols * c->rows) {
        PyErr_SetString(PyExc_ValueError, "choice: a grid of cols x rows sets expected");
        PyBuffer_Release(view);
        view->buf = NULL;
        return -1;
    }
    c->grid = view->buf;
    return 0;
}

/* Output tables parsed once for a level (prepare's capsule), and each tt built from them:
 * slots filled with the GIL held, never changed after (threads read them without it); a
 * source table beyond the slots gets a tt of its own each call. */
#define TT_SLOTS 4
#define PREPARED "cytotile._jpegdct.tables"

typedef struct {
    int used;
    int16_t fast[1 << LOOKAHEAD]; /* the source AC table's fast entries it was built for */
    uint64_t tt[1 << LOOKAHEAD];
} ttslot_t;

typedef struct {
    int nsets;
    Py_ssize_t n;
    ehuff_t t[MAX_SETS][MAX_COMPONENTS][2];
    ttslot_t slot[MAX_SETS][MAX_COMPONENTS][TT_SLOTS];
} prepared_t;

static void prepared_free(PyObject *capsule)
{
    free(PyCapsule_GetPointer(capsule, PREPARED));
}

/* sets: a tuple of 1 or 2 table sets (tables_read's), n components each; NULL on error. */
static prepared_t *prepared_read(PyObject *sets, Py_ssize_t n)
{
    if (!PyTuple_Check(sets) || PyTuple_GET_SIZE(sets) < 1 || PyTuple_GET_SIZE(sets) > MAX_SETS) {
        PyErr_SetString(PyExc_ValueError, "sets: a tuple of 1 or 2 table sets expected");
        return NULL;
    }
    prepared_t *p = calloc(1, sizeof *p);
    if (!p) {
        PyErr_NoMemory();
        return NULL;
    }
    p->nsets = (int)PyTuple_GET_SIZE(sets);
    p->n = n;
    for (int s = 0; s < p->nsets; s++)
        if (tables_read(PyTuple_GET_ITEM(sets, s), n, p->t[s]) < 0) {
            free(p);
            return NULL;
        }
    return p;
}

static PyObject *py_prepare(PyObject *self, PyObject *args)
{
    PyObject *sets;
    (void)self;
    if (!PyArg_ParseTuple(args, "O:prepare", &sets))
        return NULL;
    Py_ssize_t n = PyTuple_Check(sets) && PyTuple_GET_SIZE(sets) > 0 &&
                           PyTuple_Check(PyTuple_GET_ITEM(sets, 0))
                       ? PyTuple_GET_SIZE(PyTuple_GET_ITEM(sets, 0))
                       : 0;
    if (n < 1 || n > MAX_COMPONENTS) {
        PyErr_SetString(PyExc_ValueError, "sets: a tuple of table sets, 1 to 4 components each");
        return NULL;
    }
    prepared_t *p = prepared_read(sets, n);
    if (!p)
        return NULL;
    PyObject *capsule = PyCapsule_New(p, PREPARED, prepared_free);
    if (!capsule)
        free(p);
    return capsule;
}

/* obj: prepare's capsule (borrowed: *own NULL) or a tuple of sets (parsed: *own to free). */
static prepared_t *prepared_get(PyObject *obj, Py_ssize_t n, prepared_t **own)
{
    *own = NULL;
    if (PyCapsule_CheckExact(obj)) {
        prepared_t *p = PyCapsule_GetPointer(obj, PREPARED);
        if (p && p->n != n) {
            PyErr_Format(PyExc_ValueError, "tables of %zd components for %zd", p->n, n);
            return NULL;
        }
        return p;
    }
    return *own = prepared_read(obj, n);
}

/* The tt of set s, component k for the source AC table ac (with the GIL): a slot's, or built
 * into spare (NULL when out of memory). */
static const uint64_t *prepared_tt(prepared_t *p, int s, int k, const dhuff_t *ac,
                                   uint64_t *spare)
{
    ttslot_t *slots = p->slot[s][k];
    for (int i = 0; i < TT_SLOTS; i++) {
        if (slots[i].used && !memcmp(slots[i].fast, ac->fast, sizeof ac->fast))
            return slots[i].tt;
        if (!slots[i].used) {
            tt_build(slots[i].tt, ac, &p->t[s][k][1]);
            memcpy(slots[i].fast, ac->fast, sizeof ac->fast);
            slots[i].used = 1;
            return slots[i].tt;
        }
    }
    if (spare)
        tt_build(spare, ac, &p->t[s][k][1]);
    return spare;
}

/* One transcode call's work in three parts: tjob_open parses and checks its arguments and holds
 * what it reads (with the GIL), tjob_run decodes and transcodes the tile into the planes it is
 * given, and makes its level 1 (without the GIL: any thread), tjob_finish builds its result
 * (with the GIL) and releases everything (tjob_close). A step (step_*) opens a row's worth of
 * them, the crew's threads run them, the caller finishes them. */
typedef struct {
    Py_buffer stream, grid, hq; /* held until tjob_close (grid, hq: when given) */
    PyObject *sets;             /* a reference: the prepared tables live as long */
    choice_t choice;
    half_t hf;
    int halving, copy, half_failed;
    int dc_same[MAX_COMPONENTS];
    jpeg_t *j;
    uint64_t (*spare)[1 << LOOKAHEAD]; /* tts no slot holds */
    prepared_t *own;
    ttables_t tab;
    Py_ssize_t nrst, found, ulen;
    uint32_t *rst;   /* copy mode: where each restart interval starts */
    bwriter_t w;     /* transcode mode: the AC bit strings */
    tblock_t *recs;  /* in recs_obj */
    PyObject *bits_obj, *recs_obj; /* the store: (bits, records) */
    errmsg_t err;
} tjob_t;

static void tjob_close(tjob_t *t)
{
    if (t->halving)
        half_close(&t->hf);
    if (t->hq.buf)
        PyBuffer_Release(&t->hq);
    if (t->stream.buf)
        PyBuffer_Release(&t->stream);
    if (t->grid.buf)
        PyBuffer_Release(&t->grid);
    Py_CLEAR(t->sets);
    free(t->j);
    free(t->own);
    free(t->spare);
    free(t->w.buf);
    free(t->rst);
    Py_CLEAR(t->bits_obj);
    Py_CLEAR(t->recs_obj);
    memset(t, 0, sizeof *t);
}

/* The arguments of a transcode call (stream_obj: a bytes-like tile stream); planes: n planes
 * whose sizes are checked (the ones tjob_run gets have the same). 0, or -1 with an exception
 * set and nothing held. */
static int tjob_open(tjob_t *t, PyObject *stream_obj, const plane_t *planes, Py_ssize_t n,
                     PyObject *sets, PyObject *choice_obj, PyObject *half_obj)
{
    PyObject *h_sampling, *h_out, *h_counts, *h_edge;
    int h_ycc;
    memset(t, 0, sizeof *t);
    if (PyObject_GetBuffer(stream_obj, &t->stream, PyBUF_SIMPLE) < 0)
        return -1;
    if (half_obj != Py_None) { /* then half's work on the planes decoded, in the same call */
        if (!PyTuple_Check(half_obj) || PyTuple_GET_SIZE(half_obj) != 6) {
            PyErr_SetString(PyExc_ValueError,
                            "half: (sampling, quant, ycc, out, counts, edge) expected");
            goto fail;
        }
        if (!PyArg_ParseTuple(half_obj, "Oy*pOOO:half", &h_sampling, &t->hq, &h_ycc, &h_out,
                              &h_counts, &h_edge) ||
            half_open(&t->hf, planes, n, h_sampling, &t->hq, h_ycc, h_out, h_counts, h_edge) < 0)
            goto fail;
        t->halving = 1;
    }
    if (!(t->j = calloc(1, sizeof *t->j))) {
        PyErr_NoMemory();
        goto fail;
    }
    if (choice_read(choice_obj, &t->grid, &t->choice) < 0)
        goto fail;
    prepared_t *p = prepared_get(sets, n, &t->own);
    if (!p)
        goto fail;
    t->sets = Py_NewRef(sets);
    jpeg_t *j = t->j;
    if (decode_headers(j, t->stream.buf, (size_t)t->stream.len, planes, n, &t->err) < 0) {
        PyErr_SetString(PyExc_ValueError, t->err.msg);
        goto fail;
    }
    int nslots = 0, spares = 0;
    for (int i = 0; i < j->nscan; i++)
        nslots += j->comp[j->scan[i]].h * j->comp[j->scan[i]].v;
    t->tab.nsets = p->nsets;
    for (int s = 0; s < p->nsets; s++)
        for (int i = 0; i < j->nscan; i++) {
            int k = j->scan[i];
            t->tab.oac[s][k] = &p->t[s][k][1];
            t->tab.tt[s][k] = prepared_tt(p, s, k, &j->ac[j->comp[k].ta], NULL);
            if (!t->tab.tt[s][k]) { /* the slots are full: one of this call's own */
                if (!t->spare &&
                    !(t->spare = malloc(MAX_SETS * MAX_COMPONENTS * sizeof *t->spare))) {
                    PyErr_NoMemory();
                    goto fail;
                }
                t->tab.tt[s][k] = prepared_tt(p, s, k, &j->ac[j->comp[k].ta], t->spare[spares++]);
            }
        }
    size_t nblocks = (size_t)(j->mcux * j->mcuy) * (size_t)nslots;
    /* the records and (copying) the unstuffed scan written into their bytes objects */
    t->recs_obj = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(nblocks * sizeof *t->recs));
    if (!t->recs_obj)
        goto fail;
    t->recs = (tblock_t *)PyBytes_AS_STRING(t->recs_obj);
    t->copy = p->nsets == 1 && !t->choice.grid; /* the source's AC codes are the output's */
    for (int i = 0; i < j->nscan && t->copy; i++) { /* and its DC codes, each component's */
        int k = j->scan[i];
        t->copy = codes_same(&j->ac[j->comp[k].ta], t->tab.oac[0][k]);
        t->dc_same[k] = codes_same(&j->dc[j->comp[k].td], &p->t[0][k][0]);
    }
    if (t->copy) {
        const uint8_t *end = (const uint8_t *)t->stream.buf + t->stream.len;
        Py_ssize_t mcus = j->mcux * j->mcuy;
        if (j->restart)
            t->nrst = (mcus + j->restart - 1) / j->restart - 1; /* markers between intervals */
        t->bits_obj = PyBytes_FromStringAndSize(NULL, (end - j->data) + 16);
        if (!t->bits_obj)
            goto fail;
        if (!(t->rst = malloc((size_t)t->nrst * sizeof *t->rst + 1))) {
            PyErr_NoMemory();
            goto fail;
        }
    }
    return 0;
fail:
    tjob_close(t);
    return -1;
}

/* The tile decoded into planes (the sizes tjob_open checked), its blocks transcoded or their
 * bits found, and its level 1 made (without the GIL). */
static void tjob_run(tjob_t *t, const plane_t *planes)
{
    const jpeg_t *j = t->j;
    const uint8_t *end = (const uint8_t *)t->stream.buf + t->stream.len;
    if (t->copy) {
        uint8_t *u = (uint8_t *)PyBytes_AS_STRING(t->bits_obj);
        t->ulen = unstuff_scan(j->data, end, u, t->rst, t->nrst, &t->found, &t->err);
        if (t->ulen >= 0)
            copy_scan(j, u, t->ulen, t->rst, t->found, planes, t->recs, t->dc_same, &t->err);
    } else {
        transcode_scan(j, end, planes, &t->tab, &t->choice, &t->w, t->recs, &t->err);
    }
    if (t->halving && !t->err.failed) {
        t->hf.planes = planes;
        t->half_failed = half_run(&t->hf);
    }
}

/* (quant, bits, records), or NULL with an exception set; the job closed either way. */
static PyObject *tjob_finish(tjob_t *t)
{
    PyObject *result = NULL;
    if (t->err.failed) {
        PyErr_SetString(PyExc_ValueError, t->err.msg);
        goto out;
    }
    if (t->half_failed) {
        PyErr_NoMemory();
        goto out;
    }
    if (t->copy) {
        if (_PyBytes_Resize(&t->bits_obj, t->ulen + 8) < 0)
            goto out; /* bits_obj NULL then */
    } else if (!(t->bits_obj = PyBytes_FromStringAndSize((const char *)t->w.buf,
                                                         (Py_ssize_t)t->w.len))) {
        goto out;
    }
    uint8_t qt[4 * 64 * 2];
    for (int q = 0; q < 4; q++)
        for (int i = 0; i < 64; i++) {
            qt[2 * (64 * q + i)] = (uint8_t)(t->j->qt[q][i] & 0xFF);
            qt[2 * (64 * q + i) + 1] = (uint8_t)(t->j->qt[q][i] >> 8);
        }
    result = Py_BuildValue("y#OO", (const char *)qt, (Py_ssize_t)sizeof qt, t->bits_obj,
                           t->recs_obj);
out:
    tjob_close(t);
    return result;
}

static PyObject *py_transcode(PyObject *self, PyObject *args)
{
    Py_buffer views[MAX_COMPONENTS];
    plane_t planes[MAX_COMPONENTS];
    PyObject *stream, *seq, *sets, *choice_obj = Py_None, *half_obj = Py_None;
    Py_ssize_t n;
    tjob_t t;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO|OO:transcode", &stream, &seq, &sets, &choice_obj,
                          &half_obj))
        return NULL;
    if (planes_open(seq, 1, views, planes, &n) < 0)
        return NULL;
    if (tjob_open(&t, stream, planes, n, sets, choice_obj, half_obj) < 0) {
        planes_close(views, n);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    tjob_run(&t, planes);
    Py_END_ALLOW_THREADS
    planes_close(views, n);
    return tjob_finish(&t);
}

/* One source tile's transcoded blocks, for assemble. */
typedef struct {
    Py_buffer bits, recs;
    int open;
} tstore_t;

#define ASM_MAX_SOURCES 2048 /* source tiles an output tile spans: 33 x 33 of 8-pixel ones */

static PyObject *assemble_scan(PyObject *stores, PyObject *grid, PyObject *origin,
                               PyObject *source_mcus, PyObject *sampling, PyObject *mcus_obj,
                               PyObject *keep, PyObject *tables, int which, const Py_buffer *head);

/* assemble(stores, grid, origin, source_mcus, sampling, mcus, keep, tables[, which[, head]]) */
static PyObject *py_assemble(PyObject *self, PyObject *args)
{
    PyObject *stores, *grid, *origin, *source_mcus, *sampling, *mcus_obj, *keep, *tables;
    int which = 0;
    Py_buffer head = {0}; /* given: the tile is head, the scan, EOI */
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOOO|iy*:assemble", &stores, &grid, &origin, &source_mcus,
                          &sampling, &mcus_obj, &keep, &tables, &which, &head))
        return NULL;
    PyObject *result = assemble_scan(stores, grid, origin, source_mcus, sampling, mcus_obj, keep,
                                     tables, which, &head);
    if (head.obj)
        PyBuffer_Release(&head);
    return result;
}

/* The bits [from, to) of an unstuffed bit string, coded (ENC_PUT: stuffed), 32 at a time. */
#define COPY_BITS(base, from, to)                                                              \
    do {                                                                                       \
        uint64_t pos_ = (from), stop_ = (to);                                                  \
        while (pos_ < stop_) {                                                                 \
            int take_ = stop_ - pos_ < 32 ? (int)(stop_ - pos_) : 32;                          \
            uint64_t word_ = load_be64((base) + (pos_ >> 3)) << (pos_ & 7);                    \
            ENC_PUT(word_ >> (64 - take_), take_);                                             \
            pos_ += (uint64_t)take_;                                                           \
        }                                                                                      \
    } while (0)

/* The pending span of whole blocks, if any, copied (checked against its store's bits), room
 * made for it and the rest of the MCU first (the writer's buffer may move: out follows). */
#define SPAN_FLUSH()                                                                           \
    do {                                                                                       \
        if (span_src) {                                                                        \
            const tstore_t *from_ = span_src;                                                  \
            span_src = NULL;                                                                   \
            if (span_from > span_to || span_to / 8 + 8 > (uint64_t)from_->bits.len) {          \
                fail(&err, "assemble: a store's record out of range");                         \
                break;                                                                         \
            }                                                                                  \
            w.len = (size_t)(out - w.buf);                                                     \
            if (bw_reserve(&w, 2 * ((span_to - span_from) / 8 + 8) +                           \
                                   (size_t)nslots * BLOCK_BYTES_MAX) < 0) {                    \
                fail(&err, "out of memory");                                                   \
                break;                                                                         \
            }                                                                                  \
            out = w.buf + w.len;                                                               \
            COPY_BITS((const uint8_t *)from_->bits.buf, span_from, span_to);                   \
        }                                                                                      \
    } while (0)

/* One assemble call's work in three parts, as a transcode's (tjob_t): ajob_open parses its
 * arguments and holds the stores' buffers (with the GIL), ajob_run codes the tile (without
 * it), ajob_finish makes its bytes and releases everything (ajob_close). */
typedef struct {
    long gx_n, gy_n, ox, oy, tmx, tmy, mcux, mcuy, kx, ky;
    int slot_k[MAX_BLOCKS_IN_MCU], back[MAX_BLOCKS_IN_MCU], nslots;
    const ehuff_t (*t)[2];
    ehuff_t (*parsed)[2]; /* tables given as a tuple */
    PyObject *tables;     /* a reference: the prepared tables live as long */
    tstore_t *src;
    int head;             /* the tile is head, the scan, EOI */
    bwriter_t w;
    errmsg_t err;
} ajob_t;

static void ajob_close(ajob_t *a)
{
    if (a->src)
        for (Py_ssize_t i = 0; i < a->gx_n * a->gy_n; i++)
            if (a->src[i].open) {
                PyBuffer_Release(&a->src[i].bits);
                PyBuffer_Release(&a->src[i].recs);
            }
    free(a->src);
    free(a->parsed);
    free(a->w.buf);
    Py_CLEAR(a->tables);
    memset(a, 0, sizeof *a);
}

/* assemble's arguments (head: a buffer, or one whose buf is NULL); 0, or -1 with an exception
 * set and nothing held. */
static int ajob_open(ajob_t *a, PyObject *stores, PyObject *grid, PyObject *origin,
                     PyObject *source_mcus, PyObject *sampling, PyObject *mcus_obj,
                     PyObject *keep, PyObject *tables, int which, const Py_buffer *head)
{
    memset(a, 0, sizeof *a);
    if (int_pair(grid, "grid", &a->gx_n, &a->gy_n) < 0 ||
        int_pair(origin, "origin", &a->ox, &a->oy) < 0 ||
        int_pair(source_mcus, "source_mcus", &a->tmx, &a->tmy) < 0 ||
        int_pair(mcus_obj, "mcus", &a->mcux, &a->mcuy) < 0 ||
        int_pair(keep, "keep", &a->kx, &a->ky) < 0)
        goto fail;
    if (!PyTuple_Check(stores) || a->gx_n < 1 || a->gy_n < 1 ||
        a->gx_n * a->gy_n > ASM_MAX_SOURCES || PyTuple_GET_SIZE(stores) != a->gx_n * a->gy_n ||
        a->tmx < 1 || a->tmy < 1 || a->ox < 0 || a->oy < 0 || a->mcux < 1 || a->mcuy < 1 ||
        a->ox + a->mcux > a->gx_n * a->tmx || a->oy + a->mcuy > a->gy_n * a->tmy) {
        PyErr_SetString(PyExc_ValueError, "assemble: bad grid, origin or stores");
        goto fail;
    }
    if (!PyTuple_Check(sampling)) {
        PyErr_SetString(PyExc_ValueError, "sampling: a tuple of (h, v) pairs is expected");
        goto fail;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(sampling);
    if (n < 1 || n > MAX_COMPONENTS) {
        PyErr_SetString(PyExc_ValueError, "sampling: 1 to 4 components");
        goto fail;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        long h, v;
        if (int_pair(PyTuple_GET_ITEM(sampling, k), "sampling", &h, &v) < 0)
            goto fail;
        if (h < 1 || h > 4 || v < 1 || v > 4 || a->nslots + h * v > MAX_BLOCKS_IN_MCU) {
            PyErr_SetString(PyExc_ValueError, "sampling: bad factors");
            goto fail;
        }
        for (long i = 0; i < h * v; i++) {
            /* records back to the slot's component's previous block (the first: the previous
             * MCU's last one) */
            a->back[a->nslots] = i ? 1 : -(int)(h * v);
            a->slot_k[a->nslots++] = (int)k;
        }
    }
    for (int b = 0; b < a->nslots; b++)
        if (a->back[b] < 0)
            a->back[b] = a->nslots + a->back[b] + 1;
    if (!(a->src = calloc((size_t)(a->gx_n * a->gy_n), sizeof *a->src))) {
        PyErr_NoMemory();
        goto fail;
    }
    if (PyCapsule_CheckExact(tables)) {
        prepared_t *own, *p = prepared_get(tables, n, &own);
        if (!p)
            goto fail;
        if (which < 0 || which >= p->nsets) {
            PyErr_Format(PyExc_ValueError, "which: set %d of %d", which, p->nsets);
            goto fail;
        }
        a->t = (const ehuff_t(*)[2])p->t[which];
        a->tables = Py_NewRef(tables);
    } else {
        if (!(a->parsed = malloc(sizeof(ehuff_t[MAX_COMPONENTS][2])))) {
            PyErr_NoMemory();
            goto fail;
        }
        if (tables_read(tables, n, a->parsed) < 0)
            goto fail;
        a->t = (const ehuff_t(*)[2])a->parsed;
    }
    size_t per_tile = (size_t)(a->tmx * a->tmy) * (size_t)a->nslots;
    for (Py_ssize_t i = 0; i < a->gx_n * a->gy_n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(stores, i);
        tstore_t *s = &a->src[i];
        if (pair == Py_None)
            continue;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            PyObject_GetBuffer(PyTuple_GET_ITEM(pair, 0), &s->bits, PyBUF_SIMPLE) < 0)
            goto bad_store;
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(pair, 1), &s->recs, PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&s->bits);
            goto bad_store;
        }
        s->open = 1;
        const tblock_t *r = s->recs.buf;
        if ((size_t)s->recs.len != per_tile * sizeof *r ||
            (per_tile && (size_t)r[per_tile - 1].end / 8 + 8 > (size_t)s->bits.len)) {
            PyErr_SetString(PyExc_ValueError, "assemble: a store does not match its tile");
            goto fail;
        }
    }
    if (head->buf) {
        if (bw_reserve(&a->w, (size_t)head->len + 16) < 0) {
            PyErr_NoMemory();
            goto fail;
        }
        memcpy(a->w.buf, head->buf, (size_t)head->len);
        a->w.len = (size_t)head->len;
        a->head = 1;
    }
    return 0;
bad_store:
    PyErr_Clear();
    PyErr_SetString(PyExc_ValueError, "assemble: stores are (bits, records) pairs or None");
fail:
    ajob_close(a);
    return -1;
}

/* The tile coded (without the GIL). */
static void ajob_run(ajob_t *a)
{
    const long gx_n = a->gx_n, ox = a->ox, oy = a->oy, tmx = a->tmx, tmy = a->tmy;
    const long mcux = a->mcux, mcuy = a->mcuy, kx = a->kx, ky = a->ky;
    const int nslots = a->nslots, *slot_k = a->slot_k, *back = a->back;
    const ehuff_t(*t)[2] = a->t;
    const tstore_t *src = a->src;
    bwriter_t w = a->w;
    errmsg_t err = {{0}, 0};
    int pred[MAX_COMPONENTS] = {0};
    /* a span of whole blocks (TB_WHOLE) read one after the other from one store, copied at
     * once when it ends: its bits [span_from, span_to) of span_src, its next record span_next */
    const tstore_t *span_src = NULL;
    uint64_t span_from = 0, span_to = 0;
    size_t span_next = 0;
    for (long my = 0; my < mcuy && !err.failed; my++) {
        long gy = oy + my, ty = gy / tmy, sy = gy % tmy;
        for (long mx = 0; mx < mcux; mx++) {
            long gx = ox + mx, tx = gx / tmx, sx = gx % tmx;
            const tstore_t *s = &src[ty * gx_n + tx];
            int zero = !s->open || mx >= kx || my >= ky;
            const tblock_t *recs = zero ? NULL : (const tblock_t *)s->recs.buf;
            const uint8_t *bitsbuf = zero ? NULL : (const uint8_t *)s->bits.buf;
            size_t first = (size_t)(sy * tmx + sx) * (size_t)nslots;
            if (bw_reserve(&w, (size_t)nslots * BLOCK_BYTES_MAX) < 0) {
                fail(&err, "out of memory");
                break;
            }
            uint8_t *out = w.buf + w.len;
            uint64_t acc = w.acc;
            int bits = w.bits;
            for (int b = 0; b < nslots; b++) {
                int k = slot_k[b];
                const ehuff_t *dc = &t[k][0], *ac = &t[k][1];
                int value = zero ? 0 : recs[first + b].dc;
                size_t i = first + b;
                if (!zero && (recs[i].len & TB_WHOLE) && (size_t)back[b] <= i &&
                    recs[i - (size_t)back[b]].dc == pred[k]) { /* its own DC code: whole */
                    pred[k] = value;
                    if (span_src == s && span_next == i) { /* the span goes on */
                        span_to = recs[i].end;
                        span_next = i + 1;
                        continue;
                    }
                    SPAN_FLUSH();
                    span_src = s;
                    span_from = recs[i - 1].end;
                    span_to = recs[i].end;
                    span_next = i + 1;
                    continue;
                }
                SPAN_FLUSH();
                int diff = value - pred[k], c = category_dc(diff);
                pred[k] = value;
                if (c > 11 || !dc->size[c]) {
                    fail(&err, "DC difference %d has no code", diff);
                    break;
                }
                ENC_PUT(dc->code[c] << c | extra_bits(diff, c), dc->size[c] + c);
                if (zero) {
                    ENC_PUT(ac->code[0x00], ac->size[0x00]);
                    continue;
                }
                uint64_t stop = recs[i].end, pos = stop - TB_LEN(recs[i]);
                if (TB_LEN(recs[i]) > stop || stop / 8 + 8 > (uint64_t)s->bits.len) { /* not ours */
                    fail(&err, "assemble: a store's record out of range");
                    break;
                }
                COPY_BITS(bitsbuf, pos, stop);
            }
            if (my == mcuy - 1 && mx == mcux - 1) /* the tile's last MCU: its last span */
                SPAN_FLUSH();
            w.len = (size_t)(out - w.buf);
            w.acc = acc;
            w.bits = bits;
            if (err.failed)
                break;
        }
    }
    if (!err.failed && bw_finish(&w, &err) == 0 && a->head) {
        if (bw_reserve(&w, 2) < 0) {
            fail(&err, "out of memory");
        } else {
            w.buf[w.len++] = 0xFF;
            w.buf[w.len++] = 0xD9;
        }
    }
    a->w = w;
    a->err = err;
}

/* The tile's bytes, or NULL with an exception set; the job closed either way. */
static PyObject *ajob_finish(ajob_t *a)
{
    PyObject *result = NULL;
    if (a->err.failed)
        PyErr_SetString(PyExc_ValueError, a->err.msg);
    else
        result = PyBytes_FromStringAndSize((const char *)a->w.buf, (Py_ssize_t)a->w.len);
    ajob_close(a);
    return result;
}

static PyObject *assemble_scan(PyObject *stores, PyObject *grid, PyObject *origin,
                               PyObject *source_mcus, PyObject *sampling, PyObject *mcus_obj,
                               PyObject *keep, PyObject *tables, int which, const Py_buffer *head)
{
    ajob_t a;
    if (ajob_open(&a, stores, grid, origin, source_mcus, sampling, mcus_obj, keep, tables, which,
                  head) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    ajob_run(&a);
    Py_END_ALLOW_THREADS
    return ajob_finish(&a);
}

/* ---------------------------------------------------------------------------------------------
 * Steps: a crew step's transcodes and assemblies opened one by one by the caller (with the GIL:
 * tjob_open, ajob_open), run by each thread of the crew in one call (step_run: without the GIL,
 * the jobs taken from a shared counter), finished by the caller (step_finish). The GIL is
 * released and taken back once a step and thread, not once a tile.
 */
#define STEP "cytotile._jpegdct.step"

enum { JOB_DONE, JOB_TRANSCODE, JOB_ASSEMBLE };

typedef struct {
    int kind, ran;
    union {
        tjob_t t;
        ajob_t a;
    } u;
} job_t;

typedef struct step_s {
    job_t **jobs; /* each its own allocation: opening more never moves one */
    Py_ssize_t n, cap;
    Py_ssize_t next; /* the next job to run (atomic) */
    int running;     /* threads in step_run (atomic) */
    int started;     /* a thread ran it: no more jobs */
    Py_ssize_t nplanes;
    plane_t shape[MAX_COMPONENTS]; /* the transcodes' planes: their sizes (base NULL) */
    /* the pool's (under its lock): workers that may still join it, workers at it, and its
     * place in the pool's queue of started steps */
    int want, active, queued;
    struct step_s *qnext;
} step_t;

static void pool_leave(step_t *st);

static void job_close(job_t *job)
{
    if (job->kind == JOB_TRANSCODE)
        tjob_close(&job->u.t);
    else if (job->kind == JOB_ASSEMBLE)
        ajob_close(&job->u.a);
    job->kind = JOB_DONE;
}

static void step_free(PyObject *capsule)
{
    step_t *st = PyCapsule_GetPointer(capsule, STEP);
    if (!st)
        return;
    if (st->started) { /* perhaps never joined: no worker may be left at it */
        Py_BEGIN_ALLOW_THREADS
        pool_leave(st);
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t i = 0; i < st->n; i++) {
        job_close(st->jobs[i]);
        free(st->jobs[i]);
    }
    free(st->jobs);
    free(st);
}

static step_t *step_get(PyObject *obj)
{
    step_t *st = PyCapsule_CheckExact(obj) ? PyCapsule_GetPointer(obj, STEP) : NULL;
    if (!st && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "step: step_new's capsule expected");
    return st;
}

/* A new job slot of st (NULL with an exception set): a step still open, not yet run. */
static job_t *step_slot(step_t *st)
{
    if (st->started || __atomic_load_n(&st->running, __ATOMIC_ACQUIRE)) {
        PyErr_SetString(PyExc_RuntimeError, "step: already run");
        return NULL;
    }
    if (st->n == st->cap) {
        Py_ssize_t cap = st->cap ? 2 * st->cap : 16;
        job_t **jobs = realloc(st->jobs, (size_t)cap * sizeof *jobs);
        if (!jobs) {
            PyErr_NoMemory();
            return NULL;
        }
        st->jobs = jobs;
        st->cap = cap;
    }
    job_t *job = calloc(1, sizeof *job);
    if (!job)
        PyErr_NoMemory();
    return job;
}

static PyObject *step_added(step_t *st, job_t *job, int kind)
{
    job->kind = kind;
    st->jobs[st->n] = job;
    return PyLong_FromSsize_t(st->n++);
}

/* The step's jobs no other thread has taken, decoding into planes (without the GIL). */
static void step_jobs(step_t *st, const plane_t *planes)
{
    for (;;) {
        Py_ssize_t i = __atomic_fetch_add(&st->next, 1, __ATOMIC_ACQ_REL);
        if (i >= st->n)
            break;
        job_t *job = st->jobs[i];
        if (job->kind == JOB_TRANSCODE)
            tjob_run(&job->u.t, planes);
        else if (job->kind == JOB_ASSEMBLE)
            ajob_run(&job->u.a);
        __atomic_store_n(&job->ran, 1, __ATOMIC_RELEASE);
    }
}

/* The codec's own worker threads (pthreads: no Python, never the GIL) that run started steps
 * (step_start) beside the caller, who joins them (step_join). A Python helper thread has to
 * take the GIL to begin a step and again to return, from a caller and lower tiers that hold
 * it between their C calls: it waited there for up to a millisecond a step. The workers are
 * made as needed and live as long as the process (idle, they wait on a condition); a forked
 * child starts with none. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a step started */
    pthread_cond_t done; /* a worker left a step */
    step_t *head, *tail; /* the started steps workers may still join */
    int threads;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL,
          NULL, 0};

/* Takes st out of the pool's queue (the lock held). */
static void pool_unqueue(step_t *st)
{
    step_t **at = &pool.head, *prev = NULL;
    while (*at && *at != st) {
        prev = *at;
        at = &(*at)->qnext;
    }
    if (*at) {
        *at = st->qnext;
        if (pool.tail == st)
            pool.tail = prev;
    }
    st->qnext = NULL;
    st->queued = 0;
}

/* A worker's planes of the step's sizes (malloc'd, kept between steps of the same sizes). */
typedef struct {
    int16_t *mem;
    size_t size;
    plane_t planes[MAX_COMPONENTS];
} wplanes_t;

static int wplanes_fit(wplanes_t *w, const step_t *st)
{
    size_t need = 0;
    for (Py_ssize_t k = 0; k < st->nplanes; k++)
        need += (size_t)(st->shape[k].rows * st->shape[k].cols) * 64;
    if (need > w->size) {
        free(w->mem);
        w->size = 0;
        if (!(w->mem = malloc(need * sizeof *w->mem)))
            return -1;
        w->size = need;
    }
    int16_t *at = w->mem;
    for (Py_ssize_t k = 0; k < st->nplanes; k++) {
        plane_t *p = &w->planes[k];
        p->base = (char *)at;
        p->rows = st->shape[k].rows;
        p->cols = st->shape[k].cols;
        p->s1 = 64 * sizeof *at;
        p->s0 = p->cols * p->s1;
        at += p->rows * p->cols * 64;
    }
    return 0;
}

static void *pool_worker(void *arg)
{
    wplanes_t w = {NULL, 0, {{0}}};
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        step_t *st = pool.head;
        while (st && (st->want <= 0 || __atomic_load_n(&st->next, __ATOMIC_ACQUIRE) >= st->n)) {
            step_t *next = st->qnext;
            pool_unqueue(st); /* nothing left to join it for */
            st = next;
        }
        if (!st) {
            pthread_cond_wait(&pool.work, &pool.mu);
            continue;
        }
        st->want--;
        st->active++;
        pthread_mutex_unlock(&pool.mu);
        if (wplanes_fit(&w, st) == 0)
            step_jobs(st, w.planes);
        /* else (out of memory): the caller's join runs the jobs */
        pthread_mutex_lock(&pool.mu);
        st->active--;
        pthread_cond_broadcast(&pool.done);
    }
    return NULL;
}

/* A forked child has the parent's pool state but none of its threads. */
static void pool_forked(void)
{
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.work, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.head = pool.tail = NULL;
    pool.threads = 0;
}

/* Waits until no worker is at st and none will join it (the GIL released by the caller). */
static void pool_leave(step_t *st)
{
    pthread_mutex_lock(&pool.mu);
    if (st->queued)
        pool_unqueue(st);
    st->want = 0;
    while (st->active)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

static PyObject *py_step_new(PyObject *self, PyObject *args)
{
    PyObject *seq;
    Py_buffer views[MAX_COMPONENTS];
    (void)self;
    if (!PyArg_ParseTuple(args, "O:step_new", &seq))
        return NULL;
    step_t *st = calloc(1, sizeof *st);
    if (!st)
        return PyErr_NoMemory();
    if (planes_open(seq, 0, views, st->shape, &st->nplanes) < 0) {
        free(st);
        return NULL;
    }
    planes_close(views, st->nplanes);
    for (Py_ssize_t k = 0; k < st->nplanes; k++)
        st->shape[k].base = NULL;
    PyObject *capsule = PyCapsule_New(st, STEP, step_free);
    if (!capsule)
        free(st);
    return capsule;
}

static PyObject *py_step_transcode(PyObject *self, PyObject *args)
{
    PyObject *step, *stream, *sets, *choice_obj = Py_None, *half_obj = Py_None;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO|OO:step_transcode", &step, &stream, &sets, &choice_obj,
                          &half_obj))
        return NULL;
    step_t *st = step_get(step);
    job_t *job = st ? step_slot(st) : NULL;
    if (!job)
        return NULL;
    if (tjob_open(&job->u.t, stream, st->shape, st->nplanes, sets, choice_obj, half_obj) < 0) {
        free(job);
        return NULL;
    }
    /* its MCUs fill the planes (each thread's, reused tile after tile: no block left over from
     * the one before, which the planes are not cleared of) */
    const jpeg_t *j = job->u.t.j;
    for (int k = 0; k < j->ncomp; k++)
        if (j->mcux * j->comp[k].h != st->shape[k].cols ||
            j->mcuy * j->comp[k].v != st->shape[k].rows) {
            tjob_close(&job->u.t);
            free(job);
            PyErr_SetString(PyExc_ValueError, "the tile's frame is not the planes' size");
            return NULL;
        }
    return step_added(st, job, JOB_TRANSCODE);
}

static PyObject *py_step_assemble(PyObject *self, PyObject *args)
{
    PyObject *step, *stores, *grid, *origin, *source_mcus, *sampling, *mcus_obj, *keep, *tables;
    int which = 0;
    Py_buffer head = {0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO|iy*:step_assemble", &step, &stores, &grid, &origin,
                          &source_mcus, &sampling, &mcus_obj, &keep, &tables, &which, &head))
        return NULL;
    step_t *st = step_get(step);
    job_t *job = st ? step_slot(st) : NULL;
    int failed = !job || ajob_open(&job->u.a, stores, grid, origin, source_mcus, sampling,
                                   mcus_obj, keep, tables, which, &head) < 0;
    if (head.obj)
        PyBuffer_Release(&head);
    if (failed) {
        free(job);
        return NULL;
    }
    return step_added(st, job, JOB_ASSEMBLE);
}

/* step_run and step_join: the step's jobs left run in this thread; join: then the pool's
 * workers at it waited for. */
static PyObject *step_run_here(PyObject *args, int join)
{
    PyObject *step, *seq;
    Py_buffer views[MAX_COMPONENTS];
    plane_t planes[MAX_COMPONENTS];
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, join ? "OO:step_join" : "OO:step_run", &step, &seq))
        return NULL;
    step_t *st = step_get(step);
    if (!st || planes_open(seq, 1, views, planes, &n) < 0)
        return NULL;
    int same = n == st->nplanes;
    for (Py_ssize_t k = 0; same && k < n; k++)
        same = planes[k].rows == st->shape[k].rows && planes[k].cols == st->shape[k].cols;
    if (!same) {
        planes_close(views, n);
        PyErr_SetString(PyExc_ValueError, "step_run: planes of other sizes than step_new's");
        return NULL;
    }
    st->started = 1;
    __atomic_add_fetch(&st->running, 1, __ATOMIC_ACQ_REL);
    Py_BEGIN_ALLOW_THREADS
    step_jobs(st, planes);
    if (join)
        pool_leave(st);
    Py_END_ALLOW_THREADS
    __atomic_sub_fetch(&st->running, 1, __ATOMIC_ACQ_REL);
    planes_close(views, n);
    Py_RETURN_NONE;
}

static PyObject *py_step_run(PyObject *self, PyObject *args)
{
    (void)self;
    return step_run_here(args, 0);
}

static PyObject *py_step_join(PyObject *self, PyObject *args)
{
    (void)self;
    return step_run_here(args, 1);
}

static PyObject *py_step_start(PyObject *self, PyObject *args)
{
    PyObject *step;
    int workers;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oi:step_start", &step, &workers))
        return NULL;
    step_t *st = step_get(step);
    if (!st)
        return NULL;
    if (workers < 0 || workers > 64) {
        PyErr_SetString(PyExc_ValueError, "step_start: 0 to 64 workers");
        return NULL;
    }
    if (st->started || st->queued) {
        PyErr_SetString(PyExc_RuntimeError, "step_start: already started");
        return NULL;
    }
    st->started = 1;
    if (!workers || !st->n)
        Py_RETURN_NONE;
    pthread_mutex_lock(&pool.mu);
    while (pool.threads < workers) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, pool_worker, NULL);
        pthread_attr_destroy(&attr);
        if (failed)
            break; /* fewer workers: the caller's join runs the rest */
        pool.threads++;
    }
    st->want = workers;
    st->queued = 1;
    st->qnext = NULL;
    if (pool.tail)
        pool.tail->qnext = st;
    else
        pool.head = st;
    pool.tail = st;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);
    Py_RETURN_NONE;
}

static PyObject *py_step_finish(PyObject *self, PyObject *args)
{
    PyObject *step;
    (void)self;
    if (!PyArg_ParseTuple(args, "O:step_finish", &step))
        return NULL;
    step_t *st = step_get(step);
    if (!st)
        return NULL;
    pthread_mutex_lock(&pool.mu);
    int busy = st->active || st->queued;
    pthread_mutex_unlock(&pool.mu);
    if (busy || __atomic_load_n(&st->running, __ATOMIC_ACQUIRE)) {
        PyErr_SetString(PyExc_RuntimeError, "step_finish: a thread still runs the step");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < st->n; i++)
        if (st->jobs[i]->kind != JOB_DONE && !__atomic_load_n(&st->jobs[i]->ran, __ATOMIC_ACQUIRE)) {
            PyErr_Format(PyExc_RuntimeError, "step_finish: job %zd was not run", i);
            return NULL;
        }
    PyObject *results = PyList_New(st->n);
    if (!results)
        return NULL;
    for (Py_ssize_t i = 0; i < st->n; i++) {
        job_t *job = st->jobs[i];
        PyObject *r;
        if (job->kind == JOB_TRANSCODE)
            r = tjob_finish(&job->u.t);
        else if (job->kind == JOB_ASSEMBLE)
            r = ajob_finish(&job->u.a);
        else
            r = Py_NewRef(Py_None); /* finished before */
        job->kind = JOB_DONE;
        if (!r) { /* the job's own error, as its result */
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            if (tb)
                PyException_SetTraceback(value, tb);
            Py_XDECREF(type);
            Py_XDECREF(tb);
            if (!value) {
                Py_DECREF(results);
                return NULL;
            }
            r = value;
        }
        PyList_SET_ITEM(results, i, r);
    }
    return results;
}

#undef ENC_PUT
#undef TW_PUT
#undef PUT_BITS

static PyMethodDef methods[] = {
    {"count", py_count, METH_VARARGS, "count(stream, counts) -> None"},
    {"prepare", py_prepare, METH_VARARGS, "prepare(sets) -> tables (a capsule)"},
    {"transcode", py_transcode, METH_VARARGS, "transcode(stream, planes, tables) -> (quant, bits, records)"},
    {"assemble", py_assemble, METH_VARARGS, "assemble(stores, grid, origin, source_mcus, sampling, mcus, keep, tables) -> bytes"},
    {"step_new", py_step_new, METH_VARARGS,
     "step_new(planes) -> step\n\nA crew step (a capsule): transcodes and assemblies opened "
     "by step_transcode and step_assemble, run by step_run in every thread of the crew, their "
     "results given by step_finish. planes: the sizes every transcode's planes have."},
    {"step_transcode", py_step_transcode, METH_VARARGS,
     "step_transcode(step, stream, tables, choice=None, half=None) -> int\n\nA transcode "
     "call's work (transcode's arguments but the planes: step_run's), opened now; its index."},
    {"step_assemble", py_step_assemble, METH_VARARGS,
     "step_assemble(step, stores, grid, origin, source_mcus, sampling, mcus, keep, tables, "
     "which=0, head=None) -> int\n\nAn assemble call's work, opened now; its index."},
    {"step_run", py_step_run, METH_VARARGS,
     "step_run(step, planes) -> None\n\nRuns the step's jobs no other thread has taken, "
     "without the GIL, decoding into planes (this thread's: step_new's sizes)."},
    {"step_start", py_step_start, METH_VARARGS,
     "step_start(step, workers) -> None\n\nThe step begun by up to `workers` of the codec's "
     "own worker threads (no Python, never the GIL), made as needed; the caller joins it "
     "(step_join) before finishing it."},
    {"step_join", py_step_join, METH_VARARGS,
     "step_join(step, planes) -> None\n\nstep_run in this thread, then the workers at the "
     "step waited for (none joins it after)."},
    {"step_finish", py_step_finish, METH_VARARGS,
     "step_finish(step) -> list\n\nEach job's result (transcode's or assemble's), or the "
     "exception it raised, in the order they were opened; once every step_run has returned."},
    {"decode", py_decode, METH_VARARGS,
     "decode(stream, planes) -> bytes\n\nEntropy-decodes a baseline JPEG stream into the "
     "coefficient planes (one per component); returns its quantization tables (4 x 64 "
     "little-endian uint16, natural order)."},
    {"encode", py_encode, METH_VARARGS,
     "encode(planes, sampling, mcus, tables) -> bytes\n\nEntropy-codes mcus = (mcus_x, mcus_y) "
     "interleaved MCUs of the planes: the scan's entropy-coded segment (0xFF stuffed, last "
     "byte padded with 1-bits)."},
    {"encode_edge", py_encode_edge, METH_VARARGS,
     "encode_edge(planes, sampling, mcus, exact_mcus, tables) -> (bytes, bytes)\n\nWhat "
     "encode(planes, sampling, mcus, tables) and encode(planes, sampling, exact_mcus, tables) "
     "return, in one pass: each block of the first exact_mcus MCUs coded once for both."},
    {"gather", py_gather, METH_VARARGS,
     "gather(planes, sampling, mcus, counts) -> None\n\nAdds to counts[k, 0|1, symbol] the DC "
     "and AC symbols encode would emit for component k."},
    {"half", py_half, METH_VARARGS,
     "half(planes, sampling, quant, ycc, out, counts=None, edge=None) -> None\n\nThe pixels of "
     "the planes at half scale (each block's 2x2 box means; a 2x2-subsampled component's blocks "
     "in full), dequantized by quant (64 little-endian uint16 a plane, natural order), YCbCr -> "
     "RGB when ycc, into out (rows, cols, planes) uint8; each sample counted in "
     "counts[value, band] (int64, (256, planes)) when given. edge: the image's (width, height) "
     "in the planes: an odd one pairs its last pixel column or row with itself."},
    {"halve", py_halve, METH_VARARGS,
     "halve(src, dst) -> None\n\nThe 2x2 means (rounded) of src (rows, cols, bands) uint8 "
     "into dst (ceil(rows / 2), ceil(cols / 2), bands); an odd last row or column is paired "
     "with itself."},
    {"histogram", py_histogram, METH_VARARGS,
     "histogram(pixels, counts, weight) -> None\n\nAdds weight to counts[value, band] "
     "(int64, (256, bands)) for every sample of pixels (rows, cols, bands) uint8."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jpegdct",
    "Baseline JPEG entropy coding of quantized DCT coefficients (no libjpeg).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__jpegdct(void)
{
    idct_init();
    zigzag_init();
    ycc_init();
    pthread_atfork(NULL, NULL, pool_forked);
    return PyModule_Create(&module);
}
