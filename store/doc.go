// Package store is the call log: it keeps every finished call, with the
// offers made to operators, in a database, and reads it back.
//
// Two stores behave the same and pass the same tests: Postgres, the
// production store, and SQLite, an embedded file for the default setup and
// the demo. Both create their own schema (Migrate) from migrations built into
// the binary, one set per engine.
//
// Each store operation is written once, on sqlStore, over a small query
// interface (querier, tx) with an adapter per driver: pgx, and
// database/sql for SQLite. The SQL is written once with $1, $2 (SQLite
// binds them by number too); a dialect holds the few fragments that
// really differ (list matching, LATERAL joins, advisory locks, reserving
// IDs). SQLite keeps times and lists as text: its adapter passes and scans
// them through the sqliteTime and sqliteList column types. SQLite writes
// through one connection and runs the pop's reads (LookupPhone,
// ClientCalls, ServedClient) on read-only ones beside it (sqlStore.reader),
// so a report or a batch of calls never holds a caller's lookup up. The reports
// (Summary) are written once too: they read the roll-ups (rollups.go; of
// whole local days, rollup_days.go), and each engine's reportDialect
// gives the raw rows' queries and the roll-ups' upkeep in its own words. The store only reads the rows: the report
// package folds them into a report.Summary.
//
// OpenSeeded, OpenFor and Check open the configured store for the daemon and the
// commands; Lazy is the daemon's store while the database may still be
// away.
//
// The tracker must never wait on a database, so calls reach a store through
// the spool package's Writer, which knows a store as a spool.Saver. A call is
// keyed (pbx, call_id): the Asterisk box it was on (screenpop.Call.PBX,
// empty with one box) and its linkedid, which boxes started in the same
// second share (migration 0017). SaveCalls skips a call whose (pbx,
// call_id) is already stored, so a batch delivered twice (after a crash
// between the database commit and the spool's cursor moving on) still
// leaves each call stored exactly once; Refused tells the Writer a record
// the database will never take from a database that is away.
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
// export (the clientcsv package reads it into screenpop.ImportRow values) by
// merging on normalised numbers, and CRM is a read-only screenpop.Directory
// over an admin's SQL query in the dealership's own CRM database;
// CRMDirectory falls back from it to the store, and PostgresProblem says
// what a PostgreSQL error means for the setting that caused it.
//
// This package knows calls through the screenpop package only. It must never
// import ari, nor the ARI library: Asterisk's vocabulary stops at the ari
// package.
package store
