/* policy - originating and forwarded mail decisions; see policy.h. */
#include "policy.h"

#include "addr.h"
#include "domlist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_ip(const char *s, struct policy_net *n)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (strncasecmp(s, "IPv6:", 5) == 0)
        s += 5;
    snprintf(buf, sizeof(buf), "%s", s);
    size_t len = strlen(buf);
    if (len > 2 && buf[0] == '[' && buf[len - 1] == ']') {
        memmove(buf, buf + 1, len - 2);
        buf[len - 2] = '\0';
    }
    memset(n->addr, 0, sizeof(n->addr));
    if (inet_pton(AF_INET, buf, n->addr) == 1) {
        n->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, n->addr) == 1) {
        n->family = 6;
        return 0;
    }
    return -1;
}

int policy_nets_parse(char *const *items, size_t n, struct policy_nets *out, fa_err *err)
{
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (out->n == POLICY_NETS_MAX)
            return fa_err_set(err, "internal_hosts: more than %d entries", POLICY_NETS_MAX);
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", items[i]);
        char *slash = strchr(buf, '/');
        struct policy_net *net = &out->v[out->n];
        if (slash)
            *slash = '\0';
        if (parse_ip(buf, net) < 0)
            return fa_err_set(err, "internal_hosts: \"%s\" is not an address or network", items[i]);
        unsigned max = net->family == 4 ? 32 : 128;
        net->prefix = max;
        if (slash) {
            char *end;
            unsigned long p = strtoul(slash + 1, &end, 10);
            if (!slash[1] || *end || p > max)
                return fa_err_set(err, "internal_hosts: bad prefix length in \"%s\"", items[i]);
            net->prefix = (unsigned)p;
        }
        out->n++;
    }
    return 0;
}

static int in_net(const struct policy_net *net, const struct policy_net *a)
{
    if (net->family != a->family)
        return 0;
    unsigned full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->addr, a->addr, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (a->addr[full] & mask);
}

int policy_nets_match(const struct policy_nets *nets, const char *addr)
{
    struct policy_net a;
    if (!addr || parse_ip(addr, &a) < 0)
        return 0;
    /* An IPv4-mapped IPv6 client also matches IPv4 networks. */
    struct policy_net v4 = {0};
    int mapped = a.family == 6 && memcmp(a.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0;
    if (mapped) {
        v4.family = 4;
        memcpy(v4.addr, a.addr + 12, 4);
    }
    for (size_t i = 0; i < nets->n; i++)
        if (in_net(&nets->v[i], &a) || (mapped && in_net(&nets->v[i], &v4)))
            return 1;
    return 0;
}

int policy_originating(const struct policy_nets *internal, const struct fa_config *cfg,
                       const char *auth_authen, const char *client_addr, const char *daemon_name)
{
    if (auth_authen && auth_authen[0])
        return 1;
    if (policy_nets_match(internal, client_addr))
        return 1;
    if (daemon_name && daemon_name[0])
        for (size_t i = 0; i < cfg->originating_daemon_names.n; i++)
            if (strcmp(cfg->originating_daemon_names.v[i], daemon_name) == 0)
                return 1;
    return 0;
}

int policy_forwarded_rcpt(const struct fa_config *cfg, const char *rcpt)
{
    if (!rcpt)
        return 0;
    size_t n = strlen(rcpt);
    if (n >= 2 && rcpt[0] == '<' && rcpt[n - 1] == '>') {
        rcpt++;
        n -= 2;
    }
    struct addr a;
    if (addr_split(rcpt, n, &a) < 0)
        return 0;
    for (size_t i = 0; i < cfg->forward_recipients.n; i++) {
        const char *f = cfg->forward_recipients.v[i];
        if (f[0] == '@') {
            if (domain_equal(f + 1, strlen(f + 1), a.domain, a.domain_len))
                return 1;
            continue;
        }
        struct addr fa;
        if (addr_split(f, strlen(f), &fa) == 0 && fa.local_len == a.local_len &&
            strncasecmp(fa.local, a.local, a.local_len) == 0 &&
            domain_equal(fa.domain, fa.domain_len, a.domain, a.domain_len))
            return 1;
    }
    return 0;
}
