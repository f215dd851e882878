// Package screenpop is the core of the daemon: it follows each inbound call
// across its legs, decides which operators it was offered to and how it
// ended, and hands finished calls to a call log.
//
// It knows nothing of ARI JSON, SQL or HTTP. The ari package turns Asterisk's
// events into Event values; the spool package implements CallLog, into the
// store. This package must never import ari, spool nor store.
package screenpop
