// Package ari connects screenpop to Asterisk's REST interface: it reads the
// events websocket, turns ARI JSON into screenpop.Event values, and carries
// out REST commands (continue a channel, set a variable, list channels).
// A box's events websocket is either dialled by the daemon (inbound) or
// dialled by Asterisk (outbound websocket, OutboundServer), with REST over
// that websocket; every box is bound to its Asterisk's entity ID
// (Identities).
//
// Events are decoded with github.com/go-json-experiment/json (what
// encoding/json/v2 will be) into the package's own small structs holding
// only what call tracking reads (decode.go), not into the library's event
// types, which decode each channel twice and allocate 46 times an event
// (Decode: 4).
// The README gives the measures; the agreement tests hold the decoder to
// the library's reading of every recorded event.
//
// ARI JSON and the github.com/CyCoreSystems/ari/v5 types stay inside this
// package. It must never import store, and nothing outside it may import
// the ari/v5 library.
package ari
