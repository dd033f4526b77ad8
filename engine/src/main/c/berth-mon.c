/*
 * berth-mon: the per-container monitor of Berth's container engine.
 *
 * One monitor runs per container process (the container's init, or one exec
 * session).  It runs `runc create` / `runc exec --detach`, becomes the
 * subreaper of the process, copies the process's output to Docker json-file
 * logs and to attach clients, feeds stdin from attach clients, and finally
 * records the exit code in DIR/exit.  It outlives the engine (live restore).
 *
 * The protocol (command line, SYNC lines, files in DIR, attach frames) is
 * documented in README.md next to this file.  libc only; Linux only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES (16 * 1024)       /* Docker's copier buffer: longer lines are split */
#define READ_CHUNK (256 * 1024)          /* one read(2) of container output */
#define PIPE_SIZE (256 * 1024)           /* F_SETPIPE_SZ for the output pipes (best effort) */
#define CLIENT_HIGH (1024 * 1024)        /* per-client backlog that pauses output reading */
#define CLIENT_FULL_MS 30000             /* a client full for longer than this is dropped */
#define CLIENT_IN 16384                  /* per-client input buffer */
#define STDIN_MAX (64 * 1024)            /* buffered stdin for the process */
#define MAX_CLIENTS 128
#define DRAIN_IDLE_MS 200                /* after exit: stop reading after this much silence */
#define CLIENT_DRAIN_MS 1000             /* after exit: time given to clients to take their data */
#define LOGBUF (1024 * 1024)             /* batched json-file output */
#define MAX_ENTRY (LINE_MAX_BYTES * 6 + 256) /* worst case encoded size of one entry */

/* frame types of the attach protocol (Docker stdcopy header) */
enum { F_STDIN = 0, F_STDOUT = 1, F_STDERR = 2, F_RESIZE = 5, F_MUTE = 6, F_START = 7 };
static int start_requested;   /* an F_START frame arrived (--wait-start) */

/* ------------------------------------------------------------------ options */
static struct {
    const char *id, *runc, *runc_root, *bundle, *dir, *exec_json, *log_path, *oom_file;
    int tty, stdin_on, wait_attach, json_log, run, wait_start;
    long long max_size;
    int max_file;
} o = {.max_file = 1};

static char p_attach[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char p_console[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char p_pid[PATH_MAX], p_monpid[PATH_MAX], p_exit[PATH_MAX], p_oom[PATH_MAX];
static char p_runclog[PATH_MAX], p_monlog[PATH_MAX];

/* ------------------------------------------------------------------ small helpers */
static int sync_fd = 1;      /* fd 1 at launch; -1 once the SYNC exchange is over */
static int launcher_fd = -1; /* write end of the pipe the launcher waits on; closed with SYNC */
static int monlog_lines;     /* monitor.log is kept tiny: a few lines per run */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One diagnostic line: to DIR/monitor.log, and to stderr while the engine still listens. */
static void mlog(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (sync_fd >= 0) write_all(2, line, (size_t)n);
    if (!p_monlog[0] || ++monlog_lines > 20) return;
    int fd = open(p_monlog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size < 64 * 1024) write_all(fd, line, (size_t)n);
    close(fd);
}

/* Write a small file atomically: PATH.tmp, then rename. */
static int write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int r = write_all(fd, text, strlen(text));
    if (close(fd) < 0) r = -1;
    if (r == 0) r = rename(tmp, path);
    if (r < 0) unlink(tmp);
    return r;
}

/* Read a whole small file (up to cap-1 bytes, from offset off) into buf; returns length or -1. */
static ssize_t read_file(const char *path, off_t off, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    ssize_t k;
    if (off > 0) lseek(fd, off, SEEK_SET);
    while (n + 1 < cap && ((k = read(fd, buf + n, cap - 1 - n)) > 0 || (k < 0 && errno == EINTR)))
        if (k > 0) n += (size_t)k;
    close(fd);
    buf[n] = 0;
    return (ssize_t)n;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* growable byte buffer with a consumed prefix */
struct buf { char *p; size_t off, len, cap; };

static int buf_add(struct buf *b, const void *d, size_t n)
{
    if (b->off && b->off + b->len + n > b->cap) {     /* compact first */
        memmove(b->p, b->p + b->off, b->len);
        b->off = 0;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < b->len + n) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->off + b->len, d, n);
    b->len += n;
    return 0;
}

static void buf_eat(struct buf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0) b->off = 0;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ json-file logging */
static int log_fd = -1;
static long long log_size;
static char *lbuf;           /* batch of encoded entries, one write(2) per batch */
static size_t llen;
static int log_err_noted;

static void log_error(const char *what)
{
    if (!log_err_noted) mlog("log %s %s: %s (further log errors not reported)", what, o.log_path, strerror(errno));
    log_err_noted = 1;
}

static void log_open(void)
{
    log_fd = open(o.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    struct stat st;
    log_size = (log_fd >= 0 && fstat(log_fd, &st) == 0) ? st.st_size : 0;
}

static void log_write(const char *p, size_t n)
{
    if (n == 0) return;
    if (log_fd < 0) log_open();      /* a failed reopen after rotation: try again */
    if (log_fd < 0 || write_all(log_fd, p, n) < 0) {
        if (log_fd < 0) errno = EBADF;
        log_error("write");
        return;                  /* the entries are lost, the container goes on */
    }
    log_size += (long long)n;
}

/* max-file 1: truncate; otherwise path.(N-2)..path.1 shift up by one, path -> path.1. */
static void log_rotate(void)
{
    if (o.max_file <= 1) {
        if (log_fd >= 0 && ftruncate(log_fd, 0) == 0) log_size = 0;
        else log_error("truncate");
        return;
    }
    char a[PATH_MAX + 16], b[PATH_MAX + 16];
    snprintf(a, sizeof a, "%s.%d", o.log_path, o.max_file - 1);
    unlink(a);
    for (int k = o.max_file - 2; k >= 1; k--) {
        snprintf(a, sizeof a, "%s.%d", o.log_path, k);
        snprintf(b, sizeof b, "%s.%d", o.log_path, k + 1);
        if (rename(a, b) < 0 && errno != ENOENT) log_error("rotate");
    }
    snprintf(b, sizeof b, "%s.1", o.log_path);
    if (rename(o.log_path, b) < 0) log_error("rotate");
    if (log_fd >= 0) close(log_fd);
    log_open();
    if (log_fd < 0) log_error("reopen");
}

/* Escapes one message like Docker's json-file marshaller (jsonlog.ffjsonWriteJSONBytesAsString):
 * \" \\ \n \r; other bytes < 0x20 and < > & as \u00XX; U+2028/2029 as \u202X;
 * every byte that does not start a valid UTF-8 sequence (Go's rules) as \ufffd. */
static unsigned char ascii_esc[128];

static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (n < need + 1 || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i <= need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return need + 1;
}

static size_t json_escape(char *out, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *w = out;
    size_t start = 0, i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (!ascii_esc[c]) { i++; continue; }
            memcpy(w, s + start, i - start), w += i - start;
            *w++ = '\\';
            if (c == '"' || c == '\\') *w++ = (char)c;
            else if (c == '\n') *w++ = 'n';
            else if (c == '\r') *w++ = 'r';
            else { memcpy(w, "u00", 3), w += 3; *w++ = hex[c >> 4]; *w++ = hex[c & 15]; }
            start = ++i;
            continue;
        }
        size_t k = utf8_len(s + i, n - i);
        if (k == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            memcpy(w, s + start, i - start), w += i - start;
            memcpy(w, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6), w += 6;
            start = i += 3;
        } else if (k == 0) {
            memcpy(w, s + start, i - start), w += i - start;
            memcpy(w, "\\ufffd", 6), w += 6;
            start = ++i;
        } else {
            i += k;
        }
    }
    memcpy(w, s + start, n - start), w += n - start;
    return (size_t)(w - out);
}

