// Package spool carries finished calls from the tracker to the database
// without the tracker ever waiting on either: Writer is the call log the
// tracker records into (screenpop.CallLog, screenpop.UnseenLog); Record
// appends the call to an on-disk Spool and returns, and the Writer's Run
// loop saves spooled calls in batches through a Saver (the store), retrying
// while the database is away and setting aside a record the database
// refuses.
//
// A call recorded is never lost while the disk holds: a process crash loses
// nothing, a batch delivered again after a crash is stored once because the
// Saver skips calls it already has, and a full spool is counted and logged
// (Dropped), never silent.
//
// The spool is files on disk (JSON lines, fsync, a lock against a second
// daemon), so it is a package of its own, beside the store it feeds. It
// knows calls through the screenpop package only and knows the database
// only through Saver: it must never import store, ari, nor any SQL driver.
package spool
