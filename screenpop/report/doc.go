// Package report is the reports' figures of the call log, and how they
// are worked out: the Summary of the inbound calls of a range of local
// days by source, day, hour of day and operator, with the service level,
// distinct callers, call backs and purposes, and the tables the CSV
// export gives of it.
//
// A store aggregates the calls in SQL by local hour, over the instants a
// Grid gives, and hands the rows it reads (HourRow, OperatorRow, ...) to
// a Fold, which folds them into a Summary. Nothing here needs a database,
// so the folding is tested on rows written by hand.
//
// It knows calls through the screenpop package only. It must never import
// store, ari, a database driver, nor web.
package report
