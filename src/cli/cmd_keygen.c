/* fwdauth dkim keygen: a signing key and the DNS record that publishes it. */
#include "cli.h"
#include "config.h"
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZONE_LINE_MAX 4096

static void keygen_usage(FILE *f)
{
    fprintf(f,
            "usage: fwdauth dkim keygen -d DOMAIN -s SELECTOR [options]\n"
            "\n"
            "Makes a DKIM signing key and the DNS TXT record that publishes its public\n"
            "key at SELECTOR._domainkey.DOMAIN. Writes DIR/SELECTOR.private (the private\n"
            "key, PKCS#8 PEM, mode 0600) and DIR/SELECTOR.txt (the zone-file line), and\n"
            "prints the zone-file line. Existing files are never overwritten.\n"
            "\n"
            "options:\n"
            "  -d, --domain DOMAIN     the signing domain (d=)\n"
            "  -s, --selector SEL      the selector (s=), also the file names\n"
            "  -t, --type TYPE         rsa (default) or ed25519\n"
            "  -b, --bits BITS         RSA key size, %d to %d (default 2048)\n"
            "  -o, --directory DIR     where to write the files (default: .)\n"
            "  -c FILE                 configuration file (fwdauthd.conf(5)); not needed\n"
            "  --json                  print one JSON object: domain, selector, type, bits,\n"
            "                          private_key, record, zone_line\n"
            "\n"
            "exit status: 0 key written, 2 usage or I/O error\n",
            KEY_RSA_MIN_BITS, KEY_RSA_MAX_BITS);
}

/* Letters, digits and hyphens in dot-separated labels of 1 to 63 octets
 * (RFC 6376 section 3.1 selectors, RFC 1035 host names). */
static int write_text(int fd, const char *path, const char *text, fa_err *err)
{
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fa_err_errno(err, w < 0 ? errno : EIO, "cannot write %s", path);
        off += (size_t)w;
    }
    return 0;
}

int cmd_dkim_keygen(int argc, char **argv)
{
    enum { OPT_JSON = 256 };
    static const struct option longopts[] = {
        {"domain", required_argument, NULL, 'd'},
        {"selector", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 't'},
        {"bits", required_argument, NULL, 'b'},
        {"directory", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *domain = NULL, *selector = NULL, *dir = ".", *file = NULL;
    int type = KEY_RSA, json = 0, c;
    unsigned bits = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:s:t:b:o:c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            domain = optarg;
            break;
        case 's':
            selector = optarg;
            break;
        case 't':
            if (strcmp(optarg, "rsa") == 0) {
                type = KEY_RSA;
            } else if (strcmp(optarg, "ed25519") == 0) {
                type = KEY_ED25519;
            } else {
                fprintf(stderr, "fwdauth dkim keygen: -t wants rsa or ed25519, not \"%s\"\n",
                        optarg);
                return EXIT_TROUBLE;
            }
            break;
        case 'b': {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || optarg[0] == '-' || v > UINT_MAX) {
                fprintf(stderr, "fwdauth dkim keygen: -b wants a number of bits, not \"%s\"\n",
                        optarg);
                return EXIT_TROUBLE;
            }
            bits = (unsigned)v;
            break;
        }
        case 'o':
            dir = optarg;
            break;
        case 'c':
            file = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            keygen_usage(stdout);
            return EXIT_POSITIVE;
        default:
            keygen_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fwdauth dkim keygen: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_TROUBLE;
    }
    if (!domain || !selector) {
        fprintf(stderr, "fwdauth dkim keygen: -d DOMAIN and -s SELECTOR are required\n");
        keygen_usage(stderr);
        return EXIT_TROUBLE;
    }
    if (!config_valid_name(domain, 1)) {
        fprintf(stderr, "fwdauth dkim keygen: \"%s\" is not a domain name\n", domain);
        return EXIT_TROUBLE;
    }
    if (!config_valid_name(selector, 0)) {
        fprintf(stderr,
                "fwdauth dkim keygen: \"%s\" is not a selector: use letters, digits, "
                "hyphens and dots\n",
                selector);
        return EXIT_TROUBLE;
    }
    if (type == KEY_RSA && bits == 0)
        bits = 2048;
    if (file) {
        struct fa_config cfg;
        if (cli_load_config(&cfg, file) < 0)
            return EXIT_TROUBLE;
        config_free(&cfg);
    }

    fa_err err;
    struct fa_key *k = key_generate(type, bits, &err);
    if (!k) {
        fprintf(stderr, "fwdauth dkim keygen: %s\n", err.msg);
        return EXIT_TROUBLE;
    }
    char record[ZONE_LINE_MAX], zone[ZONE_LINE_MAX];
    char keypath[PATH_MAX], txtpath[PATH_MAX];
    if (key_dns_record(k, record, sizeof(record)) < 0 ||
        key_dns_zone_line(k, selector, domain, zone, sizeof(zone) - 1) < 0) {
        fprintf(stderr, "fwdauth dkim keygen: cannot make the DNS record\n");
        key_free(k);
        return EXIT_TROUBLE;
    }
    int n1 = snprintf(keypath, sizeof(keypath), "%s/%s.private", dir, selector);
    int n2 = snprintf(txtpath, sizeof(txtpath), "%s/%s.txt", dir, selector);
    if (n1 < 0 || (size_t)n1 >= sizeof(keypath) || n2 < 0 || (size_t)n2 >= sizeof(txtpath)) {
        fprintf(stderr, "fwdauth dkim keygen: directory name too long\n");
        key_free(k);
        return EXIT_TROUBLE;
    }
    /* Claim the .txt name first, so that neither file is written when
     * either exists; undo it if the key cannot be written. */
    int fd = open(txtpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            fprintf(stderr, "fwdauth dkim keygen: %s exists: refusing to overwrite\n", txtpath);
        else
            fprintf(stderr, "fwdauth dkim keygen: cannot create %s: %s\n", txtpath,
                    strerror(errno));
        key_free(k);
        return EXIT_TROUBLE;
    }
    if (key_write_private(k, keypath, &err) < 0) {
        fprintf(stderr, "fwdauth dkim keygen: %s\n", err.msg);
        close(fd);
        unlink(txtpath);
        key_free(k);
        return EXIT_TROUBLE;
    }
    strcat(zone, "\n");
    int rc = write_text(fd, txtpath, zone, &err);
    if (close(fd) < 0 && rc == 0)
        rc = fa_err_errno(&err, errno, "cannot write %s", txtpath);
    zone[strlen(zone) - 1] = '\0';
    if (rc < 0) {
        fprintf(stderr, "fwdauth dkim keygen: %s (the key is in %s)\n", err.msg, keypath);
        key_free(k);
        return EXIT_TROUBLE;
    }
    if (json) {
        fputs("{\"domain\":", stdout);
        cli_json_string(stdout, domain, strlen(domain));
        fputs(",\"selector\":", stdout);
        cli_json_string(stdout, selector, strlen(selector));
        printf(",\"type\":\"%s\",\"bits\":%u,\"private_key\":", type == KEY_RSA ? "rsa" : "ed25519",
               key_bits(k));
        cli_json_string(stdout, keypath, strlen(keypath));
        fputs(",\"record\":", stdout);
        cli_json_string(stdout, record, strlen(record));
        fputs(",\"zone_line\":", stdout);
        cli_json_string(stdout, zone, strlen(zone));
        fputs("}\n", stdout);
    } else {
        puts(zone);
    }
    key_free(k);
    return EXIT_POSITIVE;
}
