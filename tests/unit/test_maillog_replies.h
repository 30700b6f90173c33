/* Receivers' replies as Postfix logs them, shared by test_maillog.c (the
 * parser and scanner) and test_maillog_class.c (their classification). */
#ifndef FWDAUTH_TEST_MAILLOG_REPLIES_H
#define FWDAUTH_TEST_MAILLOG_REPLIES_H

#define OUTLOOK_REPLY                                                                              \
    "host example-net.mail.protection.outlook.com[52.101.68.13] said: 550 5.7.509 Access "         \
    "denied, sending domain EXAMPLE.ORG does not pass DMARC verification and has a DMARC policy "  \
    "of reject. [AM4PEPF00027A5F.eurprd04.prod.outlook.com 2026-11-05T12:54:43.731Z "              \
    "08DCFD0A7E2F4B1C] (in reply to end of DATA command)"

#define GMAIL_REPLY                                                                                \
    "host gmail-smtp-in.l.google.com[142.250.102.27] said: 550-5.7.26 Unauthenticated email "      \
    "from example.org is not accepted due to domain's 550-5.7.26 DMARC policy. Please contact "    \
    "the administrator of example.org domain 550-5.7.26 if this was a legitimate mail. To learn "  \
    "about the DMARC initiative, 550 5.7.26 go to "                                                \
    "https://support.google.com/mail/?p=DmarcRejection "                                           \
    "a640c23a62f3a-a9a0f1c8e0dsi123456766b.512 - gsmtp (in reply to end of DATA command)"

#define GMAIL_DEFER_REPLY                                                                          \
    "host gmail-smtp-in.l.google.com[142.250.102.27] said: 421-4.7.26 Unauthenticated email "      \
    "from b.example is not accepted due to domain's 421-4.7.26 DMARC policy, but temporarily "     \
    "deferred 421 4.7.26 - gsmtp (in reply to end of DATA command)"

#define TIMEOUT_REPLY "connect to mx.slow.example[203.0.113.9]:25: Connection timed out"

#define UNKNOWN_USER_REPLY                                                                         \
    "host mx.dest.example[198.51.100.7] said: 550 5.1.1 <bob@dest.example>: Recipient address "    \
    "rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"

#endif
