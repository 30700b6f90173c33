/* Unit tests for maillog_class: the failure classification table on real
 * receivers' replies (Microsoft, Gmail, Yahoo, generic), codes matched
 * whole, the permanent/temporary rules, the catch-all, category names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "maillog_class.h"
#include "test_maillog_replies.h"

#include <string.h>

/* -------------------------------------------------------- classification */

static enum ml_category cls(const char *dsn, const char *reply, int temporary)
{
    const struct ml_rule *r = maillog_classify(dsn, strlen(dsn), reply, strlen(reply), temporary);
    assert_non_null(r);
    assert_non_null(r->label);
    return r->category;
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(cls("5.7.509", OUTLOOK_REPLY, 0), ML_CAT_DMARC);
    assert_int_equal(cls("5.7.26", GMAIL_REPLY, 0), ML_CAT_DMARC);
    assert_int_equal(cls("4.7.26", GMAIL_DEFER_REPLY, 1), ML_CAT_DMARC);
    assert_int_equal(cls("5.7.9",
                         "host mta7.am0.yahoodns.net[67.195.204.77] said: 554 5.7.9 Message not "
                         "accepted for policy reasons.  See "
                         "https://postmaster.yahooinc.com/error-codes (in reply to end of DATA "
                         "command)",
                         0),
                     ML_CAT_DMARC);
    assert_int_equal(cls("5.7.27",
                         "host gmail-smtp-in.l.google.com[142.250.102.27] said: 550-5.7.27 "
                         "The sender hit SPF hard fail - gsmtp (in reply to end of DATA command)",
                         0),
                     ML_CAT_SPF);
    assert_int_equal(cls("5.7.23",
                         "host mx.b.example[192.0.2.9] said: 550 5.7.23 The message was rejected "
                         "because of Sender Policy Framework violation (in reply to MAIL FROM "
                         "command)",
                         0),
                     ML_CAT_SPF);
    assert_int_equal(cls("5.7.30",
                         "host gmail-smtp-in.l.google.com[142.250.102.27] said: 550-5.7.30 This "
                         "mail has been blocked because the sender is unauthenticated. DKIM "
                         "check did not pass - gsmtp (in reply to end of DATA command)",
                         0),
                     ML_CAT_DKIM);
    assert_int_equal(cls("5.7.20", "550 5.7.20 No passing DKIM signature found", 0), ML_CAT_DKIM);
    assert_int_equal(cls("5.7.21", "550 5.7.21 No acceptable DKIM signature found", 0),
                     ML_CAT_DKIM);
    assert_int_equal(cls("5.7.22", "550 5.7.22 No valid author-matched DKIM signature found", 0),
                     ML_CAT_DKIM);
    assert_int_equal(cls("5.7.32",
                         "host gmail-smtp-in.l.google.com[142.250.102.27] said: 550-5.7.32 "
                         "Your email has been rejected because the sender's From address is "
                         "not aligned - gsmtp (in reply to end of DATA command)",
                         0),
                     ML_CAT_ALIGNMENT);
    assert_int_equal(cls("5.7.515",
                         "host example-net.mail.protection.outlook.com[52.101.68.13] said: 550 "
                         "5.7.515 Access denied, sending domain [EXAMPLE.ORG] doesn't meet the "
                         "required authentication level. (in reply to end of DATA command)",
                         0),
                     ML_CAT_BULK);
    assert_int_equal(cls("5.7.1",
                         "host mx.b.example[192.0.2.9] said: 554 5.7.1 Service unavailable; "
                         "Client host [192.0.2.1] blocked using zen.spamhaus.org (in reply to "
                         "RCPT TO command)",
                         0),
                     ML_CAT_POLICY);
    /* A generic 5.7.1 whose text says DMARC is a DMARC failure. */
    assert_int_equal(cls("5.7.1",
                         "host mx.b.example[192.0.2.9] said: 550 5.7.1 Email rejected per DMARC "
                         "policy for example.org (in reply to end of DATA command)",
                         0),
                     ML_CAT_DMARC);
    assert_int_equal(cls("5.7.1", "550 5.7.1 rejected: dmarc policy violation", 0), ML_CAT_DMARC);
    /* Codes are matched whole: 7.2 is not 7.26, 7.50 is not 7.509. */
    assert_int_equal(cls("5.7.2", "550 5.7.2 mailing list expansion prohibited", 0), ML_CAT_POLICY);
    assert_int_equal(cls("5.7.50", "550 5.7.50 denied", 0), ML_CAT_POLICY);
    /* Other 7.x codes are policy when permanent, a deferral when temporary
     * (the generic rule; specific codes keep their category in both classes). */
    assert_int_equal(cls("4.7.1", "451 4.7.1 Service unavailable - try again later", 1),
                     ML_CAT_DEFERRAL);
    assert_int_equal(cls("5.1.1", UNKNOWN_USER_REPLY, 0), ML_CAT_MAILBOX);
    assert_int_equal(cls("5.2.2",
                         "host mx.b.example[192.0.2.9] said: 552 5.2.2 <u@b.example>: Mailbox "
                         "full (in reply to RCPT TO command)",
                         0),
                     ML_CAT_MAILBOX);
    assert_int_equal(cls("4.4.1", TIMEOUT_REPLY, 1), ML_CAT_DEFERRAL);
    assert_int_equal(cls("4.0.0", "451 4.0.0 try later", 1), ML_CAT_DEFERRAL);
    assert_int_equal(cls("5.0.0", "550 5.0.0 go away", 0), ML_CAT_OTHER);
    assert_int_equal(cls("", "", 0), ML_CAT_OTHER);
    assert_int_equal(cls("", "", 1), ML_CAT_DEFERRAL);

    /* The rule names the code it matched. */
    const struct ml_rule *r =
        maillog_classify("5.7.509", 7, OUTLOOK_REPLY, strlen(OUTLOOK_REPLY), 0);
    assert_non_null(r->code);
    assert_string_equal(r->code, "7.509");
}

static void test_category_names(void **state)
{
    (void)state;
    static const char *const names[ML_CAT_COUNT] = {
        "dmarc", "spf", "dkim", "alignment", "bulk", "policy", "mailbox", "deferral", "other"};
    for (int c = 0; c < ML_CAT_COUNT; c++) {
        assert_string_equal(maillog_category_name((enum ml_category)c), names[c]);
        assert_int_equal(maillog_category_is_auth((enum ml_category)c) != 0, c <= ML_CAT_BULK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_category_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
