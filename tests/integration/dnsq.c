/* dnsq - test-only: ask the dns module one question and print the answer.
 *
 *   dnsq [--server ADDR@PORT | --zone FILE] [--timeout MS] [--threads T] [--repeat N] NAME TYPE
 *
 * Prints the status name (OK, NXDOMAIN, ...) on the first line and, for OK,
 * one record per line: A/AAAA as addresses, MX as "PREF NAME", TXT/SPF as
 * the joined strings (octets outside graphic ASCII, and "\", as \DDD),
 * PTR/CNAME as the name. The reason for a non-OK status goes to stderr.
 * --threads/--repeat ask the same question T x N times from T threads
 * sharing one struct dns, and fail (exit 3) unless every answer is the same.
 * Exit: 0 OK, 1 NXDOMAIN/NODATA, 2 TEMPFAIL/PERMFAIL or usage, 3 mismatch.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_THREADS 64
#define OUT_MAX (1024 * 1024) /* rendered answers are cut here */

static const struct {
    const char *name;
    int type;
} types[] = {{"A", DNS_T_A},     {"AAAA", DNS_T_AAAA}, {"MX", DNS_T_MX},      {"TXT", DNS_T_TXT},
             {"SPF", DNS_T_SPF}, {"PTR", DNS_T_PTR},   {"CNAME", DNS_T_CNAME}};

struct job {
    struct dns *d;
    const char *name;
    int type;
    int repeat;
    int status;
    char *text; /* the first answer, rendered */
    int mismatch;
};

/* snprintf at out + *o, never moving *o past cap - 1. */
static void put(char *out, size_t cap, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(char *out, size_t cap, size_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n > 0)
        *o = *o + (size_t)n < cap ? *o + (size_t)n : cap - 1;
}

static void render(const struct dns_answer *a, int type, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    put(out, cap, &o, "%s\n", dns_status_name(a->status));
    for (size_t i = 0; i < a->n; i++) {
        const struct dns_rr *r = &a->rr[i];
        char ip[INET6_ADDRSTRLEN];
        switch (type) {
        case DNS_T_A:
        case DNS_T_AAAA:
            inet_ntop(type == DNS_T_A ? AF_INET : AF_INET6, r->data, ip, sizeof(ip));
            put(out, cap, &o, "%s\n", ip);
            break;
        case DNS_T_MX:
            put(out, cap, &o, "%u %s\n", r->pref, (const char *)r->data);
            break;
        case DNS_T_TXT:
        case DNS_T_SPF:
            for (size_t k = 0; k < r->len; k++) {
                unsigned char c = r->data[k];
                if (c < ' ' || c > '~' || c == '\\')
                    put(out, cap, &o, "\\%03u", c);
                else
                    put(out, cap, &o, "%c", c);
            }
            put(out, cap, &o, "\n");
            break;
        default:
            put(out, cap, &o, "%s\n", (const char *)r->data);
        }
    }
}

static void *run(void *arg)
{
    struct job *j = arg;
    char *buf = malloc(OUT_MAX);
    if (!buf)
        return NULL;
    for (int i = 0; i < j->repeat; i++) {
        struct dns_answer a;
        dns_query(j->d, j->name, j->type, &a);
        render(&a, j->type, buf, OUT_MAX);
        if (i == 0) {
            j->status = a.status;
            if (a.status != DNS_OK && a.why)
                fprintf(stderr, "dnsq: %s\n", a.why);
            j->text = strdup(buf);
        } else if (!j->text || strcmp(j->text, buf) != 0) {
            j->mismatch = 1;
        }
        dns_answer_free(&a);
    }
    free(buf);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: dnsq [--server ADDR@PORT | --zone FILE] [--timeout MS] "
                    "[--threads T] [--repeat N] NAME TYPE\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct dns_opts o = {0};
    int nthreads = 1, repeat = 1, i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--server") == 0)
            o.server = argv[i + 1];
        else if (strcmp(argv[i], "--zone") == 0)
            o.zone_file = argv[i + 1];
        else if (strcmp(argv[i], "--timeout") == 0)
            o.timeout_ms = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            nthreads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
        else
            return usage();
    }
    if (argc - i != 2 || nthreads < 1 || nthreads > MAX_THREADS || repeat < 1)
        return usage();
    int type = -1;
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
        if (strcasecmp(types[k].name, argv[i + 1]) == 0)
            type = types[k].type;
    if (type < 0)
        return usage();

    fa_err err = {{0}};
    struct dns *d = dns_new(&o, &err);
    if (!d) {
        fprintf(stderr, "dnsq: %s\n", err.msg);
        return 2;
    }
    struct job jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    for (int t = 0; t < nthreads; t++) {
        jobs[t] = (struct job){d, argv[i], type, repeat, DNS_PERMFAIL, NULL, 0};
        if (pthread_create(&tids[t], NULL, run, &jobs[t]) != 0) {
            fprintf(stderr, "dnsq: cannot start a thread\n");
            return 2;
        }
    }
    int mismatch = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tids[t], NULL);
        if (jobs[t].mismatch || !jobs[t].text ||
            strcmp(jobs[t].text, jobs[0].text ? jobs[0].text : "") != 0)
            mismatch = 1;
    }
    if (jobs[0].text)
        fputs(jobs[0].text, stdout);
    int st = jobs[0].status;
    for (int t = 0; t < nthreads; t++)
        free(jobs[t].text);
    dns_free(d);
    if (mismatch) {
        fprintf(stderr, "dnsq: answers differ between threads or repeats\n");
        return 3;
    }
    return st == DNS_OK ? 0 : (st == DNS_NXDOMAIN || st == DNS_NODATA) ? 1 : 2;
}