/* Go's time.RFC3339Nano in UTC: fraction with trailing zeros removed (none if zero). */
static size_t fmt_time(char *out, const struct timespec *ts)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    int n = snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (ts->tv_nsec) {
        char frac[16];
        snprintf(frac, sizeof frac, ".%09ld", ts->tv_nsec);
        size_t fl = strlen(frac);
        while (frac[fl - 1] == '0') fl--;
        memcpy(out + n, frac, fl);
        n += (int)fl;
    }
    out[n++] = 'Z';
    return (size_t)n;
}

/* One output stream (stdout, stderr, or the pty) with its unfinished line. */
struct stream {
    int fd;
    int type;                        /* F_STDOUT / F_STDERR */
    const char *name;                /* "stdout" / "stderr" */
    char part[LINE_MAX_BYTES];       /* bytes of a line not yet terminated */
    size_t plen;
    int in_partial;                  /* a >16K line is being emitted in pieces */
    struct timespec pts;             /* Docker keeps the first piece's time for all pieces */
    char tail[96];                   /* `","stream":"..","time":".."}\n` for tail_sec/nsec */
    size_t tail_len;
    time_t tail_sec;
    long tail_nsec;
};
static struct stream st[2] = {{.fd = -1, .type = F_STDOUT, .name = "stdout"},
                              {.fd = -1, .type = F_STDERR, .name = "stderr"}};

static void log_flush(void)
{
    log_write(lbuf, llen);
    llen = 0;
}

/* Appends one json-file entry to the batch (rotating first if it would not fit). */
static void log_entry(struct stream *s, const char *p, size_t n, int complete, const struct timespec *now)
{
    const struct timespec *ts = now;
    if (!complete) {                             /* a piece of a long line, or the tail at EOF */
        if (!s->in_partial) s->pts = *now;
        s->in_partial = 1;
        ts = &s->pts;
    } else if (s->in_partial) {                  /* last piece of a long line */
        ts = &s->pts;
        s->in_partial = 0;
    }
    if (s->tail_sec != ts->tv_sec || s->tail_nsec != ts->tv_nsec || !s->tail_len) {
        /* the end of an entry is the same for all lines of one read: format it once */
        int k = sprintf(s->tail, "\",\"stream\":\"%s\",\"time\":\"", s->name);
        k += (int)fmt_time(s->tail + k, ts);
        memcpy(s->tail + k, "\"}\n", 3);
        s->tail_len = (size_t)k + 3;
        s->tail_sec = ts->tv_sec, s->tail_nsec = ts->tv_nsec;
    }
    if (llen + MAX_ENTRY > LOGBUF) log_flush();
    size_t start = llen;
    char *w = lbuf + llen;
    memcpy(w, "{\"log\":\"", 8), w += 8;
    w += json_escape(w, (const unsigned char *)p, n);
    if (complete) memcpy(w, "\\n", 2), w += 2;
    memcpy(w, s->tail, s->tail_len), w += s->tail_len;
    size_t m = (size_t)(w - (lbuf + start));
    if (o.max_size > 0 && log_size + (long long)start > 0 && log_size + (long long)(start + m) > o.max_size) {
        log_write(lbuf, start);
        log_rotate();
        memmove(lbuf, lbuf + start, m);
        start = 0;
    }
    llen = start + m;
}

