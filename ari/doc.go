// Package ari connects screenpop to Asterisk's REST interface: it reads the
// events websocket, turns ARI JSON into screenpop.Event values, and carries
// out REST commands (continue a channel, set a variable, list channels).
//
// ARI JSON and the github.com/CyCoreSystems/ari/v5 types stay inside this
// package. It must never import store, and nothing outside it may import
// the ari/v5 library.
package ari
