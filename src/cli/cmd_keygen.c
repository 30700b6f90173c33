/* fwdauth dkim keygen: a signing key and the DNS record that publishes it,
 * with the options admins know from opendkim-genkey and rspamadm
 * dkim_keygen: key flags (t=y testing, t=s no subdomains), the service
 * type (s=email), the KeyTable and SigningTable lines, and the key file's
 * owner. */
#include "cli.h"
#include "config.h"
#include "doctor.h"
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
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
            "  --testing               t=y: receivers treat the key as in testing (as\n"
            "                          opendkim-genkey --testmode)\n"
            "  --no-subdomains         t=s: i= must be in d= itself, not a subdomain (as\n"
            "                          opendkim-genkey --nosubdomains)\n"
            "  --restrict              s=email: the key serves email only (as opendkim-genkey\n"
            "                          --restrict)\n"
            "  --print-keytable        also print the KeyTable and SigningTable lines\n"
            "                          (OpenDKIM's format: dkim_key_table, dkim_signing_table)\n"
            "  --owner USER            make USER (and USER's group) own the private key, for a\n"
            "                          signer that reads keys as USER (needs root)\n"
            "  -c FILE                 configuration file (fwdauthd.conf(5)); not needed\n"
            "  --json                  print one JSON object: domain, selector, type, bits,\n"
            "                          private_key, record, zone_line (and keytable,\n"
            "                          signingtable with --print-keytable, owner with --owner)\n"
            "\n"
            "exit status: 0 key written, 2 usage or I/O error\n",
            KEY_RSA_MIN_BITS, KEY_RSA_MAX_BITS);
}

/* All of text to fd (the .txt file). */
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

/* The key record with the flags asked for: "v=DKIM1; k=rsa; t=y:s; s=email;
 * p=...". -1 when it does not fit. */
static int make_record(const struct fa_key *k, int testing, int nosub, int restrict_email,
                       char *out, size_t outsz)
{
    char plain[ZONE_LINE_MAX];
    if (key_dns_record(k, plain, sizeof(plain)) < 0)
        return -1;
    const char *p = strstr(plain, "p=");
    if (!p)
        return -1;
    char flags[64] = "";
    if (testing || nosub)
        snprintf(flags, sizeof(flags), "t=%s%s%s; ", testing ? "y" : "",
                 testing && nosub ? ":" : "", nosub ? "s" : "");
    if (restrict_email)
        strcat(flags, "s=email; ");
    int n = snprintf(out, outsz, "%.*s%s%s", (int)(p - plain), plain, flags, p);
    return n < 0 || (size_t)n >= outsz ? -1 : n;
}

/* Give the new key file to USER (uid and primary group), opened without
 * following a link: the name was ours a moment ago. */
static int give_key(const char *path, const struct passwd *pw, fa_err *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fa_err_errno(err, errno, "cannot open %s", path);
    int rc = fchown(fd, pw->pw_uid, pw->pw_gid);
    int e = errno;
    close(fd);
    if (rc < 0)
        return fa_err_errno(err, e, "cannot give %s to %s", path, pw->pw_name);
    return 0;
}

int cmd_dkim_keygen(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_TESTING, OPT_NOSUB, OPT_RESTRICT, OPT_PRINT_KEYTABLE, OPT_OWNER };
    static const struct option longopts[] = {
        {"domain", required_argument, NULL, 'd'},
        {"selector", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 't'},
        {"bits", required_argument, NULL, 'b'},
        {"directory", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, OPT_JSON},
        {"testing", no_argument, NULL, OPT_TESTING},
        {"testmode", no_argument, NULL, OPT_TESTING},
        {"no-subdomains", no_argument, NULL, OPT_NOSUB},
        {"nosubdomains", no_argument, NULL, OPT_NOSUB},
        {"restrict", no_argument, NULL, OPT_RESTRICT},
        {"print-keytable", no_argument, NULL, OPT_PRINT_KEYTABLE},
        {"owner", required_argument, NULL, OPT_OWNER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *domain = NULL, *selector = NULL, *dir = ".", *file = NULL, *owner = NULL;
    int type = KEY_RSA, json = 0, c, testing = 0, nosub = 0, restrict_email = 0, keytable = 0;
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
        case OPT_TESTING:
            testing = 1;
            break;
        case OPT_NOSUB:
            nosub = 1;
            break;
        case OPT_RESTRICT:
            restrict_email = 1;
            break;
        case OPT_PRINT_KEYTABLE:
            keytable = 1;
            break;
        case OPT_OWNER:
            owner = optarg;
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
    struct passwd pwbuf, *pw = NULL;
    if (owner) {
        struct passwd *found = getpwnam(owner);
        if (!found) {
            fprintf(stderr, "fwdauth dkim keygen: --owner: no user \"%s\"\n", owner);
            return EXIT_TROUBLE;
        }
        pwbuf = *found;
        pw = &pwbuf;
    }
    /* The KeyTable wants the key's absolute path (or ./ or ../). */
    char absdir[PATH_MAX] = "";
    if (keytable && !realpath(dir, absdir)) {
        fprintf(stderr, "fwdauth dkim keygen: %s: %s\n", dir, strerror(errno));
        return EXIT_TROUBLE;
    }

    fa_err err;
    struct fa_key *k = key_generate(type, bits, &err);
    if (!k) {
        fprintf(stderr, "fwdauth dkim keygen: %s\n", err.msg);
        return EXIT_TROUBLE;
    }
    char record[ZONE_LINE_MAX], zone[ZONE_LINE_MAX];
    char keypath[PATH_MAX], txtpath[PATH_MAX];
    char owner_name[600];
    snprintf(owner_name, sizeof(owner_name), "%s._domainkey.%s", selector, domain);
    int rn = make_record(k, testing, nosub, restrict_email, record, sizeof(record));
    if (rn < 0 || doctor_zone_txt(owner_name, record, (size_t)rn, zone, sizeof(zone) - 1) < 0) {
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
    if (key_write_private(k, keypath, &err) < 0 || (pw && give_key(keypath, pw, &err) < 0)) {
        fprintf(stderr, "fwdauth dkim keygen: %s\n", err.msg);
        if (pw && access(keypath, F_OK) == 0)
            unlink(keypath); /* written, but not as asked: leave nothing behind */
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
    /* OpenDKIM's tables: "NAME DOMAIN:SELECTOR:KEYFILE" and "PATTERN NAME",
     * the name as OpenDKIM's documentation writes it. */
    char kt_line[PATH_MAX + 1200] = "", st_line[1200] = "";
    if (keytable) {
        snprintf(kt_line, sizeof(kt_line), "%s %s:%s:%s/%s.private", owner_name, domain, selector,
                 strcmp(absdir, "/") == 0 ? "" : absdir, selector);
        snprintf(st_line, sizeof(st_line), "*@%s %s", domain, owner_name);
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
        if (keytable) {
            fputs(",\"keytable\":", stdout);
            cli_json_string(stdout, kt_line, strlen(kt_line));
            fputs(",\"signingtable\":", stdout);
            cli_json_string(stdout, st_line, strlen(st_line));
        }
        if (pw) {
            fputs(",\"owner\":", stdout);
            cli_json_string(stdout, pw->pw_name, strlen(pw->pw_name));
        }
        fputs("}\n", stdout);
    } else {
        puts(zone);
        if (keytable)
            printf("# KeyTable (dkim_key_table):\n%s\n"
                   "# SigningTable (dkim_signing_table):\n%s\n",
                   kt_line, st_line);
    }
    key_free(k);
    return EXIT_POSITIVE;
}