/* Splits a chunk of output into entries the way Docker's log copier does. */
static void log_chunk(struct stream *s, const char *p, size_t n, const struct timespec *now)
{
    while (n > 0) {
        size_t room = LINE_MAX_BYTES - s->plen, take = n < room ? n : room;
        const char *nl = memchr(p, '\n', take);
        if (nl) {
            size_t k = (size_t)(nl - p);
            if (s->plen == 0) {
                log_entry(s, p, k, 1, now);
            } else {
                memcpy(s->part + s->plen, p, k);
                log_entry(s, s->part, s->plen + k, 1, now);
                s->plen = 0;
            }
            p += k + 1, n -= k + 1;
        } else if (take == room) {               /* 16 KiB without a newline: emit a piece */
            if (s->plen == 0) {
                log_entry(s, p, take, 0, now);
            } else {
                memcpy(s->part + s->plen, p, take);
                log_entry(s, s->part, LINE_MAX_BYTES, 0, now);
                s->plen = 0;
            }
            p += take, n -= take;
        } else {
            memcpy(s->part + s->plen, p, take);
            s->plen += take;
            p += take, n -= take;
        }
    }
}

/* End of stream: what is still buffered becomes a final entry without '\n'. */
static void log_eof(struct stream *s)
{
    if (s->plen) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        log_entry(s, s->part, s->plen, 0, &now);
        s->plen = 0;
    }
}

/* ------------------------------------------------------------------ attach clients */
struct client {
    int fd;
    int muted, rd_eof, blocked;      /* blocked: waits for room in the stdin buffer */
    int dead;                        /* to be dropped by sweep() */
    struct buf out;                  /* frames not yet sent */
    long long full_since;            /* when out first went over CLIENT_HIGH, 0 if not */
    unsigned char in[CLIENT_IN];     /* received, not yet parsed */
    size_t inlen;
    unsigned char hdr[8];            /* frame being parsed */
    size_t hlen;
    uint32_t fleft;                  /* payload bytes still to come */
    unsigned char rs[4];             /* resize payload */
    size_t rslen;
};
static struct client *cl[MAX_CLIENTS];
static int ncl;
static int listen_fd = -1;

/* stdin of the process: the pipe's write end, or a dup of the pty master */
static int in_fd = -1, pty_fd = -1;
static struct buf inbuf;
static int in_eof, in_closed;
static struct winsize pending_ws;    /* a resize that came before the pty master */

static void client_drop(int i)
{
    close(cl[i]->fd);
    buf_free(&cl[i]->out);
    free(cl[i]);
    cl[i] = cl[--ncl];
}

/* Clients are only marked dead while a poll round is handled, and dropped here. */
static void sweep(void)
{
    for (int i = ncl - 1; i >= 0; i--)
        if (cl[i]->dead) client_drop(i);
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        struct client *c = ncl < MAX_CLIENTS ? calloc(1, sizeof *c) : NULL;
        if (!c) { close(fd); continue; }
        c->fd = fd;
        cl[ncl++] = c;
    }
}

