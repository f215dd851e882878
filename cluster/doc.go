// Package cluster runs the daemon as one replica of a cluster on NATS
// (clustered mode, cluster.nats_url set): several replicas serve the
// same Asterisk boxes, and any of them may stop or die without a call
// or a pop being lost.
//
// For each box, a replica
//
//   - follows the box's log and tracks its calls, whether or not it
//     holds the box: every replica's call tracking is a copy of the
//     holder's, so that a standby takes over with nothing to replay;
//   - stands by for the box's lease (natsbus.Lease, whose revision is
//     the fencing epoch), and while it holds it reads that Asterisk into
//     the log and acts on the calls (the output duty: pops, Stasis, call
//     records, unseen periods); different boxes may be held by different
//     replicas;
//   - on SIGTERM, hands the box over: it frees the lease, and when the
//     next holder's connection makes Asterisk drop ours, appends what it
//     read and marks the log, so that the next holder's events follow
//     ours without a gap (handover.go);
//   - with Asterisk's outbound websockets, takes the lease when
//     Asterisk's connection comes to it and the lease is free, and turns
//     the connection away while another replica holds it (outbound.go).
//
// Every replica serves operators' pages, with the pops of every box,
// from the screens stream, writes call records from the calls stream
// into PostgreSQL, beats in the replicas' bucket, and hands a box over
// when it holds more than its share (the balancer, box.go). Its /readyz,
// admin page and metrics say what it and the other replicas hold
// (ops.go).
//
// The daemon (cmd/screenpopd) reads the config and builds the store,
// the client directory and the staff's pages; this package takes them as
// plain config structs and arguments, and never imports viper: it reads
// no config of its own.
package cluster
