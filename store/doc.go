// Package store is the call log: it keeps every finished call, with the
// offers made to operators, in a database, and reads it back.
//
// Two stores behave the same and pass the same tests: Postgres, the
// production store, and SQLite, an embedded file for the default setup and
// the demo. Both create their own schema (Migrate) from migrations built into
// the binary.
//
// The tracker must never wait on a database, so calls reach a store through a
// Writer: Record appends the call to an on-disk Spool and returns; the
// Writer's Run loop saves spooled calls in batches and retries while the
// database is away. SaveCalls skips a call whose call_id is already stored,
// so a batch delivered twice (after a crash between the database commit and
// the spool's cursor moving on) still leaves each call stored exactly once.
//
// The same stores hold the client base the pop looks callers up in
// (screenpop.Directory): ImportClients loads clients with their history in
// batches, LookupPhone answers a pop in one statement through indexes, and
// Client reads a client back. They also hold the operators, whose page
// tokens are kept only as SHA-256 hashes.
//
// For analysts and admins: sources map dialled numbers to the advertising
// behind them by date (AddSource, SeedSources), and SaveCalls stores each
// call with the source valid when it started and the caller's kind; Calls
// lists the call log by filter in keyset pages or as a stream for CSV
// exports; Summary aggregates it for the reports page; migration 0006 adds
// SQL views for analysts' own tools; staff tokens (AddStaff,
// StaffByToken) open all of it. MergeClients imports a dealership's client
// export (ReadClientCSV reads it, WriteRejects reports refused rows) by
// merging on normalised numbers, and CRM is a read-only screenpop.Directory
// over an admin's SQL query in the dealership's own CRM database.
//
// This package knows calls through the screenpop package only. It must never
// import ari, nor the ARI library: Asterisk's vocabulary stops at the ari
// package.
package store
