/*
 * NAME
 *   proctitle - what ps(1) shows for each fwdauthd process
 * SUMMARY
 *   proctitle_init takes over the memory of argv and environ at start;
 *   proctitle_set then writes a title such as "fwdauthd: worker" there
 *   (what `ps -ef`, `ps aux` and /proc/PID/cmdline show) and sets the
 *   thread name (prctl PR_SET_NAME: what `ps -e`, top and
 *   /proc/PID/comm show), so that the master, the signer and the workers
 *   can be told apart.
 * SYNOPSIS
 *   int main(int argc, char **argv) { proctitle_init(argc, argv); ... }
 *   proctitle_set("fwdauthd-worker", "fwdauthd: worker");
 * DESCRIPTION
 *   As sshd and Postfix do: the strings of argv and environ lie one after
 *   another; proctitle_init copies environ to the heap (getenv keeps
 *   working) and remembers that area; proctitle_set writes the title into
 *   it, cut to its size, and fills the rest with NULs. Call
 *   proctitle_init before anything reads argv again (getopt is done with
 *   it by then) and proctitle_set before a process starts threads (the
 *   name is per thread; new threads inherit it). The thread name is cut
 *   at 15 octets by the kernel.
 * DIAGNOSTICS
 *   None: without an area (argv not where expected) the title is left
 *   alone and only the thread name changes.
 */
#ifndef FWDAUTHD_PROCTITLE_H
#define FWDAUTHD_PROCTITLE_H

void proctitle_init(int argc, char **argv);
void proctitle_set(const char *comm, const char *title);

#endif
