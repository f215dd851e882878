//go:build race

package store

// raceDetector says the tests run under the race detector, which makes
// the embedded store (SQLite compiled to Go) many times slower.
const raceDetector = true
