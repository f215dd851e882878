// Package arisim is an Asterisk ARI simulator: it stands in for Asterisk 22
// on loopback, so that demos, tests and load runs drive the daemon through
// exactly the ARI client code it uses in production (ari.NewClient with
// http://127.0.0.1:PORT/ari), and it generates calls whose ARI events have
// the shapes, and as far as they are deterministic the order, of the real
// traces in ari/testdata/traces.
//
// It answers the REST calls the daemon makes (asterisk/info, channels, bridges,
// continue, variable, eventFilter, subscription, applications, originate),
// with Basic auth and Asterisk's error statuses, and serves the events
// websocket: a text frame per event, Asterisk's timestamp format, pings
// answered, nothing replayed after a reconnect, the application's event
// filter and subscriptions dropped when its socket closes.
//
// It can also be an Asterisk that dials the daemon (Outbound: ari.conf
// type = outbound_websocket, persistent): Basic auth and the ari
// subprotocol, events queued while disconnected and written first on the
// next connection, REST requests answered over the websocket. Its entity
// ID (Config.EntityID) is configurable, for tests of several boxes.
//
// Calls are scripted from the recorded traces (Place), one scenario at a
// time, or generated at a rate with a seeded scenario mix (Run). See Call
// for the scenarios and Config.Speed for time compression.
//
// This package is a test and demo tool. The daemon's production path must
// never import it; the one exception is `screenpopd demo`, which runs the
// daemon against it. It imports only the standard library and
// gorilla/websocket: never ari, screenpop or store.
package arisim
