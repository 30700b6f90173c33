/* nets - lists of IP addresses and networks; see nets.h. */
#include "nets.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_ip(const char *s, struct nets_entry *n)
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

int nets_parse(char *const *items, size_t n, struct nets *out, fa_err *err)
{
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (out->n == NETS_MAX)
            return fa_err_set(err, "internal_hosts: more than %d entries", NETS_MAX);
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", items[i]);
        char *slash = strchr(buf, '/');
        struct nets_entry *net = &out->v[out->n];
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

static int in_net(const struct nets_entry *net, const struct nets_entry *a)
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

int nets_match(const struct nets *nets, const char *addr)
{
    struct nets_entry a;
    if (!addr || parse_ip(addr, &a) < 0)
        return 0;
    /* An IPv4-mapped IPv6 client also matches IPv4 networks. */
    struct nets_entry v4 = {0};
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
