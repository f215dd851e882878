// Package natsbus runs screenpop as a cluster of replicas on NATS
// JetStream: per Asterisk box, a lease in a key-value bucket (its revision
// is the fencing epoch) says which replica reads the box; the holder
// appends every event to the box's log (stream SP_EVENTS) before any
// replica tracks it; the holder's screen messages go to SP_SCREENS, which
// keeps each operator's latest message per call and republishes each to
// the replicas serving that operator's pages; finished call records go
// through SP_CALLS, de-duplicated by call, to a writer on any replica
// that acks them once the database has them, and so do the periods when
// a box's events were not seen. Each box has its own lease, log and
// records; the bucket SP_BOXES binds each box's name to its Asterisk's
// entity ID for the whole cluster.
//
// Streams, buckets and durable consumers are made when the bus connects,
// never on the pop path. Only features of nats-server 2.9 are used.
//
// It implements the seams of package screenpop (EventLog, Lease,
// ScreenSink, CallLog) and imports neither ari nor store.
package natsbus
