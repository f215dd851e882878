// Package web is the operators' face of screenpop: the pop page, served
// from embedded files with no build step, and the websocket that streams
// each operator's calls from the screenpop.Hub; and the supervisors'
// wallboard (Wallboard), which streams a screenpop.Board every second.
// The pages are ES modules that share static/page.js: their texts, signing
// in, the API and its error texts, and the live socket.
//
// It speaks HTTP and websockets only; it must never import ari or store.
// Operators are authenticated through the Authenticator it is given.
package web
