// Package synth makes up a client base for a Russian car dealership: people
// with their phones, cars, visits, contacts and complaints, the same every
// time for a given seed, so that the demo, the tests and the benchmarks all
// meet the same clients and can ring their numbers.
//
// It is demo and test data, never production data: the people, numbers,
// plates and VINs are invented, and must never be imported into a real
// dealership's client base or mistaken for one.
//
// It imports only the screenpop package and the standard library: it must
// never import store, ari or anything that reaches outside the process.
package synth