/* Sends what it can without blocking; returns -1 if the client is gone. */
static int client_send(struct client *c)
{
    while (c->out.len) {
        ssize_t k = send(c->fd, c->out.p + c->out.off, c->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        buf_eat(&c->out, (size_t)k);
    }
    return 0;
}

/* Output to every listening client, as one frame. */
static void broadcast(int type, const char *p, size_t n)
{
    unsigned char h[8] = {(unsigned char)type, 0, 0, 0,
                          (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    for (int i = 0; i < ncl; i++) {
        struct client *c = cl[i];
        if (c->muted || c->dead) continue;
        if (buf_add(&c->out, h, 8) < 0 || buf_add(&c->out, p, n) < 0 || client_send(c) < 0) c->dead = 1;
    }
}

static void apply_winsize(void)
{
    if (pty_fd >= 0 && pending_ws.ws_row && ioctl(pty_fd, TIOCSWINSZ, &pending_ws) < 0)
        mlog("TIOCSWINSZ: %s", strerror(errno));
}

/* Parses the frames a client sent.  Returns -1 to drop the client. */
static int client_parse(struct client *c)
{
    size_t pos = 0;
    c->blocked = 0;
    while (pos < c->inlen) {
        if (c->hlen < 8) {                                   /* frame header */
            size_t k = 8 - c->hlen < c->inlen - pos ? 8 - c->hlen : c->inlen - pos;
            memcpy(c->hdr + c->hlen, c->in + pos, k);
            c->hlen += k, pos += k;
            if (c->hlen < 8) break;
            c->fleft = (uint32_t)c->hdr[4] << 24 | (uint32_t)c->hdr[5] << 16 | (uint32_t)c->hdr[6] << 8 | c->hdr[7];
            c->rslen = 0;
            switch (c->hdr[0]) {
            case F_STDIN:
                if (c->fleft == 0 && o.stdin_on && !o.tty) in_eof = 1;   /* close stdin (no-op with a tty) */
                break;
            case F_RESIZE:
                if (c->fleft != 4) return -1;
                break;
            case F_MUTE:
                c->muted = 1;
                buf_free(&c->out);
                c->full_since = 0;
                break;
            case F_START:                                    /* --wait-start: run runc now */
                if (c->fleft != 0) return -1;
                start_requested = 1;
                break;
            default:
                return -1;
            }
            if (c->fleft == 0) c->hlen = 0;
            continue;
        }
        size_t k = c->inlen - pos < c->fleft ? c->inlen - pos : c->fleft;  /* payload */
        if (c->hdr[0] == F_STDIN && o.stdin_on && !in_eof && !in_closed) {
            if (inbuf.len >= STDIN_MAX) { c->blocked = 1; break; }
            if (k > STDIN_MAX - inbuf.len) k = STDIN_MAX - inbuf.len;
            if (buf_add(&inbuf, c->in + pos, k) < 0) return -1;
        } else if (c->hdr[0] == F_RESIZE) {
            memcpy(c->rs + c->rslen, c->in + pos, k);
            c->rslen += k;
            if (c->rslen == 4 && o.tty) {
                pending_ws.ws_row = (unsigned short)(c->rs[0] << 8 | c->rs[1]);
                pending_ws.ws_col = (unsigned short)(c->rs[2] << 8 | c->rs[3]);
                apply_winsize();
            }
        }                                                    /* else: dropped */
        pos += k;
        c->fleft -= (uint32_t)k;
        if (c->fleft == 0) c->hlen = 0;
    }
    memmove(c->in, c->in + pos, c->inlen - pos);
    c->inlen -= pos;
    return 0;
}

/* Reads from a client.  Returns -1 to drop it. */
static int client_read(struct client *c)
{
    if (c->inlen == sizeof c->in) return 0;
    ssize_t k = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, MSG_DONTWAIT);
    if (k == 0) {                    /* half-closed: keep sending output until it goes away */
        c->rd_eof = 1;
        return c->muted ? -1 : 0;
    }
    if (k < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    c->inlen += (size_t)k;
    return client_parse(c);
}

/* Moves buffered stdin to the process. */
static void stdin_flush(void)
{
    while (inbuf.len && in_fd >= 0 && !in_closed) {
        ssize_t k = write(in_fd, inbuf.p + inbuf.off, inbuf.len);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (k < 0) {                 /* reader gone: nothing more can be delivered */
            buf_free(&inbuf);
            in_closed = 1;
            break;
        }
        buf_eat(&inbuf, (size_t)k);
    }
    if (in_closed) buf_free(&inbuf);
    if (((in_eof && inbuf.len == 0) || in_closed) && !o.tty && in_fd >= 0) {
        close(in_fd);
        in_fd = -1;
        in_closed = 1;
    }
    for (int i = 0; i < ncl; i++)    /* room again: let waiting clients go on */
        if (cl[i]->blocked && !cl[i]->dead && inbuf.len < STDIN_MAX && client_parse(cl[i]) < 0) cl[i]->dead = 1;
}

/* ------------------------------------------------------------------ SYNC channel */
static void sync_line(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (sync_fd >= 0 && n > 0) write_all(sync_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* The exchange is over: from now on nobody may depend on our stdout/stderr. */
static void sync_close(void)
{
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 1);
        dup2(nul, 2);
        close(nul);
    }
    sync_fd = -1;
    if (launcher_fd >= 0) {
        close(launcher_fd);             /* the launcher may exit now */
        launcher_fd = -1;
    }
}

/* Makes a message fit on one line: control characters become spaces. */
static void one_line(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (c < 0x20 || c == 0x7f) c = ' ';
        if (c == ' ' && (w == s || w[-1] == ' ')) continue;
        *w++ = (char)c;
    }
    while (w > s && w[-1] == ' ') w--;
    *w = 0;
}

/* Setup or runc failed: report on SYNC, remove the attach socket, no exit file, exit 1. */
static void fail(const char *fmt, ...)
{
    char msg[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    one_line(msg);
    mlog("error %s", msg);
    if (listen_fd >= 0) unlink(p_attach);
    unlink(p_console);
    unlink(p_monpid);
    sync_line("error %s\n", msg[0] ? msg : "unknown error");   /* last: the engine may clean DIR now */
    exit(1);
}

/* ------------------------------------------------------------------ runc */
static pid_t runc_pid = -1, ctr_pid = -1;
static int runc_status, runc_done, ctr_status, ctr_done;
static struct { pid_t pid; int status; } early[64]; /* reaped before the pid file was read */
static int nearly;
static off_t runclog_off;            /* runc.log size before our runc ran */
static int console_fd = -1;          /* listening console socket (--tty) */
static int rerr_fd = -1;             /* runc's own stderr (--tty only) */
static char rerr[2048];              /* the last bytes runc wrote there */
static size_t rerr_len;
static int child_fd[3] = {-1, -1, -1}; /* stdin/stdout/stderr handed to runc */
static long long oom_base;

static void reap(void)
{
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        if (p == runc_pid) {
            runc_status = status, runc_done = 1;
        } else if (ctr_pid > 0) {
            if (p == ctr_pid) ctr_status = status, ctr_done = 1;
        } else if (nearly < (int)(sizeof early / sizeof early[0])) {
            early[nearly].pid = p, early[nearly++].status = status;
        }
    }
}

static void spawn_runc(void)
{
    char *argv[24];
    int a = 0;
    argv[a++] = "runc";
    argv[a++] = "--root", argv[a++] = (char *)o.runc_root;
    argv[a++] = "--log", argv[a++] = p_runclog, argv[a++] = "--log-format", argv[a++] = "json";
    if (o.exec_json) {
        argv[a++] = "exec", argv[a++] = "--detach", argv[a++] = "--process", argv[a++] = (char *)o.exec_json;
    } else if (o.run) {                   /* create and start in one runc process */
        argv[a++] = "run", argv[a++] = "--detach", argv[a++] = "--bundle", argv[a++] = (char *)o.bundle;
    } else {
        argv[a++] = "create", argv[a++] = "--bundle", argv[a++] = (char *)o.bundle;
    }
    argv[a++] = "--pid-file", argv[a++] = p_pid;
    if (o.tty) argv[a++] = "--console-socket", argv[a++] = p_console;
    argv[a++] = (char *)o.id;
    argv[a] = NULL;

    struct stat sb;
    runclog_off = stat(p_runclog, &sb) == 0 ? sb.st_size : 0;
    runc_pid = fork();
    if (runc_pid < 0) fail("fork: %s", strerror(errno));
    if (runc_pid == 0) {
        sigset_t none;
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int i = 0; i < 3; i++) dup2(child_fd[i], i);
        execv(o.runc, argv);
        dprintf(2, "cannot execute %s: %s\n", o.runc, strerror(errno));
        _exit(127);
    }
    for (int i = 0; i < 3; i++)    /* the container holds them now; EOF comes when it is gone */
        if (child_fd[i] > 2 && (i == 0 || child_fd[i] != child_fd[i - 1])) close(child_fd[i]);
    child_fd[0] = child_fd[1] = child_fd[2] = -1;
}

/* Decodes a JSON string body (after the opening quote) into UTF-8. */
static void json_unquote(const char *s, char *out, size_t cap)
{
    size_t w = 0;
    while (*s && *s != '"' && w + 5 < cap) {
        if (*s != '\\') { out[w++] = *s++; continue; }
        s++;
        if (*s == 'u') {
            unsigned cp = 0;
            int ok = sscanf(s + 1, "%4x", &cp) == 1 && strlen(s) >= 5;
            s += ok ? 5 : 1;
            if (ok && cp >= 0xD800 && cp < 0xDC00 && s[0] == '\\' && s[1] == 'u') {
                unsigned lo = 0;
                if (sscanf(s + 2, "%4x", &lo) == 1 && lo >= 0xDC00 && lo < 0xE000)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), s += 6;
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
            if (cp < 0x80) out[w++] = (char)cp;
            else if (cp < 0x800) out[w++] = (char)(0xC0 | cp >> 6), out[w++] = (char)(0x80 | (cp & 63));
            else if (cp < 0x10000) out[w++] = (char)(0xE0 | cp >> 12), out[w++] = (char)(0x80 | (cp >> 6 & 63)),
                                   out[w++] = (char)(0x80 | (cp & 63));
            else out[w++] = (char)(0xF0 | cp >> 18), out[w++] = (char)(0x80 | (cp >> 12 & 63)),
                 out[w++] = (char)(0x80 | (cp >> 6 & 63)), out[w++] = (char)(0x80 | (cp & 63));
        } else if (*s) {
            out[w++] = strchr("nrtbf", *s) ? ' ' : *s;
            s++;
        }
    }
    out[w] = 0;
}

/* The "msg" of the last level=error entry runc wrote to runc.log during our run. */
static int runc_log_error(char *out, size_t cap)
{
    static char b[65536];
    struct stat sb;
    off_t off = runclog_off;
    if (stat(p_runclog, &sb) == 0 && sb.st_size - off > (off_t)sizeof b - 1) off = sb.st_size - (off_t)sizeof b + 1;
    if (read_file(p_runclog, off, b, sizeof b) <= 0) return 0;
    int found = 0;
    for (char *line = b, *end; line && *line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        if (end) *end = 0;
        char *m = strstr(line, "\"msg\":\"");
        if (strstr(line, "\"level\":\"error\"") && m) {
            json_unquote(m + 7, out, cap);
            found = out[0] != 0;
        }
    }
    return found;
}

static void read_rerr(int fd)
{
    char b[4096];
    ssize_t k;
    while ((k = read(fd, b, sizeof b)) > 0) {       /* keep the last sizeof rerr - 1 bytes */
        size_t n = (size_t)k, keep = sizeof rerr - 1;
        if (n >= keep) { memcpy(rerr, b + n - keep, keep); rerr_len = keep; continue; }
        if (rerr_len + n > keep) {
            memmove(rerr, rerr + (rerr_len + n - keep), keep - n);
            rerr_len = keep - n;
        }
        memcpy(rerr + rerr_len, b, n);
        rerr_len += n;
    }
    if (k == 0 && fd == rerr_fd) close(rerr_fd), rerr_fd = -1;
}

/* Takes the pty master that runc sends over the console socket. */
static void console_accept(void)
{
    int c = accept4(console_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) return;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char data[512], cbuf[CMSG_SPACE(4 * sizeof(int))];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t k = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
    close(c);
    for (struct cmsghdr *h = k >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; h; h = CMSG_NXTHDR(&mh, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        int nfd = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
            if (pty_fd >= 0) { close(fd); continue; }
            pty_fd = fd;                                 /* kept to the end: resize, stdin */
            set_nonblock(pty_fd);
            st[0].fd = fcntl(pty_fd, F_DUPFD_CLOEXEC, 3); /* output side, closed at EOF/EIO */
            if (o.stdin_on) in_fd = pty_fd;
            apply_winsize();
        }
    }
    if (pty_fd >= 0) {
        close(console_fd);
        console_fd = -1;
        unlink(p_console);
    }
}

/* Returns oom_kill from the memcg file, or -1. */
static long long oom_count(void)
{
    char b[4096];
    if (!o.oom_file || read_file(o.oom_file, 0, b, sizeof b) < 0) return -1;
    for (char *l = b; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, "oom_kill ", 9) == 0) return atoll(l + 9);
    return -1;
}

