/* libFuzzer target: what fwdauth doctor parses from other programs and the
 * network (doctor.h): postconf and postmap -s output, Postfix lists, the
 * probes' socketmap, tcp_table and milter replies, zone-file TXT lines, and
 * the Postfix checks over parsed postconf output (a fixed configuration
 * without forward_recipients, so that no table file is opened). The first
 * octet chooses. Invariants: a refused text leaves no pairs; every parsed
 * pair has a name and can be found; lists end, each item consuming input;
 * values fit their buffers; a zone line's length is what was written. */
#include "config.h"
#include "doctor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char CONF[] = "srs_domain = srs.example.net\n"
                           "srs_secrets = /nonexistent\n"
                           "socketmap_listen = inet:127.0.0.1:10003\n"
                           "tcp_reverse_listen = unix:/var/spool/postfix/private/rev\n"
                           "milter_listen = inet:127.0.0.1:8891\n";

static void pairs(const char *s, size_t n, int postmap, int check)
{
    struct doctor_pairs p = {0};
    fa_err err;
    int rc = postmap ? doctor_postmap_parse(s, n, &p, &err) : doctor_postconf_parse(s, n, &p, &err);
    if (rc < 0) {
        if (p.n)
            abort();
        return;
    }
    for (size_t i = 0; i < p.n; i++)
        if (!p.p[i].name || !p.p[i].value || !doctor_pair(&p, p.p[i].name))
            abort();
    if (check && !postmap) {
        static struct fa_config cfg;
        static int loaded;
        if (!loaded) {
            config_init(&cfg);
            if (config_load_buf(&cfg, "fuzz.conf", CONF, sizeof(CONF) - 1, &err) < 0)
                abort();
            loaded = 1;
        }
        struct doctor_finding *f = calloc(64, sizeof(*f));
        if (f) {
            struct doctor_report r;
            doctor_report_init(&r, f, 64);
            struct doctor_input in = {.cfg = &cfg, .pf = &p, .pf_n = &p};
            doctor_check_postfix(&in, &r);
            if (r.n > 64)
                abort();
            free(f);
        }
    }
    doctor_pairs_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned which = data[0] % 7;
    data++;
    size--;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char v[64];
    switch (which) {
    case 0:
    case 1:
        pairs(s, size, (int)which, 0);
        break;
    case 2: {
        const char *p = s;
        char item[16];
        size_t n = 0;
        while (doctor_list_next(&p, item, sizeof(item)) == 1) {
            if (++n > size || strlen(item) >= sizeof(item))
                abort();
        }
        break;
    }
    case 3:
        if (doctor_socketmap_reply(s, size, v, sizeof(v)) != DOCTOR_REPLY_MALFORMED &&
            !memchr(v, '\0', sizeof(v)))
            abort();
        if (doctor_tcptable_reply(s, size, v, sizeof(v)) != DOCTOR_REPLY_MALFORMED &&
            !memchr(v, '\0', sizeof(v)))
            abort();
        break;
    case 4: {
        unsigned ver, act, proto;
        doctor_milter_optneg(s, size, &ver, &act, &proto);
        break;
    }
    case 5: {
        char out[600];
        int n = doctor_zone_txt("k._domainkey.example.net", s, size, out, sizeof(out));
        if (n >= 0 && (size_t)n != strlen(out))
            abort();
        break;
    }
    default:
        pairs(s, size, 0, 1);
    }
    free(s);
    return 0;
}
