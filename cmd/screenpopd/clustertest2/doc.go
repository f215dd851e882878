// Package clustertest2 holds more end-to-end tests of clustered mode, as
// clustertest does and with its rig (internal/replicas and
// internal/oracletest): operators' pages on every replica through
// replica kills. It is a package of its own so that each package keeps
// within go test's ten minutes on a loaded machine. It has no code but
// its tests.
package clustertest2