/* runc create/exec has exited: report pid or error on SYNC. */
static void runc_finished(void)
{
    const char *verb = o.exec_json ? "exec" : o.run ? "run" : "create";
    int ok = WIFEXITED(runc_status) && WEXITSTATUS(runc_status) == 0;
    char msg[1600] = "", b[64];
    if (ok) {
        if (read_file(p_pid, 0, b, sizeof b) > 0) ctr_pid = atoi(b);
        if (ctr_pid <= 0) fail("runc %s did not write a valid pid file %s", verb, p_pid);
        if (o.tty && pty_fd < 0) console_accept();
        if (o.tty && pty_fd < 0) fail("runc %s did not send a terminal on %s", verb, p_console);
        sync_line("pid %d\n", (int)ctr_pid);
        sync_close();
        for (int i = 0; i < nearly; i++)
            if (early[i].pid == ctr_pid) ctr_status = early[i].status, ctr_done = 1;
        return;
    }
    if (runc_log_error(msg, sizeof msg)) fail("%s", msg);
    /* runc's stderr: the container's stderr pipe (nothing else wrote to it yet), or rerr */
    if (!o.tty && st[1].fd >= 0) read_rerr(st[1].fd);
    if (rerr_fd >= 0) read_rerr(rerr_fd);
    rerr[rerr_len] = 0;
    char *last = NULL;
    for (char *l = strtok(rerr, "\n"); l; l = strtok(NULL, "\n")) {
        one_line(l);
        if (*l) last = l;
    }
    if (last) fail("%s", last);
    if (WIFSIGNALED(runc_status)) fail("runc %s was killed by signal %d", verb, WTERMSIG(runc_status));
    fail("runc %s exited with status %d", verb, WEXITSTATUS(runc_status));
}

/* ------------------------------------------------------------------ main loop */
static int sig_fd = -1;
static char rbuf[READ_CHUNK];

/* Reads one chunk of container output: to the clients and to the log. */
static int read_output(struct stream *s)
{
    ssize_t k = read(s->fd, rbuf, sizeof rbuf);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (k <= 0) {                    /* EOF, or EIO when the pty's last slave closed */
        if (o.json_log) log_eof(s);
        close(s->fd);
        s->fd = -1;
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    broadcast(s->type, rbuf, (size_t)k);
    if (o.json_log) log_chunk(s, rbuf, (size_t)k, &now);
    return 1;
}

enum { PH_WAIT, PH_RUNC, PH_RUN, PH_DRAIN };

static void event_loop(int phase)
{
    struct pollfd pf[8 + MAX_CLIENTS];
    long long last_data = 0;
    for (;;) {
        long long now = now_ms(), deadline = -1;
        int paused = 0, n = 0;
        sweep();
        for (int i = 0; i < ncl; i++) {      /* backpressure from slow attach clients */
            struct client *c = cl[i];
            if (c->muted || c->out.len < CLIENT_HIGH) { c->full_since = 0; continue; }
            if (!c->full_since) c->full_since = now;
            if (now - c->full_since > CLIENT_FULL_MS) {
                mlog("dropped an attach client that took no output for %d s", CLIENT_FULL_MS / 1000);
                c->dead = 1;
                continue;
            }
            paused = 1;
            if (deadline < 0 || c->full_since + CLIENT_FULL_MS + 1 < deadline) deadline = c->full_since + CLIENT_FULL_MS + 1;
        }
        sweep();
        if (phase == PH_DRAIN) {
            if (st[0].fd < 0 && st[1].fd < 0) return;
            if (!paused && now - last_data >= DRAIN_IDLE_MS) return;
            if (!paused && (deadline < 0 || last_data + DRAIN_IDLE_MS < deadline)) deadline = last_data + DRAIN_IDLE_MS;
        }
        pf[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = console_fd, .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = rerr_fd, .events = POLLIN};
        for (int i = 0; i < 2; i++)
            pf[n++] = (struct pollfd){.fd = phase >= PH_RUN && !paused ? st[i].fd : -1, .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = inbuf.len ? in_fd : -1, .events = POLLOUT};
        for (int i = 0; i < ncl; i++) {
            struct client *c = cl[i];
            short ev = (short)((c->blocked || c->rd_eof ? 0 : POLLIN) | (c->out.len ? POLLOUT : 0));
            pf[n++] = (struct pollfd){.fd = c->blocked && !ev ? -1 : c->fd, .events = ev};
        }
        int r = poll(pf, (nfds_t)n, deadline < 0 ? -1 : (int)(deadline > now ? deadline - now : 0));
        if (r < 0 && errno != EINTR) { mlog("poll: %s", strerror(errno)); sleep(1); }
        if (r <= 0) continue;

        if (pf[0].revents) {
            struct signalfd_siginfo si;
            while (read(sig_fd, &si, sizeof si) > 0) {}
            reap();
        }
        int nc = ncl;                        /* clients accepted now are not in pf yet */
        if (pf[1].revents) {
            accept_clients();
            if (phase == PH_WAIT && ncl >= o.wait_attach) spawn_runc(), phase = PH_RUNC;
        }
        if (pf[2].revents && console_fd >= 0) console_accept();
        if (pf[3].revents && rerr_fd >= 0) read_rerr(rerr_fd);
        for (int i = 0; i < 2; i++)
            if (pf[4 + i].revents && st[i].fd >= 0 && read_output(&st[i])) last_data = now_ms();
        if (o.json_log && llen) log_flush();
        if (pf[6].revents) stdin_flush();
        for (int i = 0; i < nc; i++) {
            struct client *c = cl[i];
            short re = pf[7 + i].revents;
            if (pf[7 + i].fd < 0 || !re || c->dead) continue;
            /* Peer closed (POLLERR if it left our output unread): only its input is left.
             * A blocked client keeps it until the process has taken it. */
            if (re & (POLLHUP | POLLERR)) c->muted = 1, buf_free(&c->out);
            if ((re & POLLOUT) && client_send(c) < 0) { c->dead = 1; continue; }
            if (re & POLLIN) {
                if (client_read(c) < 0) c->dead = 1;
            } else if ((re & POLLNVAL) || ((re & (POLLHUP | POLLERR)) && !c->blocked)) {
                c->dead = 1;
            }
        }
        if (inbuf.len || in_eof) stdin_flush();

        if (phase == PH_WAIT && start_requested) spawn_runc(), phase = PH_RUNC;
        if (phase == PH_RUNC && runc_done) runc_finished(), phase = PH_RUN;
        if (phase == PH_RUN && ctr_done) phase = PH_DRAIN, last_data = now_ms();
    }
}

/* The process has exited and its output is drained: hand everything over and record the exit. */
static void finish(void)
{
    for (int i = 0; i < 2; i++) {
        if (o.json_log) log_eof(&st[i]);
        if (st[i].fd >= 0) close(st[i].fd), st[i].fd = -1;
    }
    if (o.json_log) log_flush();
    long long end = now_ms() + CLIENT_DRAIN_MS;
    for (;;) {                               /* clients get up to 1 s to take what is queued */
        struct pollfd pf[MAX_CLIENTS];
        int n = 0;
        for (int i = 0; i < ncl; i++)
            if (cl[i]->out.len) pf[n++] = (struct pollfd){.fd = cl[i]->fd, .events = POLLOUT};
        long long now = now_ms();
        if (n == 0 || now >= end || poll(pf, (nfds_t)n, (int)(end - now)) <= 0) break;
        for (int i = 0; i < ncl; i++)
            if (cl[i]->out.len && client_send(cl[i]) < 0) buf_free(&cl[i]->out);
    }
    while (ncl) client_drop(ncl - 1);
    close(listen_fd);
    unlink(p_attach);

    int code = WIFEXITED(ctr_status) ? WEXITSTATUS(ctr_status) : 128 + WTERMSIG(ctr_status);
    long long oom = oom_count();
    if (oom > oom_base) {
        int fd = open(p_oom, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
    }
    mlog("process %d exited, code %d%s", (int)ctr_pid, code, oom > oom_base ? ", oom" : "");
    char text[16];
    snprintf(text, sizeof text, "%d\n", code);
    if (write_atomic(p_exit, text) < 0) mlog("cannot write %s: %s", p_exit, strerror(errno));
    exit(0);
}

/* ------------------------------------------------------------------ setup */
static void usage(const char *why)
{
    fprintf(stderr, "berth-mon: %s\n"
            "usage: berth-mon --id ID --runc PATH --runc-root DIR --bundle DIR --dir DIR\n"
            "       [--exec PROCESS_JSON | --run] [--tty] [--stdin] [--wait-attach[=N] | --wait-start] [--oom-file PATH]\n"
            "       [--log-driver json-file|none] [--log-path FILE] [--log-max-size BYTES] [--log-max-file N]\n", why);
    exit(2);
}

/* Absolute form of a path (the monitor runs in "/"). */
static const char *absolute(const char *p)
{
    static char cwd[PATH_MAX];
    if (!p || p[0] == '/') return p;
    if (!cwd[0] && !getcwd(cwd, sizeof cwd)) usage("cannot get the current directory");
    char *r = malloc(strlen(cwd) + strlen(p) + 2);
    if (!r) usage("out of memory");
    sprintf(r, "%s/%s", cwd, p);
    return r;
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"id", 1, 0, 'i'}, {"runc", 1, 0, 'r'}, {"runc-root", 1, 0, 'R'}, {"bundle", 1, 0, 'b'},
        {"dir", 1, 0, 'd'}, {"exec", 1, 0, 'e'}, {"tty", 0, 0, 't'}, {"stdin", 0, 0, 's'},
        {"log-driver", 1, 0, 'D'}, {"log-path", 1, 0, 'l'}, {"log-max-size", 1, 0, 'S'},
        {"log-max-file", 1, 0, 'F'}, {"oom-file", 1, 0, 'o'}, {"wait-attach", 2, 0, 'w'}, {"run", 0, 0, 'x'},
        {"wait-start", 0, 0, 'W'},
        {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'i': o.id = optarg; break;
        case 'r': o.runc = optarg; break;
        case 'R': o.runc_root = optarg; break;
        case 'b': o.bundle = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'e': o.exec_json = optarg; break;
        case 't': o.tty = 1; break;
        case 's': o.stdin_on = 1; break;
        case 'w':                         /* --wait-attach[=N]: N clients (default 1) before runc */
            o.wait_attach = optarg ? (int)strtol(optarg, &end, 10) : 1;
            if (o.wait_attach < 1 || (optarg && *end)) usage("--wait-attach=N needs N >= 1");
            break;
        case 'x': o.run = 1; break;
        case 'W': o.wait_start = 1; break;
        case 'l': o.log_path = optarg; break;
        case 'o': o.oom_file = optarg; break;
        case 'D':
            if (strcmp(optarg, "json-file") == 0) o.json_log = 1;
            else if (strcmp(optarg, "none") == 0) o.json_log = 0;
            else usage("--log-driver must be json-file or none");
            break;
        case 'S':
            errno = 0;
            o.max_size = strtoll(optarg, &end, 10);
            if (errno || *end || o.max_size < 0) usage("bad --log-max-size");
            break;
        case 'F':
            errno = 0;
            o.max_file = (int)strtol(optarg, &end, 10);
            if (errno || *end || o.max_file < 1 || o.max_file > 1000) usage("bad --log-max-file");
            break;
        default: usage("unknown option");
        }
    }
    if (optind != argc) usage("unexpected argument");
    if (!o.id || !o.runc || !o.runc_root || !o.bundle || !o.dir) usage("--id, --runc, --runc-root, --bundle and --dir are required");
    if (o.json_log && !o.log_path) usage("--log-driver json-file needs --log-path");
    o.runc = absolute(o.runc), o.runc_root = absolute(o.runc_root), o.bundle = absolute(o.bundle);
    if (o.run && o.exec_json) usage("--run and --exec exclude each other");
    if (o.wait_start && o.wait_attach) usage("--wait-start and --wait-attach exclude each other");
    o.dir = absolute(o.dir), o.exec_json = absolute(o.exec_json), o.log_path = absolute(o.log_path);
    o.oom_file = absolute(o.oom_file);
    if (strlen(o.dir) + sizeof "/console.sock" > sizeof p_console) usage("--dir is too long for a unix socket path");
    snprintf(p_attach, sizeof p_attach, "%s/attach", o.dir);
    snprintf(p_console, sizeof p_console, "%s/console.sock", o.dir);
    if (strlen(o.dir) + 16 > PATH_MAX) usage("--dir is too long");
#define DIRFILE(var, name) snprintf(var, sizeof var, "%s/" name, o.dir)
    DIRFILE(p_pid, "pid");
    DIRFILE(p_monpid, "mon.pid");
    DIRFILE(p_exit, "exit");
    DIRFILE(p_oom, "oom");
    DIRFILE(p_runclog, "runc.log");
    DIRFILE(p_monlog, "monitor.log");
}

static int listen_unix(const char *path, int backlog)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0)
        fail("cannot listen on %s: %s", path, strerror(errno));
    return fd;
}

/* Pipe whose read end (ours) is non-blocking; the process's end stays blocking. */
static void make_pipe(int p[2], int ours)
{
    if (pipe2(p, O_CLOEXEC) < 0) fail("pipe: %s", strerror(errno));
    set_nonblock(p[ours]);
    if (ours == 0) fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);  /* fewer wakeups; best effort */
}

static void setup(void)
{
    static const int ignored[] = {SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGTTOU, SIGTTIN};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGCHLD);
    sigprocmask(SIG_BLOCK, &m, NULL);
    if ((sig_fd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) fail("signalfd: %s", strerror(errno));
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    umask(022);
    if (chdir("/") < 0) fail("chdir /: %s", strerror(errno));

    for (const char *const *f = (const char *const[]){p_exit, p_oom, p_pid, NULL}; *f; f++) unlink(*f);
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", p_exit);
    unlink(tmp);
    char text[32];
    snprintf(text, sizeof text, "%d\n", (int)getpid());
    if (write_atomic(p_monpid, text) < 0) fail("cannot write %s: %s", p_monpid, strerror(errno));

    for (int i = 0; i < 128; i++) ascii_esc[i] = i < 0x20 || strchr("\"\\<>&", i) != NULL;
    if (o.json_log) {
        if (!(lbuf = malloc(LOGBUF))) fail("out of memory");
        log_open();
        if (log_fd < 0) fail("cannot open log file %s: %s", o.log_path, strerror(errno));
    }
    if (o.oom_file && o.exec_json) oom_base = oom_count();   /* exec: only new OOM kills count */
    if (oom_base < 0) oom_base = 0;

    int nul = open("/dev/null", O_RDWR | O_CLOEXEC), p[2];
    if (nul < 0) fail("/dev/null: %s", strerror(errno));
    child_fd[0] = nul;
    if (o.stdin_on && !o.tty) {
        make_pipe(p, 1);
        child_fd[0] = p[0], in_fd = p[1];
    }
    if (o.tty) {                     /* output comes from the pty; runc's own stderr is kept apart */
        console_fd = listen_unix(p_console, 4);
        make_pipe(p, 0);
        rerr_fd = p[0], child_fd[1] = child_fd[2] = p[1];
    } else {
        make_pipe(p, 0);
        st[0].fd = p[0], child_fd[1] = p[1];
        make_pipe(p, 0);
        st[1].fd = p[0], child_fd[2] = p[1];
    }
    listen_fd = listen_unix(p_attach, 16);
    if (child_fd[0] != nul) close(nul);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    for (int fd = 0; fd < 3; fd++)       /* 0, 1, 2 must exist so that new fds are >= 3 */
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd) return 1;
    close_range(3, ~0U, 0);

    /* The launcher stays until the SYNC exchange is over: a caller such as the JVM stops reading a
     * child's stdout pipe once that child has exited, which would lose the lines the monitor writes. */
    int done[2];
    if (pipe2(done, O_CLOEXEC) < 0) { perror("berth-mon: pipe"); return 1; }
    pid_t p = fork();
    if (p < 0) { perror("berth-mon: fork"); return 1; }
    if (p > 0) {                         /* launcher: returns once the monitor is detached and synced */
        int status;
        close(done[1]);
        while (waitpid(p, &status, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
        char c;
        while (read(done[0], &c, 1) < 0 && errno == EINTR) {}
        return 0;
    }
    close(done[0]);
    launcher_fd = done[1];
    if (setsid() < 0) { perror("berth-mon: setsid"); _exit(1); }
    p = fork();                          /* not a session leader: can never get a controlling tty */
    if (p < 0) { perror("berth-mon: fork"); _exit(1); }
    if (p > 0) _exit(0);

    setup();
    sync_line("ready\n");
    if (!o.wait_attach && !o.wait_start) spawn_runc();
    event_loop(o.wait_attach || o.wait_start ? PH_WAIT : PH_RUNC);
    finish();
}
